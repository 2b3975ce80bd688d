package s3api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/authz"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/objects"
	"github.com/cloudraya/raya/gateway/s3err"
)

// maxUserMetadata is S3's limit on the size of x-amz-meta-* headers.
const maxUserMetadata = 2048

// metadataFromHeaders reads content headers and user metadata of a PUT,
// copy with REPLACE, or CreateMultipartUpload.
func metadataFromHeaders(h http.Header) (backends.Metadata, error) {
	md := backends.Metadata{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	// aws-chunked is a transfer detail, not the object's encoding.
	if md.ContentEncoding != "" {
		var keep []string
		for _, e := range strings.Split(md.ContentEncoding, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
				keep = append(keep, e)
			}
		}
		md.ContentEncoding = strings.Join(keep, ",")
	}
	if md.ContentType == "" {
		md.ContentType = "binary/octet-stream"
	}
	size := 0
	for name, vals := range h {
		lower := strings.ToLower(name)
		k, ok := strings.CutPrefix(lower, "x-amz-meta-")
		if !ok || k == "" {
			continue
		}
		if md.User == nil {
			md.User = map[string]string{}
		}
		v := strings.Join(vals, ",")
		md.User[k] = v
		size += len(k) + len(v)
	}
	if size > maxUserMetadata {
		return md, s3err.MetadataTooLarge
	}
	if err := checkUnsupportedObjectHeaders(h); err != nil {
		return md, err
	}
	return md, nil
}

// checkUnsupportedObjectHeaders refuses headers whose promise Raya cannot
// keep, rather than silently ignoring them.
func checkUnsupportedObjectHeaders(h http.Header) error {
	switch {
	case h.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "":
		return s3err.NotImplemented.With("Server-side encryption with customer keys is not supported.")
	case h.Get("X-Amz-Server-Side-Encryption") != "":
		return s3err.NotImplemented.With("Server-side encryption headers are not supported.")
	case h.Get("X-Amz-Tagging") != "":
		return s3err.NotImplemented.With("Object tagging is not supported.")
	case h.Get("X-Amz-Object-Lock-Mode") != "" || h.Get("X-Amz-Object-Lock-Legal-Hold") != "":
		return s3err.NotImplemented.With("Object lock is not supported.")
	case h.Get("X-Amz-Website-Redirect-Location") != "":
		return s3err.NotImplemented.With("Website redirects are not supported.")
	}
	return nil
}

// ingest describes a body to store through a backend.
type ingest struct {
	body    io.Reader
	size    int64 // -1 when unknown
	exp     objects.Expectation
	trailer func() http.Header
	// algs are checksum algorithms to compute besides exp.Algorithm.
	algs []string
	// check runs after the body is verified, just before the commit.
	check func() error
}

// options returns the reader to store and PutOptions whose Finish verifies
// what was read and fills md.
func (in *ingest) options(md backends.Metadata) (*backends.PutOptions, *objects.HashingReader) {
	algs := append([]string{in.exp.Algorithm}, in.algs...)
	hr := objects.NewHashingReader(in.body, algs...)
	return &backends.PutOptions{
		Size: in.size,
		Finish: func() (backends.Metadata, error) {
			var tr http.Header
			if in.trailer != nil {
				tr = in.trailer()
			}
			sums, e := hr.Verify(in.exp, in.size, tr)
			if e != nil {
				return md, e
			}
			md.ETag = hr.ETag()
			md.Checksums = nil
			for _, a := range algs {
				if a != "" && sums[a] != "" {
					if md.Checksums == nil {
						md.Checksums = map[string]string{}
					}
					md.Checksums[a] = sums[a]
				}
			}
			if len(md.Checksums) > 0 {
				md.ChecksumType = objects.FullObject
			}
			if in.check != nil {
				if err := in.check(); err != nil {
					return md, err
				}
			}
			return md, nil
		},
	}, hr
}

