package s3api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/objects"
	"github.com/cloudraya/raya/gateway/s3err"
)

func (h *Handler) createMultipartUpload(q *request) error {
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
	alg, ctype := "", ""
	if v := q.r.Header.Get("X-Amz-Checksum-Algorithm"); v != "" {
		a, ok := objects.ValidAlgorithm(v)
		if !ok {
			return s3err.InvalidRequest.With("Checksum algorithm provided is unsupported.")
		}
		alg, ctype = a, objects.DefaultChecksumType(a)
	}
	if v := strings.ToUpper(q.r.Header.Get("X-Amz-Checksum-Type")); v != "" {
		switch {
		case alg == "":
			return s3err.InvalidRequest.With("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		case v == objects.FullObject && (alg == objects.SHA1 || alg == objects.SHA256):
			return s3err.InvalidRequest.With("The FULL_OBJECT checksum type cannot be used with the " + alg + " checksum algorithm.")
		case v == objects.Composite && alg == objects.CRC64NVME:
			return s3err.InvalidRequest.With("The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.")
		case v != objects.FullObject && v != objects.Composite:
			return s3err.InvalidRequest.With("Value for x-amz-checksum-type header is invalid.")
		}
		ctype = v
	}
	acl, err := h.newObjectACL(q, b)
	if err != nil {
		return err
	}
	ctx := q.r.Context()
	id, err := be.CreateMultipartUpload(ctx, b.Name, q.key)
	if err != nil {
		return err
	}
	u := meta.Upload{
		UploadID: id, Bucket: b.Name, Key: q.key, Initiated: h.opts.Now().UTC(),
		Owner: b.Owner, Initiator: initiatorOf(q), Metadata: md, ACL: acl,
		ChecksumAlgorithm: alg, ChecksumType: ctype,
	}
	if err := h.opts.Store.CreateUpload(ctx, u); err != nil {
		_ = be.AbortMultipartUpload(ctx, b.Name, q.key, id)
		return storeError(err)
	}
	if alg != "" {
		q.w.Header().Set("x-amz-checksum-algorithm", alg)
		q.w.Header().Set("x-amz-checksum-type", ctype)
	}
	return writeXML(q.w, http.StatusOK, initiateMultipartUploadResult{NS: s3NS, Bucket: b.Name, Key: q.key, UploadID: id})
}

// initiatorOf names the caller in upload records.
func initiatorOf(q *request) string {
	if q.caller == nil {
		return "anonymous"
	}
	return q.caller.AccessKeyID
}

// uploadOf loads the multipart upload named by the request.
func (h *Handler) uploadOf(q *request, b *meta.Bucket) (*meta.Upload, error) {
	id := q.get("uploadId")
	if id == "" {
		return nil, s3err.NoSuchUpload
	}
	u, err := h.opts.Store.GetUpload(q.r.Context(), b.Name, id)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, s3err.NoSuchUpload
	}
	if err != nil {
		return nil, storeError(err)
	}
	if u.Key != q.key {
		return nil, s3err.NoSuchUpload
	}
	return u, nil
}

