package s3api

import (
	"errors"
	"io"
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

// bucketOf loads a bucket the caller may use, with its backend.
func (h *Handler) bucketOf(q *request, name string) (*meta.Bucket, backends.Backend, error) {
	b, err := h.opts.Store.GetBucket(q.r.Context(), name)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil, s3err.NoSuchBucket.WithBucket(name)
	}
	if err != nil {
		return nil, nil, storeError(err)
	}
	if !authz.CanAccessBucket(q.caller, b) {
		return nil, nil, s3err.AccessDenied
	}
	be, ok := h.opts.Backends[b.Backend]
	if !ok {
		return nil, nil, s3err.ServiceUnavailable.With("The backend of this bucket is not configured on this gateway.")
	}
	return b, be, nil
}

// storeError turns a metadata store failure into a fail-closed 503.
func storeError(err error) error {
	e := *s3err.ServiceUnavailable
	e.Message = "The metadata store is unavailable. Please retry."
	e.RetryAfter = 1
	return errors.Join(&e, err)
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
	if err := checkCannedACL(q.r.Header); err != nil {
		return err
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
	b := meta.Bucket{Name: name, Owner: q.caller.Account, Backend: backend, Region: region, CreatedAt: h.opts.Now().UTC()}
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
	b, _, err := h.bucketOf(q, q.bucket)
	if err != nil {
		return err
	}
	q.w.Header().Set("x-amz-bucket-region", h.regionOf(b))
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteBucket(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket)
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
	b, _, err := h.bucketOf(q, q.bucket)
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
	if _, _, err := h.bucketOf(q, q.bucket); err != nil {
		return err
	}
	return writeXML(q.w, http.StatusOK, versioningConfiguration{NS: s3NS})
}

// privateACL is the ACL of everything in Raya until grants are stored: the
// owner has full control and nobody else has anything.
func (h *Handler) privateACL(q *request, ownerID string) accessControlPolicy {
	o := h.ownerOf(q, ownerID)
	return accessControlPolicy{NS: s3NS, Owner: o, Grants: []grant{{
		Grantee:    grantee{XMLNS: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
		Permission: "FULL_CONTROL",
	}}}
}

func (h *Handler) getBucketACL(q *request) error {
	b, _, err := h.bucketOf(q, q.bucket)
	if err != nil {
		return err
	}
	return writeXML(q.w, http.StatusOK, h.privateACL(q, b.Owner))
}

func (h *Handler) getObjectACL(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket)
	if err != nil {
		return err
	}
	if _, err := be.HeadObject(q.r.Context(), b.Name, q.key); err != nil {
		return err
	}
	return writeXML(q.w, http.StatusOK, h.privateACL(q, b.Owner))
}

// putACL accepts only what keeps things private: the canned ACLs that grant
// nothing beyond the owner.
func (h *Handler) putACL(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket)
	if err != nil {
		return err
	}
	if q.key != "" {
		if _, err := be.HeadObject(q.r.Context(), b.Name, q.key); err != nil {
			return err
		}
	}
	if err := checkCannedACL(q.r.Header); err != nil {
		return err
	}
	if q.r.Header.Get("X-Amz-Acl") == "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(q.auth.Body, maxXMLBody))
		return s3err.NotImplemented.With("Only the canned ACL private is supported: everything is private.")
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// checkCannedACL refuses ACL headers that would grant access to others:
// everything is private.
func checkCannedACL(h http.Header) error {
	switch strings.ToLower(h.Get("X-Amz-Acl")) {
	case "", "private", "bucket-owner-full-control", "bucket-owner-read":
	default:
		return s3err.NotImplemented.With("Only private ACLs are supported: x-amz-acl " + h.Get("X-Amz-Acl") + " is not.")
	}
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-grant-") {
			return s3err.NotImplemented.With("x-amz-grant-* headers are not supported: everything is private.")
		}
	}
	return nil
}