// bodyIngest prepares the verified request body for storing.
func (q *request) bodyIngest(limit int64) (*ingest, error) {
	exp, e := objects.ParseExpectation(q.r.Header)
	if e != nil {
		return nil, e
	}
	size := q.auth.ContentLength
	if size > limit {
		return nil, s3err.EntityTooLarge
	}
	return &ingest{body: q.auth.Body, size: size, exp: exp, trailer: q.auth.Trailer}, nil
}

func setChecksumHeaders(h http.Header, sums map[string]string, ctype string) {
	for a, v := range sums {
		h.Set(objects.HeaderName(a), v)
	}
	if len(sums) > 0 && ctype != "" {
		h.Set("x-amz-checksum-type", ctype)
	}
}

func quoteETag(e string) string { return `"` + e + `"` }

func (h *Handler) putObject(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermWrite)
	if err != nil {
		return err
	}
	if e := objects.ValidateKey(q.key); e != nil {
		return e
	}
	md, err := metadataFromHeaders(q.r.Header)
	if err != nil {
		return err
	}
	acl, err := h.newObjectACL(q, b)
	if err != nil {
		return err
	}
	in, err := q.bodyIngest(objects.MaxPutSize)
	if err != nil {
		return err
	}
	ctx := q.r.Context()
	if cond := objects.ReadConditions(q.r.Header, ""); cond.IfMatch != "" || cond.IfNoneMatch != "" {
		check := func() error { return h.checkWriteConditions(ctx, be, b.Name, q.key, cond) }
		if err := check(); err != nil {
			return err
		}
		in.check = check
	}
	opts, hr := in.options(md)
	info, err := be.PutObject(ctx, b.Name, q.key, hr, opts)
	if err != nil {
		return err
	}
	if err := h.applyObjectACL(ctx, b.Name, q.key, info, acl); err != nil {
		return err
	}
	wh := q.w.Header()
	wh.Set("ETag", quoteETag(info.ETag))
	setChecksumHeaders(wh, info.Checksums, info.ChecksumType)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// checkWriteConditions applies If-Match / If-None-Match of a conditional
// write to the object currently stored.
func (h *Handler) checkWriteConditions(ctx context.Context, be backends.Backend, bucket, key string, c objects.Conditions) error {
	info, err := be.HeadObject(ctx, bucket, key)
	exists := err == nil
	if err != nil && !errors.Is(err, backends.ErrNotFound) {
		return err
	}
	if c.IfNoneMatch != "" {
		if strings.TrimSpace(c.IfNoneMatch) != "*" {
			return s3err.NotImplemented.With("If-None-Match on a write supports only '*'.")
		}
		if exists {
			return s3err.PreconditionFailed
		}
	}
	if c.IfMatch != "" {
		if !exists {
			return s3err.NoSuchKey
		}
		if !objects.ETagMatches(c.IfMatch, info.ETag) {
			return s3err.PreconditionFailed
		}
	}
	return nil
}

// responseOverrides maps response-* query parameters to headers.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

func setObjectHeaders(h http.Header, info *backends.ObjectInfo) {
	h.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	h.Set("ETag", quoteETag(info.ETag))
	h.Set("Accept-Ranges", "bytes")
	for k, v := range map[string]string{
		"Content-Type": info.ContentType, "Content-Encoding": info.ContentEncoding,
		"Content-Disposition": info.ContentDisposition, "Content-Language": info.ContentLanguage,
		"Cache-Control": info.CacheControl, "Expires": info.Expires,
	} {
		if v != "" {
			h.Set(k, v)
		}
	}
	keys := make([]string, 0, len(info.User))
	for k := range info.User {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h["X-Amz-Meta-"+k] = []string{info.User[k]}
	}
	if len(info.PartSizes) > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(len(info.PartSizes)))
	}
}

