package s3api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/authz"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/objects"
	"github.com/cloudraya/raya/gateway/s3err"
)

// reservedBuckets collide with the fixed endpoints of path-style routing.
var reservedBuckets = map[string]bool{"healthz": true, "readyz": true, "metrics": true}

// loadBucket loads a bucket and its backend, without authorization.
func (h *Handler) loadBucket(q *request, name string) (*meta.Bucket, backends.Backend, error) {
	b, err := h.opts.Store.GetBucket(q.r.Context(), name)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil, s3err.NoSuchBucket.WithBucket(name)
	}
	if err != nil {
		return nil, nil, storeError(err)
	}
	be, ok := h.opts.Backends[b.Backend]
	if !ok {
		return nil, nil, s3err.ServiceUnavailable.With("The backend of this bucket is not configured on this gateway.")
	}
	return b, be, nil
}

// bucketOf loads a bucket on which the caller holds perm (ownerOnly: the
// owner's rights), with its backend.
func (h *Handler) bucketOf(q *request, name, perm string) (*meta.Bucket, backends.Backend, error) {
	b, be, err := h.loadBucket(q, name)
	if err != nil {
		return nil, nil, err
	}
	allowed := authz.IsOwner(q.caller, b)
	if !allowed && perm != ownerOnly {
		allowed = authz.Granted(q.caller, b.ACL, perm, h.ignorePublic(b))
	}
	if !allowed {
		return nil, nil, s3err.AccessDenied
	}
	return b, be, nil
}

// storeError turns a metadata store failure into a fail-closed 503.
func storeError(err error) error {
	e := *s3err.ServiceUnavailable
	e.Message = "The metadata store is unavailable. Please retry."
	e.RetryAfter = 1
	return errors.Join(&e, errMetaUnavailable, err)
}

func (h *Handler) ownerOf(q *request, accountID string) owner {
	o := owner{ID: accountID}
	if a, err := h.opts.Store.GetAccount(q.r.Context(), accountID); err == nil {
		o.DisplayName = a.DisplayName
	}
	return o
}

func (h *Handler) listBuckets(q *request) error {
	if q.caller == nil {
		return s3err.AccessDenied
	}
	all, err := h.opts.Store.ListBuckets(q.r.Context())
	if err != nil {
		return storeError(err)
	}
	prefix := q.get("prefix")
	res := listAllMyBucketsResult{NS: s3NS, Owner: h.ownerOf(q, q.caller.Account)}
	res.Buckets = []bucketItem{}
	for i := range all {
		b := &all[i]
		if !authz.CanSeeBucket(q.caller, b) || !strings.HasPrefix(b.Name, prefix) {
			continue
		}
		res.Buckets = append(res.Buckets, bucketItem{Name: b.Name, CreationDate: isoTime(b.CreatedAt), BucketRegion: h.regionOf(b)})
	}
	return writeXML(q.w, http.StatusOK, res)
}

func (h *Handler) regionOf(b *meta.Bucket) string {
	if b.Region != "" {
		return b.Region
	}
	return h.opts.Region
}

func (h *Handler) createBucket(q *request) error {
	if q.caller == nil || !authz.CanCreateBucket(q.caller) {
		return s3err.AccessDenied
	}
	name := q.bucket
	if !objects.ValidBucketName(name) || reservedBuckets[name] {
		return s3err.InvalidBucketName.WithBucket(name)
	}
	acl, err := h.requestACL(q, q.caller.Account)
	if err != nil {
		return err
	}
	if authz.IsPublic(acl) && h.opts.BlockPublicAccess {
		return s3err.AccessDenied.With("Public grants are blocked by the public access block.")
	}
	if authz.IsPrivate(acl) {
		acl = nil
	}
	backend, region := h.opts.DefaultBackend, ""
	if q.auth.ContentLength != 0 {
		var cfg createBucketConfiguration
		if err := readXML(q.auth.Body, &cfg); err != nil && !errors.Is(err, s3err.MissingRequestBodyError) {
			return err
		}
		switch lc := cfg.LocationConstraint; {
		case lc == "" || lc == h.opts.Region:
		case h.opts.Backends[lc] != nil:
			backend = lc
		default:
			return s3err.InvalidLocationConstraint.With("The specified location constraint is not valid: use the gateway's region (" + h.opts.Region + ") or a backend name.")
		}
		region = cfg.LocationConstraint
	}
	b := meta.Bucket{Name: name, Owner: q.caller.Account, Backend: backend, Region: region, CreatedAt: h.opts.Now().UTC(), ACL: acl}
	ctx := q.r.Context()
	if err := h.opts.Store.CreateBucket(ctx, b); err != nil {
		if !errors.Is(err, meta.ErrExists) {
			return storeError(err)
		}
		if old, gerr := h.opts.Store.GetBucket(ctx, name); gerr == nil && old.Owner == q.caller.Account {
			return s3err.BucketAlreadyOwnedByYou.WithBucket(name)
		}
		return s3err.BucketAlreadyExists.WithBucket(name)
	}
	if err := h.opts.Backends[backend].CreateBucket(ctx, name); err != nil && !errors.Is(err, backends.ErrBucketExists) {
		// Give the name back: the bucket does not exist anywhere.
		_ = h.opts.Store.DeleteBucket(ctx, name)
		return err
	}
	q.w.Header().Set("Location", "/"+name)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) headBucket(q *request) error {
	b, _, err := h.bucketOf(q, q.bucket, meta.PermRead)
	if err != nil {
		return err
	}
	q.w.Header().Set("x-amz-bucket-region", h.regionOf(b))
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteBucket(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, ownerOnly)
	if err != nil {
		return err
	}
	if q.caller.Bucket != "" {
		// A key scoped to a bucket uses it; it does not delete it.
		return s3err.AccessDenied
	}
	ctx := q.r.Context()
	// The backend refuses atomically while objects remain; only then is the
	// name released, so no object is ever left without its bucket record.
	if err := be.DeleteBucket(ctx, b.Name); err != nil && !errors.Is(err, backends.ErrBucketNotFound) {
		return err
	}
	if err := h.opts.Store.DeleteBucket(ctx, b.Name); err != nil && !errors.Is(err, meta.ErrNotFound) {
		return storeError(err)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getBucketLocation(q *request) error {
	b, _, err := h.bucketOf(q, q.bucket, ownerOnly)
	if err != nil {
		return err
	}
	v := h.regionOf(b)
	if v == "us-east-1" {
		v = ""
	}
	return writeXML(q.w, http.StatusOK, locationConstraint{NS: s3NS, Value: v})
}

func (h *Handler) getBucketVersioning(q *request) error {
	if _, _, err := h.bucketOf(q, q.bucket, ownerOnly); err != nil {
		return err
	}
	return writeXML(q.w, http.StatusOK, versioningConfiguration{NS: s3NS})
}
