package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/authz"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/s3err"
)

// ownerOnly is the permission of operations only the owner may perform.
const ownerOnly = ""

var grantHeaders = map[string]string{
	"X-Amz-Grant-Read":         meta.PermRead,
	"X-Amz-Grant-Write":        meta.PermWrite,
	"X-Amz-Grant-Read-Acp":     meta.PermReadACP,
	"X-Amz-Grant-Write-Acp":    meta.PermWriteACP,
	"X-Amz-Grant-Full-Control": meta.PermFullControl,
}

var errEmailGrantee = s3err.FromCode("UnresolvableGrantByEmailAddress", "Email address grantees are not supported: grant to a canonical user ID or a group.").WithStatus(400)

// parseGrantee reads one grantee of an x-amz-grant-* header: id="...",
// uri="..." or emailAddress="...".
func (h *Handler) parseGrantee(ctx context.Context, s string) (meta.Grant, error) {
	typ, val, ok := strings.Cut(strings.TrimSpace(s), "=")
	val = strings.Trim(strings.TrimSpace(val), `"`)
	if !ok || val == "" {
		return meta.Grant{}, s3err.InvalidArgument.With("Invalid grantee in an x-amz-grant-* header: " + s)
	}
	switch strings.ToLower(strings.TrimSpace(typ)) {
	case "id":
		return meta.Grant{ID: val}, h.checkCanonicalID(ctx, val)
	case "uri":
		if val != meta.AllUsers && val != meta.AuthenticatedUsers {
			return meta.Grant{}, s3err.InvalidArgument.With("Only the AllUsers and AuthenticatedUsers groups can be granted access.")
		}
		return meta.Grant{URI: val}, nil
	case "emailaddress":
		return meta.Grant{}, errEmailGrantee
	}
	return meta.Grant{}, s3err.InvalidArgument.With("Invalid grantee type in an x-amz-grant-* header: " + typ)
}

func (h *Handler) checkCanonicalID(ctx context.Context, id string) error {
	if _, err := h.opts.Store.GetAccount(ctx, id); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return s3err.InvalidArgument.With("Invalid id: no account has the canonical ID " + id)
		}
		return storeError(err)
	}
	return nil
}

// requestACL reads the ACL a request asks for through x-amz-acl or the
// x-amz-grant-* headers; nil when it names none.
func (h *Handler) requestACL(q *request, owner string) (*meta.ACL, error) {
	canned := q.r.Header.Get("X-Amz-Acl")
	var grants []meta.Grant
	for name, perm := range grantHeaders {
		for _, v := range q.r.Header.Values(name) {
			for _, g := range strings.Split(v, ",") {
				if strings.TrimSpace(g) == "" {
					continue
				}
				gr, err := h.parseGrantee(q.r.Context(), g)
				if err != nil {
					return nil, err
				}
				gr.Permission = perm
				grants = append(grants, gr)
			}
		}
	}
	switch {
	case canned != "" && len(grants) > 0:
		return nil, s3err.InvalidRequest.With("Specifying both Canned ACLs and Header Grants is not allowed")
	case canned != "":
		acl, err := authz.Canned(canned, owner)
		if err != nil {
			return nil, s3err.InvalidArgument.With("Invalid canned ACL: " + canned)
		}
		return acl, nil
	case len(grants) > 0:
		return &meta.ACL{Owner: owner, Grants: grants}, nil
	}
	return nil, nil
}

// newObjectACL returns the ACL a write asks for (nil: private), refused
// when the public-access guard forbids it.
func (h *Handler) newObjectACL(q *request, b *meta.Bucket) (*meta.ACL, error) {
	acl, err := h.requestACL(q, b.Owner)
	if err != nil {
		return nil, err
	}
	return acl, h.guardPublic(b, acl)
}

// saveBucket stores a changed bucket record and answers a configuration
// PUT (200) or DELETE (204).
func (h *Handler) saveBucket(q *request, b meta.Bucket) error {
	if err := h.opts.Store.UpdateBucket(q.r.Context(), b); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return s3err.NoSuchBucket
		}
		return storeError(err)
	}
	if q.r.Method == http.MethodDelete {
		q.w.WriteHeader(http.StatusNoContent)
	} else {
		q.w.WriteHeader(http.StatusOK)
	}
	return nil
}

// guardPublic refuses a public ACL where the public-access guard is on,
// deployment-wide or for the bucket.
func (h *Handler) guardPublic(b *meta.Bucket, acl *meta.ACL) error {
	if !authz.IsPublic(acl) {
		return nil
	}
	if h.opts.BlockPublicAccess || (b.PublicAccessBlock != nil && b.PublicAccessBlock.BlockPublicAcls) {
		return s3err.AccessDenied.With("Public grants are blocked by the public access block.")
	}
	return nil
}

// ignorePublic reports whether public grants are ignored for bucket b.
func (h *Handler) ignorePublic(b *meta.Bucket) bool {
	return h.opts.BlockPublicAccess || (b.PublicAccessBlock != nil && b.PublicAccessBlock.IgnorePublicAcls)
}