func (h *Handler) getObject(q *request, head bool) error {
	b, be, err := h.loadBucket(q, q.bucket)
	if err != nil {
		return err
	}
	owner := authz.IsOwner(q.caller, b)
	if e := objects.ValidateKey(q.key); e != nil {
		return e
	}
	ctx := q.r.Context()
	cond := objects.ReadConditions(q.r.Header, "")
	rng := objects.ParseRange(q.r.Header.Get("Range"))
	partNumber := 0
	if q.get("partNumber") != "" {
		n, err := partNumberOf(q)
		if err != nil {
			return err
		}
		if rng != nil {
			return s3err.InvalidRequest.With("Cannot specify both Range header and partNumber query parameter")
		}
		partNumber = n
	}
	for _, p := range []string{"versionId"} {
		if v := q.get(p); v != "" && v != "null" {
			return s3err.NotImplemented.With("Versioning is not supported.")
		}
	}

	var info *backends.ObjectInfo
	var body io.ReadCloser
	for attempt := 0; ; attempt++ {
		if head || partNumber > 0 || !owner {
			info, err = be.HeadObject(ctx, b.Name, q.key)
			if err != nil {
				if !owner && errors.Is(err, backends.ErrNotFound) && !authz.BucketAllows(q.caller, b, meta.PermRead, h.ignorePublic(b)) {
					return s3err.AccessDenied // who may not list may not learn what is absent
				}
				return err
			}
			if err := h.objectAllows(q, b, q.key, info, meta.PermRead); err != nil {
				return err
			}
			if e := h.preconditions(q, cond, info); e != nil {
				return e
			}
			if partNumber > 0 {
				off, n, ok := objects.PartRange(info.PartSizes, info.Size, partNumber)
				if !ok {
					return s3err.InvalidPartNumber
				}
				if n == 0 {
					rng = nil
				} else {
					rng = &backends.Range{Offset: off, Length: n}
				}
			}
			if head {
				break
			}
			got, rc, err := be.GetObject(ctx, b.Name, q.key, rng)
			if err != nil {
				return err
			}
			if got.ETag != info.ETag && attempt < 3 {
				rc.Close() // replaced between the two calls: look again
				continue
			}
			body = rc
			break
		}
		got, rc, err := be.GetObject(ctx, b.Name, q.key, rng)
		if errors.Is(err, backends.ErrInvalidRange) {
			info, herr := be.HeadObject(ctx, b.Name, q.key)
			if herr != nil {
				return herr
			}
			if e := h.preconditions(q, cond, info); e != nil {
				return e
			}
			q.w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
			return s3err.InvalidRange
		}
		if err != nil {
			return err
		}
		info, body = got, rc
		if e := h.preconditions(q, cond, info); e != nil {
			rc.Close()
			return e
		}
		break
	}
	if body != nil {
		defer body.Close()
	}

	wh := q.w.Header()
	setObjectHeaders(wh, info)
	if strings.EqualFold(q.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") && (rng == nil || partNumber > 0 && len(info.PartSizes) == 0) {
		setChecksumHeaders(wh, info.Checksums, info.ChecksumType)
	}
	if q.caller != nil {
		for p, hdr := range responseOverrides {
			if v := q.get(p); v != "" {
				wh.Set(hdr, v)
			}
		}
	}
	status := http.StatusOK
	length := info.Size
	if rng != nil {
		off, n, err := rng.Resolve(info.Size)
		if err != nil {
			wh.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
			return s3err.InvalidRange
		}
		length = n
		status = http.StatusPartialContent
		wh.Set("Content-Range", "bytes "+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+n-1, 10)+"/"+strconv.FormatInt(info.Size, 10))
	}
	wh.Set("Content-Length", strconv.FormatInt(length, 10))
	q.w.WriteHeader(status)
	if head || body == nil {
		return nil
	}
	// The backend's reader yields exactly the selected bytes; copying it
	// whole lets a reader with WriteTo (a local file: sendfile; a plugin
	// stream: its chunks) write straight to the connection.
	if n, err := io.Copy(q.w, body); err != nil || n != length {
		q.log.Warn("response body interrupted", "err", err, "sent", n, "want", length)
	}
	return nil
}