func partNumberOf(q *request) (int, error) {
	n, err := strconv.Atoi(q.get("partNumber"))
	if err != nil || n < 1 || n > objects.MaxParts {
		return 0, s3err.InvalidArgument.With("Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func (h *Handler) uploadPart(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermWrite)
	if err != nil {
		return err
	}
	n, err := partNumberOf(q)
	if err != nil {
		return err
	}
	u, err := h.uploadOf(q, b)
	if err != nil {
		return err
	}
	in, err := q.bodyIngest(objects.MaxPartSize)
	if err != nil {
		return err
	}
	in.algs = []string{u.ChecksumAlgorithm}
	opts, hr := in.options(backends.Metadata{})
	p, err := be.UploadPart(q.r.Context(), b.Name, q.key, u.UploadID, n, hr, opts)
	if err != nil {
		return err
	}
	q.w.Header().Set("ETag", quoteETag(p.ETag))
	setChecksumHeaders(q.w.Header(), p.Checksums, "")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// parseCopyRange parses x-amz-copy-source-range ("bytes=first-last").
func parseCopyRange(v string) (*backends.Range, error) {
	if v == "" {
		return nil, nil
	}
	bad := s3err.InvalidArgument.With("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return nil, bad
	}
	a, z, ok := strings.Cut(spec, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(z, 10, 64)
	if !ok || err1 != nil || err2 != nil || first < 0 || last < first {
		return nil, bad
	}
	return &backends.Range{Offset: first, Length: last - first + 1}, nil
}

func (h *Handler) uploadPartCopy(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermWrite)
	if err != nil {
		return err
	}
	n, err := partNumberOf(q)
	if err != nil {
		return err
	}
	u, err := h.uploadOf(q, b)
	if err != nil {
		return err
	}
	rng, err := parseCopyRange(q.r.Header.Get("X-Amz-Copy-Source-Range"))
	if err != nil {
		return err
	}
	src, rc, err := h.openCopySource(q, rng)
	if errors.Is(err, backends.ErrInvalidRange) {
		return s3err.InvalidRange.With("The x-amz-copy-source-range is not satisfiable for the source object.")
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	size := src.Size
	if rng != nil {
		if rng.Offset+rng.Length > src.Size {
			return s3err.InvalidRange.With("Range specified is not valid for source object of size: " + strconv.FormatInt(src.Size, 10))
		}
		size = rng.Length
	}
	if size > objects.MaxPartSize {
		return s3err.EntityTooLarge
	}
	in := &ingest{body: rc, size: size, algs: []string{u.ChecksumAlgorithm}}
	opts, hr := in.options(backends.Metadata{})
	p, err := be.UploadPart(q.r.Context(), b.Name, q.key, u.UploadID, n, hr, opts)
	if err != nil {
		return err
	}
	return writeXML(q.w, http.StatusOK, copyPartResult{
		NS: s3NS, LastModified: isoTime(p.LastModified), ETag: quoteETag(p.ETag),
		checksumFields: newChecksumFields(p.Checksums),
	})
}

func (h *Handler) completeMultipartUpload(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermWrite)
	if err != nil {
		return err
	}
	u, err := h.uploadOf(q, b)
	if err != nil {
		return err
	}
	var req completeMultipartUpload
	if err := readXML(q.auth.Body, &req); err != nil {
		return err
	}
	if len(req.Parts) > objects.MaxParts {
		return s3err.MalformedXML
	}
	ctx := q.r.Context()
	uploaded, err := be.ListParts(ctx, b.Name, q.key, u.UploadID)
	if err != nil {
		return err
	}
	parts := make([]objects.CompletedPart, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = objects.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag, Checksums: p.toMap()}
	}
	plan, e := objects.PlanCompletion(parts, uploaded, u.ChecksumAlgorithm, u.ChecksumType)
	if e != nil {
		return e
	}
	if u.ChecksumAlgorithm != "" {
		if want := q.r.Header.Get(objects.HeaderName(u.ChecksumAlgorithm)); want != "" && want != plan.Checksum {
			return s3err.BadDigest.With("The " + u.ChecksumAlgorithm + " you specified did not match the calculated checksum.")
		}
	}
	if cond := objects.ReadConditions(q.r.Header, ""); cond.IfMatch != "" || cond.IfNoneMatch != "" {
		if err := h.checkWriteConditions(ctx, be, b.Name, q.key, cond); err != nil {
			return err
		}
	}
	md := u.Metadata
	md.ETag = plan.ETag
	md.PartSizes = plan.PartSizes
	md.Checksums, md.ChecksumType = nil, ""
	if plan.Checksum != "" {
		md.Checksums = map[string]string{u.ChecksumAlgorithm: plan.Checksum}
		md.ChecksumType = plan.ChecksumType
	}
	info, err := be.CompleteMultipartUpload(ctx, b.Name, q.key, u.UploadID, plan.Parts, md)
	if err != nil {
		return err
	}
	if err := h.opts.Store.DeleteUpload(ctx, b.Name, u.UploadID); err != nil && !errors.Is(err, meta.ErrNotFound) {
		q.log.Warn("multipart upload record not removed", "upload_id", u.UploadID, "err", err)
	}
	if err := h.applyObjectACL(ctx, b.Name, q.key, info, u.ACL); err != nil {
		return err
	}
	return writeXML(q.w, http.StatusOK, completeMultipartUploadResult{
		NS: s3NS, Location: "/" + b.Name + "/" + q.key, Bucket: b.Name, Key: q.key,
		ETag: quoteETag(info.ETag), ChecksumType: info.ChecksumType, checksumFields: newChecksumFields(info.Checksums),
	})
}

func (h *Handler) abortMultipartUpload(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermWrite)
	if err != nil {
		return err
	}
	u, err := h.uploadOf(q, b)
	if err != nil {
		return err
	}
	ctx := q.r.Context()
	if err := be.AbortMultipartUpload(ctx, b.Name, q.key, u.UploadID); err != nil && !errors.Is(err, backends.ErrUploadNotFound) {
		return err
	}
	if err := h.opts.Store.DeleteUpload(ctx, b.Name, u.UploadID); err != nil && !errors.Is(err, meta.ErrNotFound) {
		return storeError(err)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listParts(q *request) error {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermRead)
	if err != nil {
		return err
	}
	u, err := h.uploadOf(q, b)
	if err != nil {
		return err
	}
	maxParts, err := parseMaxKeys(q.get("max-parts"), "max-parts")
	if err != nil {
		return err
	}
	marker := 0
	if v := q.get("part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return s3err.InvalidArgument.With("Invalid part-number-marker")
		}
	}
	parts, err := be.ListParts(q.r.Context(), b.Name, q.key, u.UploadID)
	if err != nil {
		return err
	}
	o := h.ownerOf(q, u.Owner)
	res := listPartsResult{
		NS: s3NS, Bucket: b.Name, Key: q.key, UploadID: u.UploadID, Initiator: owner{ID: u.Initiator, DisplayName: u.Initiator},
		Owner: o, StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts,
		ChecksumAlgorithm: u.ChecksumAlgorithm, ChecksumType: u.ChecksumType,
	}
	for _, p := range parts {
		if p.PartNumber <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, partItem{
			PartNumber: p.PartNumber, LastModified: isoTime(p.LastModified), ETag: quoteETag(p.ETag), Size: p.Size,
			checksumFields: newChecksumFields(p.Checksums),
		})
		res.NextPartNumberMarker = p.PartNumber
	}
	return writeXML(q.w, http.StatusOK, res)
}