// objectACL returns the ACL that applies to the stored object described by
// info: its record when bound to this very object, else nil (private).
// Failing to read the record fails closed.
func (h *Handler) objectACL(ctx context.Context, b *meta.Bucket, key string, info *backends.ObjectInfo) (*meta.ACL, error) {
	rec, err := h.opts.Store.GetObjectACL(ctx, b.Name, key)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeError(err)
	}
	if rec.ETag != info.ETag || !rec.LastModified.Equal(info.LastModified) {
		return nil, nil // a grant of an earlier object under this key
	}
	return &rec.ACL, nil
}

// objectAllows checks perm on a stored object for the caller.
func (h *Handler) objectAllows(q *request, b *meta.Bucket, key string, info *backends.ObjectInfo, perm string) error {
	if authz.IsOwner(q.caller, b) {
		return nil
	}
	acl, err := h.objectACL(q.r.Context(), b, key, info)
	if err != nil {
		return err
	}
	if !authz.Granted(q.caller, acl, perm, h.ignorePublic(b)) {
		return s3err.AccessDenied
	}
	return nil
}

// applyObjectACL binds acl to a newly written object, after the object
// exists (permit last). A private write costs no store round trip: a record
// left from an earlier object under the key is bound to that object's ETag
// and modification time and never applies to this one.
func (h *Handler) applyObjectACL(ctx context.Context, bucket, key string, info *backends.ObjectInfo, acl *meta.ACL) error {
	if acl == nil || authz.IsPrivate(acl) {
		return nil
	}
	err := h.opts.Store.PutObjectACL(ctx, bucket, key, meta.ObjectACL{ETag: info.ETag, LastModified: info.LastModified, ACL: *acl})
	if err != nil {
		return storeError(err)
	}
	return nil
}

// setObjectACL replaces the ACL of an existing object (PutObjectAcl): a
// private ACL removes the record, which is bound to this very object.
func (h *Handler) setObjectACL(ctx context.Context, bucket, key string, info *backends.ObjectInfo, acl *meta.ACL) error {
	if acl == nil || authz.IsPrivate(acl) {
		if err := h.opts.Store.DeleteObjectACL(ctx, bucket, key); err != nil {
			return storeError(err)
		}
		return nil
	}
	return h.applyObjectACL(ctx, bucket, key, info, acl)
}

type aclGrantee struct {
	Type         string `xml:"type,attr"`
	ID           string `xml:"ID"`
	URI          string `xml:"URI"`
	EmailAddress string `xml:"EmailAddress"`
}