// preconditions evaluates GET/HEAD conditions; a 304 is written here with
// the headers S3 sends, and reported as errNotModified.
func (h *Handler) preconditions(q *request, c objects.Conditions, info *backends.ObjectInfo) error {
	if c.Empty() {
		return nil
	}
	e := c.Check(info.ETag, info.LastModified, false)
	if e == nil {
		return nil
	}
	if e.Code == s3err.NotModified.Code {
		wh := q.w.Header()
		wh.Set("ETag", quoteETag(info.ETag))
		wh.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
		q.w.WriteHeader(http.StatusNotModified)
		return errHandled
	}
	return e
}

// forgetObjectACL removes the ACL record of a deleted object. A failure
// leaves a record bound to an object that no longer exists: it never applies.
func (h *Handler) forgetObjectACL(ctx context.Context, bucket, key string) {
	if err := h.opts.Store.DeleteObjectACL(ctx, bucket, key); err != nil {
		h.log.Warn("object ACL not removed (it no longer applies)", "bucket", bucket, "key", key, "err", err)
	}
}

// errHandled means the response was already written.
var errHandled = errors.New("response written")

func (h *Handler) deleteObject(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermWrite)
	if err != nil {
		return err
	}
	if e := objects.ValidateKey(q.key); e != nil {
		return e
	}
	if v := q.get("versionId"); v != "" && v != "null" {
		return s3err.NotImplemented.With("Versioning is not supported.")
	}
	if err := be.DeleteObject(q.r.Context(), b.Name, q.key); err != nil && !errors.Is(err, backends.ErrNotFound) {
		return err
	}
	h.forgetObjectACL(q.r.Context(), b.Name, q.key)
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) deleteObjects(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermWrite)
	if err != nil {
		return err
	}
	exp, e := objects.ParseExpectation(q.r.Header)
	if e != nil {
		return e
	}
	if exp.MD5 == nil && exp.Algorithm == "" {
		return s3err.InvalidRequest.With("Missing required header for this request: Content-MD5 or x-amz-checksum-*")
	}
	hr := objects.NewHashingReader(io.LimitReader(q.auth.Body, maxXMLBody+1), exp.Algorithm)
	var req deleteRequest
	data, err := io.ReadAll(hr)
	if err != nil {
		return err
	}
	if len(data) > maxXMLBody {
		return s3err.MalformedXML
	}
	if _, e := hr.Verify(exp, -1, q.auth.Trailer()); e != nil {
		return e
	}
	if err := readXML(strings.NewReader(string(data)), &req); err != nil {
		return err
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return s3err.MalformedXML
	}
	res := deleteResult{NS: s3NS}
	ctx := q.r.Context()
	for _, o := range req.Objects {
		if o.VersionID != "" && o.VersionID != "null" {
			res.Errors = append(res.Errors, deleteErrorItem{Key: o.Key, Code: "NotImplemented", Message: "Versioning is not supported."})
			continue
		}
		if e := objects.ValidateKey(o.Key); e != nil {
			res.Errors = append(res.Errors, deleteErrorItem{Key: o.Key, Code: e.Code, Message: e.Message})
			continue
		}
		if err := be.DeleteObject(ctx, b.Name, o.Key); err != nil && !errors.Is(err, backends.ErrNotFound) {
			se := h.classify(q, err)
			res.Errors = append(res.Errors, deleteErrorItem{Key: o.Key, Code: se.Code, Message: se.Message})
			continue
		}
		h.forgetObjectACL(ctx, b.Name, o.Key)
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deletedItem{Key: o.Key})
		}
	}
	return writeXML(q.w, http.StatusOK, res)
}