func (h *Handler) listMultipartUploads(q *request) error {
	b, _, err := h.bucketOf(q, q.bucket, meta.PermRead)
	if err != nil {
		return err
	}
	maxUploads, err := parseMaxKeys(q.get("max-uploads"), "max-uploads")
	if err != nil {
		return err
	}
	prefix, delim := q.get("prefix"), q.get("delimiter")
	keyMarker, idMarker := q.get("key-marker"), q.get("upload-id-marker")
	enc := func(s string) string { return s }
	if q.get("encoding-type") == "url" {
		enc = s3URLEncode
	}
	all, err := h.opts.Store.ListUploads(q.r.Context(), b.Name)
	if err != nil {
		return storeError(err)
	}
	res := listMultipartUploadsResult{
		NS: s3NS, Bucket: b.Name, KeyMarker: enc(keyMarker), UploadIDMarker: idMarker,
		Prefix: enc(prefix), Delimiter: enc(delim), MaxUploads: maxUploads,
	}
	if q.get("encoding-type") == "url" {
		res.EncodingType = "url"
	}
	seen := map[string]bool{}
	count := 0
	for _, u := range all {
		if !strings.HasPrefix(u.Key, prefix) {
			continue
		}
		if keyMarker != "" && (u.Key < keyMarker || u.Key == keyMarker && (idMarker == "" || u.UploadID <= idMarker)) {
			continue
		}
		if delim != "" {
			if i := strings.Index(u.Key[len(prefix):], delim); i >= 0 {
				cp := u.Key[:len(prefix)+i+len(delim)]
				if seen[cp] {
					continue
				}
				if count == maxUploads {
					res.IsTruncated = true
					break
				}
				seen[cp] = true
				res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc(cp)})
				res.NextKeyMarker, res.NextUploadIDMarker = enc(u.Key), u.UploadID
				count++
				continue
			}
		}
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		o := h.ownerOf(q, u.Owner)
		res.Uploads = append(res.Uploads, uploadItem{
			Key: enc(u.Key), UploadID: u.UploadID, Initiator: owner{ID: u.Initiator, DisplayName: u.Initiator}, Owner: o,
			StorageClass: "STANDARD", Initiated: isoTime(u.Initiated), ChecksumAlgorithm: u.ChecksumAlgorithm, ChecksumType: u.ChecksumType,
		})
		res.NextKeyMarker, res.NextUploadIDMarker = enc(u.Key), u.UploadID
		count++
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return writeXML(q.w, http.StatusOK, res)
}