type aclPolicyIn struct {
	Owner struct {
		ID string `xml:"ID"`
	} `xml:"Owner"`
	Grants []struct {
		Grantee    aclGrantee `xml:"Grantee"`
		Permission string     `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// parseACLBody reads an AccessControlPolicy document.
func (h *Handler) parseACLBody(q *request, owner string) (*meta.ACL, error) {
	var in aclPolicyIn
	if err := readXML(q.auth.Body, &in); err != nil {
		if errors.Is(err, s3err.MalformedXML) {
			return nil, s3err.MalformedACLError
		}
		return nil, err
	}
	acl := &meta.ACL{Owner: owner}
	for _, g := range in.Grants {
		switch g.Permission {
		case meta.PermRead, meta.PermWrite, meta.PermReadACP, meta.PermWriteACP, meta.PermFullControl:
		default:
			return nil, s3err.MalformedACLError.With("Invalid permission: " + g.Permission)
		}
		gr := meta.Grant{Permission: g.Permission}
		switch {
		case g.Grantee.EmailAddress != "" || g.Grantee.Type == "AmazonCustomerByEmail":
			return nil, errEmailGrantee
		case g.Grantee.URI != "":
			if g.Grantee.URI != meta.AllUsers && g.Grantee.URI != meta.AuthenticatedUsers {
				return nil, s3err.InvalidArgument.With("Only the AllUsers and AuthenticatedUsers groups can be granted access.")
			}
			gr.URI = g.Grantee.URI
		case g.Grantee.ID != "":
			if err := h.checkCanonicalID(q.r.Context(), g.Grantee.ID); err != nil {
				return nil, err
			}
			gr.ID = g.Grantee.ID
		default:
			return nil, s3err.MalformedACLError
		}
		acl.Grants = append(acl.Grants, gr)
	}
	return acl, nil
}

// renderACL writes an ACL as S3's AccessControlPolicy: the owner's full
// control first, then the grants.
func (h *Handler) renderACL(q *request, ownerID string, acl *meta.ACL) error {
	o := h.ownerOf(q, ownerID)
	const xsi = "http://www.w3.org/2001/XMLSchema-instance"
	res := accessControlPolicy{NS: s3NS, Owner: o, Grants: []grant{{
		Grantee:    grantee{XMLNS: xsi, Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
		Permission: meta.PermFullControl,
	}}}
	if acl != nil {
		for _, g := range acl.Grants {
			if g.ID == ownerID && g.Permission == meta.PermFullControl {
				continue
			}
			ge := grantee{XMLNS: xsi, Type: "Group", URI: g.URI}
			if g.ID != "" {
				ge = grantee{XMLNS: xsi, Type: "CanonicalUser", ID: g.ID, DisplayName: h.ownerOf(q, g.ID).DisplayName}
			}
			res.Grants = append(res.Grants, grant{Grantee: ge, Permission: g.Permission})
		}
	}
	return writeXML(q.w, http.StatusOK, res)
}

// aclFromRequest reads a PutBucketAcl / PutObjectAcl request: headers or an
// AccessControlPolicy body, never both.
func (h *Handler) aclFromRequest(q *request, b *meta.Bucket) (*meta.ACL, error) {
	acl, err := h.requestACL(q, b.Owner)
	if err != nil {
		return nil, err
	}
	hasBody := q.auth.ContentLength > 0 || (q.auth.ContentLength < 0 && q.r.Body != nil && q.r.Body != http.NoBody)
	if acl != nil {
		if q.auth.ContentLength > 0 {
			return nil, s3err.UnexpectedContent.With("This request does not support content when ACL headers are given.")
		}
	} else if hasBody {
		if acl, err = h.parseACLBody(q, b.Owner); err != nil {
			return nil, err
		}
	} else {
		return nil, s3err.MissingSecurityHeader.With("Your request was missing a required header: x-amz-acl, x-amz-grant-* or an AccessControlPolicy body.")
	}
	if err := h.guardPublic(b, acl); err != nil {
		return nil, err
	}
	return acl, nil
}

func (h *Handler) getBucketACL(q *request) error {
	b, _, err := h.bucketOf(q, q.bucket, meta.PermReadACP)
	if err != nil {
		return err
	}
	return h.renderACL(q, b.Owner, b.ACL)
}

func (h *Handler) putBucketACL(q *request) error {
	b, _, err := h.bucketOf(q, q.bucket, meta.PermWriteACP)
	if err != nil {
		return err
	}
	acl, err := h.aclFromRequest(q, b)
	if err != nil {
		return err
	}
	if authz.IsPrivate(acl) {
		acl = nil
	}
	nb := *b
	nb.ACL = acl
	return h.saveBucket(q, nb)
}

func (h *Handler) getObjectACL(q *request) error {
	b, be, err := h.loadBucket(q, q.bucket)
	if err != nil {
		return err
	}
	info, err := be.HeadObject(q.r.Context(), b.Name, q.key)
	if err != nil {
		if !authz.IsOwner(q.caller, b) && errors.Is(err, backends.ErrNotFound) {
			return s3err.AccessDenied
		}
		return err
	}
	if err := h.objectAllows(q, b, q.key, info, meta.PermReadACP); err != nil {
		return err
	}
	acl, err := h.objectACL(q.r.Context(), b, q.key, info)
	if err != nil {
		return err
	}
	return h.renderACL(q, b.Owner, acl)
}

func (h *Handler) putObjectACL(q *request) error {
	b, be, err := h.loadBucket(q, q.bucket)
	if err != nil {
		return err
	}
	ctx := q.r.Context()
	info, err := be.HeadObject(ctx, b.Name, q.key)
	if err != nil {
		if !authz.IsOwner(q.caller, b) && errors.Is(err, backends.ErrNotFound) {
			return s3err.AccessDenied
		}
		return err
	}
	if err := h.objectAllows(q, b, q.key, info, meta.PermWriteACP); err != nil {
		return err
	}
	acl, err := h.aclFromRequest(q, b)
	if err != nil {
		return err
	}
	if err := h.setObjectACL(ctx, b.Name, q.key, info, acl); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) putACL(q *request) error {
	if q.key == "" {
		return h.putBucketACL(q)
	}
	return h.putObjectACL(q)
}

type publicAccessBlockConfiguration struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	NS                    string   `xml:"xmlns,attr,omitempty"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
}

func (h *Handler) publicAccessBlock(q *request) error {
	b, _, err := h.bucketOf(q, q.bucket, ownerOnly)
	if err != nil {
		return err
	}
	nb := *b
	switch q.r.Method {
	case http.MethodGet:
		if b.PublicAccessBlock == nil {
			return s3err.FromCode("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found").WithStatus(404)
		}
		p := b.PublicAccessBlock
		return writeXML(q.w, http.StatusOK, publicAccessBlockConfiguration{NS: s3NS,
			BlockPublicAcls: p.BlockPublicAcls, IgnorePublicAcls: p.IgnorePublicAcls,
			BlockPublicPolicy: p.BlockPublicPolicy, RestrictPublicBuckets: p.RestrictPublicBuckets})
	case http.MethodPut:
		var in publicAccessBlockConfiguration
		if err := readXML(q.auth.Body, &in); err != nil {
			return err
		}
		nb.PublicAccessBlock = &meta.PublicAccessBlock{BlockPublicAcls: in.BlockPublicAcls, IgnorePublicAcls: in.IgnorePublicAcls,
			BlockPublicPolicy: in.BlockPublicPolicy, RestrictPublicBuckets: in.RestrictPublicBuckets}
	case http.MethodDelete:
		nb.PublicAccessBlock = nil
	default:
		return s3err.MethodNotAllowed
	}
	return h.saveBucket(q, nb)
}