// copySource parses x-amz-copy-source ("bucket/key" or "/bucket/key",
// percent-encoded, optionally with ?versionId=).
func copySource(v string) (bucket, key string, err error) {
	v = strings.TrimPrefix(v, "/")
	if path, query, ok := strings.Cut(v, "?"); ok {
		v = path
		if vals, _ := url.ParseQuery(query); vals.Get("versionId") != "" && vals.Get("versionId") != "null" {
			return "", "", s3err.NotImplemented.With("Versioning is not supported.")
		}
	}
	dec, uerr := url.PathUnescape(v)
	if uerr != nil {
		return "", "", s3err.InvalidArgument.With("Invalid copy source encoding.")
	}
	bucket, key, ok := strings.Cut(dec, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", s3err.InvalidArgument.With("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	return bucket, key, nil
}

// openCopySource opens the source of a copy after checking access and the
// x-amz-copy-source-if-* conditions.
func (h *Handler) openCopySource(q *request, rng *backends.Range) (*backends.ObjectInfo, io.ReadCloser, error) {
	sb, sk, err := copySource(q.r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return nil, nil, err
	}
	if e := objects.ValidateKey(sk); e != nil {
		return nil, nil, e
	}
	b, be, err := h.loadBucket(q, sb)
	if err != nil {
		return nil, nil, err
	}
	info, rc, err := be.GetObject(q.r.Context(), b.Name, sk, rng)
	if err != nil {
		if errors.Is(err, backends.ErrNotFound) && !authz.BucketAllows(q.caller, b, meta.PermRead, h.ignorePublic(b)) {
			return nil, nil, s3err.AccessDenied
		}
		return nil, nil, err
	}
	if err := h.objectAllows(q, b, sk, info, meta.PermRead); err != nil {
		rc.Close()
		return nil, nil, err
	}
	if e := objects.ReadConditions(q.r.Header, "X-Amz-Copy-Source-").Check(info.ETag, info.LastModified, true); e != nil {
		rc.Close()
		return nil, nil, e
	}
	return info, rc, nil
}

func (h *Handler) copyObject(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermWrite)
	if err != nil {
		return err
	}
	acl, err := h.newObjectACL(q, b)
	if err != nil {
		return err
	}
	if e := objects.ValidateKey(q.key); e != nil {
		return e
	}
	directive := strings.ToUpper(q.r.Header.Get("X-Amz-Metadata-Directive"))
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return s3err.InvalidArgument.With("Unknown metadata directive.")
	}
	sb, sk, err := copySource(q.r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	algHeader := q.r.Header.Get("X-Amz-Checksum-Algorithm")
	if sb == b.Name && sk == q.key && directive != "REPLACE" && algHeader == "" {
		return s3err.InvalidRequest.With("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	var md backends.Metadata
	if directive == "REPLACE" {
		if md, err = metadataFromHeaders(q.r.Header); err != nil {
			return err
		}
	} else if err := checkUnsupportedObjectHeaders(q.r.Header); err != nil {
		return err
	}
	src, rc, err := h.openCopySource(q, nil)
	if err != nil {
		return err
	}
	defer rc.Close()
	if src.Size > objects.MaxPutSize {
		return s3err.InvalidRequest.With("The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	if directive != "REPLACE" {
		md = src.Metadata
		md.PartSizes = nil
	}
	in := &ingest{body: rc, size: src.Size}
	if algHeader != "" {
		a, ok := objects.ValidAlgorithm(algHeader)
		if !ok {
			return s3err.InvalidRequest.With("Checksum algorithm provided is unsupported.")
		}
		in.algs = []string{a}
	} else {
		for a := range src.Checksums {
			in.algs = append(in.algs, a)
		}
	}
	opts, hr := in.options(md)
	info, err := be.PutObject(q.r.Context(), b.Name, q.key, hr, opts)
	if err != nil {
		return err
	}
	if err := h.applyObjectACL(q.r.Context(), b.Name, q.key, info, acl); err != nil {
		return err
	}
	return writeXML(q.w, http.StatusOK, copyObjectResult{
		NS: s3NS, LastModified: isoTime(info.LastModified), ETag: quoteETag(info.ETag),
		checksumFields: newChecksumFields(info.Checksums),
	})
}
