package s3backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cloudraya/raya/backends"
)

func checkKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("%w: %d bytes", backends.ErrInvalidKey, len(key))
	}
	return nil
}

// mtime normalizes upstream times: HEAD reports seconds, listings and copy
// results may report milliseconds.
func mtime(t *time.Time) time.Time {
	if t == nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	return t.UTC().Truncate(time.Second)
}

// copySource formats x-amz-copy-source: bucket/key, percent-encoded.
func copySource(bucket, key string) string {
	var sb strings.Builder
	sb.WriteString(bucket)
	sb.WriteByte('/')
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			sb.WriteByte(c)
			continue
		}
		fmt.Fprintf(&sb, "%%%02X", c)
	}
	return sb.String()
}

// fill reads into buf until it is full or the reader ends. eof reports that
// the reader returned io.EOF.
func fill(r io.Reader, buf []byte) (n int, eof bool, err error) {
	n, err = io.ReadFull(r, buf)
	switch err {
	case nil:
		return n, false, nil
	case io.EOF, io.ErrUnexpectedEOF:
		return n, true, nil
	}
	return n, false, err
}

func sizeMismatch(got, want int64) error {
	return fmt.Errorf("s3backend: body is %d bytes, want %d", got, want)
}

func runFinish(finish func() (backends.Metadata, error)) (backends.Metadata, error) {
	if finish == nil {
		return backends.Metadata{}, nil
	}
	m, err := finish()
	if err != nil {
		return m, err
	}
	return cloneMeta(m), nil
}

// firstPart reads the start of a body: all of it when it fits in one part
// buffer (eof true), otherwise one full part. release returns the buffer.
func (b *Backend) firstPart(r io.Reader, size int64) (p []byte, eof bool, release func(), err error) {
	release = func() {}
	var buf []byte
	switch {
	case size >= 0 && size < 1<<20:
		buf = make([]byte, size+1)
	default:
		bp := b.bufs.Get().(*[]byte)
		buf = *bp
		release = func() { b.bufs.Put(bp) }
		if size >= 0 && size <= b.cfg.PartSize {
			buf = buf[:size+1]
		} else {
			buf = buf[:b.cfg.PartSize]
		}
	}
	n, eof, err := fill(r, buf)
	if err != nil {
		return nil, false, release, err
	}
	if size >= 0 && (n > int(size) || eof && n != int(size)) {
		return nil, false, release, sizeMismatch(int64(n), size)
	}
	return buf[:n], eof, release, nil
}

// ---- objects ----

// PutObject stores an object; see the package comment for atomicity.
func (b *Backend) PutObject(ctx context.Context, bucket, key string, r io.Reader, opts *backends.PutOptions) (*backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	size := int64(-1)
	var finish func() (backends.Metadata, error)
	if opts != nil {
		size, finish = opts.Size, opts.Finish
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first, eof, release, err := b.firstPart(r, size)
	defer release()
	if err != nil {
		return nil, err
	}
	if !eof {
		return b.putLarge(ctx, bucket, key, r, size, first, finish)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	meta, err := runFinish(finish)
	if err != nil {
		return nil, err
	}
	enc, ref, err := b.prepareMeta(ctx, bucket, meta)
	if err != nil {
		return nil, err
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key),
		Body: bytes.NewReader(first), ContentLength: aws.Int64(int64(len(first))),
		ContentType: enc.contentType, ContentEncoding: enc.contentEncoding, ContentDisposition: enc.contentDisposition,
		ContentLanguage: enc.contentLanguage, CacheControl: enc.cacheControl, Metadata: enc.user,
	}
	out, err := b.client.PutObject(ctx, in)
	if err != nil {
		b.cleanup(ref)
		return nil, wrap("put "+bucket+"/"+key, err)
	}
	return b.writtenInfo(ctx, bucket, key, aws.ToString(out.ETag), int64(len(first)), meta), nil
}

// prepareMeta encodes meta, writing a sidecar first when it does not fit in
// headers. ref is the sidecar's key ("" when none).
func (b *Backend) prepareMeta(ctx context.Context, bucket string, meta backends.Metadata) (encoded, string, error) {
	enc, spill := encodeMeta(meta)
	if !spill {
		return enc, "", nil
	}
	if err := b.ensureMeta(ctx); err != nil {
		return enc, "", err
	}
	ref := bucket + "/m/" + newToken()
	body, err := json.Marshal(meta)
	if err != nil {
		return enc, "", err
	}
	if _, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.meta), Key: aws.String(ref), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	}); err != nil {
		return enc, "", wrap("write metadata sidecar", err)
	}
	return encodeSpilled(meta, ref), ref, nil
}

// readSidecar loads metadata that did not fit in headers.
func (b *Backend) readSidecar(ctx context.Context, ref string) (backends.Metadata, error) {
	var m backends.Metadata
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.meta), Key: aws.String(ref)})
	if err != nil {
		return m, wrap("read metadata sidecar", err)
	}
	defer out.Body.Close()
	if err := json.NewDecoder(io.LimitReader(out.Body, 16<<20)).Decode(&m); err != nil {
		return m, fmt.Errorf("s3backend: corrupt metadata sidecar %s: %w", ref, err)
	}
	return m, nil
}

// writtenInfo describes an object just written, with the upstream's
// LastModified when the object is still the one written.
func (b *Backend) writtenInfo(ctx context.Context, bucket, key, etag string, size int64, meta backends.Metadata) *backends.ObjectInfo {
	info := &backends.ObjectInfo{Key: key, Size: size, Metadata: cloneMeta(meta), LastModified: mtime(nil)}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key)})
	if err == nil && unquote(aws.ToString(out.ETag)) == unquote(etag) {
		info.LastModified = mtime(out.LastModified)
	}
	return info
}

// putLarge streams a body larger than one part through a staging
// multipart upload, then copies it to its key with its metadata.
func (b *Backend) putLarge(ctx context.Context, bucket, key string, r io.Reader, size int64, first []byte, finish func() (backends.Metadata, error)) (*backends.ObjectInfo, error) {
	if err := b.checkBucket(ctx, bucket); err != nil {
		return nil, err
	}
	tmp, n, err := b.stage(ctx, bucket, r, size, first)
	if err != nil {
		return nil, err
	}
	defer b.cleanup(tmp)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	meta, err := runFinish(finish)
	if err != nil {
		return nil, err
	}
	return b.commitCopy(ctx, b.meta, tmp, bucket, key, n, meta)
}

// stage writes first and the rest of r into a staging object of the meta
// bucket through a multipart upload, reusing first's buffer for the
// following parts. It returns the staging key; the caller deletes it.
func (b *Backend) stage(ctx context.Context, bucket string, r io.Reader, size int64, first []byte) (tmp string, n int64, err error) {
	if err := b.ensureMeta(ctx); err != nil {
		return "", 0, err
	}
	tmp = bucket + "/t/" + newToken()
	cu, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b.meta), Key: aws.String(tmp)})
	if err != nil {
		return "", 0, wrap("stage", err)
	}
	done := false
	defer func() {
		if !done {
			actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = b.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b.meta), Key: aws.String(tmp), UploadId: cu.UploadId})
		}
	}()
	var parts []types.CompletedPart
	buf := first[:cap(first)][:b.cfg.PartSize]
	p := first
	for {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		if len(p) > 0 || len(parts) == 0 {
			num := int32(len(parts) + 1)
			if num > 10000 {
				return "", 0, fmt.Errorf("s3backend: body exceeds 10000 parts of %d bytes (raise part_size)", b.cfg.PartSize)
			}
			out, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(b.meta), Key: aws.String(tmp), UploadId: cu.UploadId, PartNumber: aws.Int32(num),
				Body: bytes.NewReader(p), ContentLength: aws.Int64(int64(len(p))),
			})
			if err != nil {
				return "", 0, wrap("stage part", err)
			}
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
			n += int64(len(p))
		}
		if size >= 0 && n > size {
			return "", 0, sizeMismatch(n, size)
		}
		k, eof, err := fill(r, buf)
		if err != nil {
			return "", 0, err
		}
		p = buf[:k]
		if eof {
			if k > 0 {
				continue // upload the last part, then read EOF again
			}
			break
		}
	}
	if size >= 0 && n != size {
		return "", 0, sizeMismatch(n, size)
	}
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	if _, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.meta), Key: aws.String(tmp), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		return "", 0, wrap("complete staging upload", err)
	}
	done = true
	return tmp, n, nil
}

// commitCopy copies src to bucket/key with meta: the moment the object
// becomes visible.
func (b *Backend) commitCopy(ctx context.Context, srcBucket, srcKey, bucket, key string, size int64, meta backends.Metadata) (*backends.ObjectInfo, error) {
	enc, ref, err := b.prepareMeta(ctx, bucket, meta)
	if err != nil {
		return nil, err
	}
	what := "copy to " + bucket + "/" + key
	if size > b.copyLimit {
		info, err := b.multipartCopy(ctx, srcBucket, srcKey, bucket, key, size, meta, enc)
		if err != nil {
			b.cleanup(ref)
			return nil, wrap(what, err)
		}
		return info, nil
	}
	out, err := b.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key),
		CopySource:        aws.String(copySource(srcBucket, srcKey)),
		MetadataDirective: types.MetadataDirectiveReplace,
		ContentType:       enc.contentType, ContentEncoding: enc.contentEncoding, ContentDisposition: enc.contentDisposition,
		ContentLanguage: enc.contentLanguage, CacheControl: enc.cacheControl, Metadata: enc.user,
	})
	if err != nil {
		b.cleanup(ref)
		return nil, wrap(what, err)
	}
	info := &backends.ObjectInfo{Key: key, Size: size, Metadata: cloneMeta(meta), LastModified: mtime(nil)}
	switch r := out.CopyObjectResult; {
	case r != nil && r.LastModified != nil:
		info.LastModified = mtime(r.LastModified)
	case r != nil:
		info = b.writtenInfo(ctx, bucket, key, aws.ToString(r.ETag), size, meta)
	}
	return info, nil
}

// multipartCopy copies an object above the CopyObject limit with
// UploadPartCopy into a multipart upload that carries the metadata.
func (b *Backend) multipartCopy(ctx context.Context, srcBucket, srcKey, bucket, key string, size int64, meta backends.Metadata, enc encoded) (*backends.ObjectInfo, error) {
	cu, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key),
		ContentType: enc.contentType, ContentEncoding: enc.contentEncoding, ContentDisposition: enc.contentDisposition,
		ContentLanguage: enc.contentLanguage, CacheControl: enc.cacheControl, Metadata: enc.user,
	})
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = b.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key), UploadId: cu.UploadId})
		}
	}()
	chunk := min(max(b.copyLimit, (size+9999)/10000), maxPartSize)
	var parts []types.CompletedPart
	for off, num := int64(0), int32(1); off < size; off, num = off+chunk, num+1 {
		end := min(off+chunk, size) - 1
		out, err := b.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key), UploadId: cu.UploadId, PartNumber: aws.Int32(num),
			CopySource: aws.String(copySource(srcBucket, srcKey)), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			return nil, err
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(num)})
	}
	out, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return nil, err
	}
	done = true
	return b.writtenInfo(ctx, bucket, key, aws.ToString(out.ETag), size, meta), nil
}

// objectInfo builds an ObjectInfo from response headers, reading the
// metadata sidecar when there is one.
func (b *Backend) objectInfo(ctx context.Context, key string, size int64, lm *time.Time, h headers) (*backends.ObjectInfo, error) {
	m, ref, err := decodeMeta(h)
	if err != nil {
		return nil, err
	}
	if ref != "" {
		if m, err = b.readSidecar(ctx, ref); err != nil {
			return nil, err
		}
	}
	return &backends.ObjectInfo{Key: key, Size: size, LastModified: mtime(lm), Metadata: m}, nil
}

// headErr maps a HEAD failure: a HEAD 404 has no body, so a missing bucket
// is told apart with HeadBucket.
func (b *Backend) headErr(ctx context.Context, bucket, key string, err error) error {
	e := mapErr(err)
	if errors.Is(e, backends.ErrNotFound) {
		if berr := b.checkBucket(ctx, bucket); errors.Is(berr, backends.ErrBucketNotFound) {
			return berr
		}
	}
	return fmt.Errorf("s3backend: head %s/%s: %w", bucket, key, e)
}

// HeadObject describes an object.
func (b *Backend) HeadObject(ctx context.Context, bucket, key string) (*backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	info, _, err := b.head(ctx, bucket, key)
	return info, err
}

// head returns the object's info and the upstream ETag.
func (b *Backend) head(ctx context.Context, bucket, key string) (*backends.ObjectInfo, string, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key)})
	if err != nil {
		return nil, "", b.headErr(ctx, bucket, key, err)
	}
	info, err := b.objectInfo(ctx, key, aws.ToInt64(out.ContentLength), out.LastModified, headers{
		etag: out.ETag, contentType: out.ContentType, contentEncoding: out.ContentEncoding,
		contentDisposition: out.ContentDisposition, contentLanguage: out.ContentLanguage,
		cacheControl: out.CacheControl, expires: out.ExpiresString, user: out.Metadata,
	})
	return info, unquote(aws.ToString(out.ETag)), err
}

// rangeHeader formats rng as an HTTP Range header.
func rangeHeader(rng backends.Range) string {
	switch {
	case rng.Offset < 0:
		return fmt.Sprintf("bytes=-%d", -rng.Offset)
	case rng.Length < 0:
		return fmt.Sprintf("bytes=%d-", rng.Offset)
	default:
		return fmt.Sprintf("bytes=%d-%d", rng.Offset, rng.Offset+rng.Length-1)
	}
}

// totalSize parses the complete length from a Content-Range header.
func totalSize(cr string) (int64, bool) {
	_, total, ok := strings.Cut(cr, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
	return n, err == nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// GetObject opens an object or a range of it.
func (b *Backend) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (*backends.ObjectInfo, io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, nil, err
	}
	if rng != nil && rng.Offset >= 0 && rng.Length == 0 {
		// Selects nothing: only existence decides the error.
		if _, err := b.HeadObject(ctx, bucket, key); err != nil {
			return nil, nil, err
		}
		return nil, nil, backends.ErrInvalidRange
	}
	in := &s3.GetObjectInput{Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key)}
	if rng != nil {
		in.Range = aws.String(rangeHeader(*rng))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, nil, wrap("get "+bucket+"/"+key, err)
	}
	size := aws.ToInt64(out.ContentLength)
	ranged := false
	if cr := aws.ToString(out.ContentRange); cr != "" {
		if n, ok := totalSize(cr); ok {
			size, ranged = n, true
		}
	}
	info, err := b.objectInfo(ctx, key, size, out.LastModified, headers{
		etag: out.ETag, contentType: out.ContentType, contentEncoding: out.ContentEncoding,
		contentDisposition: out.ContentDisposition, contentLanguage: out.ContentLanguage,
		cacheControl: out.CacheControl, expires: out.ExpiresString, user: out.Metadata,
	})
	if err != nil {
		out.Body.Close()
		return nil, nil, err
	}
	body := io.ReadCloser(out.Body)
	if rng != nil && !ranged {
		// The upstream sent the whole object (as some do for an empty
		// one): apply the range here.
		off, n, err := rng.Resolve(size)
		if err != nil {
			out.Body.Close()
			return nil, nil, err
		}
		if _, err := io.CopyN(io.Discard, out.Body, off); err != nil {
			out.Body.Close()
			return nil, nil, wrap("get "+bucket+"/"+key, err)
		}
		body = readCloser{io.LimitReader(out.Body, n), out.Body}
	}
	return info, body, nil
}

// DeleteObject removes an object (ErrNotFound when there is none).
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key)})
	if err != nil {
		return b.headErr(ctx, bucket, key, err)
	}
	_, ref, _ := decodeMeta(headers{user: out.Metadata})
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.upstream(bucket)), Key: aws.String(key)}); err != nil {
		return wrap("delete "+bucket+"/"+key, err)
	}
	if ref != "" {
		b.cleanup(ref)
	}
	return nil
}

// CopyObject copies server-side with new metadata.
func (b *Backend) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta backends.Metadata) (*backends.ObjectInfo, error) {
	if err := checkKey(srcKey); err != nil {
		return nil, err
	}
	if err := checkKey(dstKey); err != nil {
		return nil, err
	}
	src, _, err := b.head(ctx, srcBucket, srcKey)
	if err != nil {
		return nil, err
	}
	if b.upstream(dstBucket) == b.meta {
		return nil, fmt.Errorf("%w: %s", backends.ErrBucketNotFound, dstBucket)
	}
	return b.commitCopy(ctx, b.upstream(srcBucket), srcKey, dstBucket, dstKey, src.Size, cloneMeta(meta))
}

// ---- listing ----

type listEntry struct {
	name   string
	prefix bool
	obj    types.Object
}

func unescapeKey(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// ListObjects lists one page; see the package comment for its cost.
func (b *Backend) ListObjects(ctx context.Context, bucket string, opts *backends.ListOptions) (*backends.ListPage, error) {
	var o backends.ListOptions
	if opts != nil {
		o = *opts
	}
	if b.upstream(bucket) == b.meta {
		return nil, fmt.Errorf("%w: %s", backends.ErrBucketNotFound, bucket)
	}
	limit := o.MaxKeys
	if limit <= 0 {
		limit = 1000
	}
	in := &s3.ListObjectsV2Input{
		Bucket: aws.String(b.upstream(bucket)), EncodingType: types.EncodingTypeUrl,
		Prefix: optional(o.Prefix), Delimiter: optional(o.Delimiter), StartAfter: optional(o.StartAfter),
	}
	var entries []listEntry
	exhausted := false
	for len(entries) <= limit {
		in.MaxKeys = aws.Int32(int32(min(limit-len(entries)+1, 1000)))
		out, err := b.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, wrap("list "+bucket, err)
		}
		var page []listEntry
		for _, obj := range out.Contents {
			page = append(page, listEntry{name: unescapeKey(aws.ToString(obj.Key)), obj: obj})
		}
		for _, cp := range out.CommonPrefixes {
			page = append(page, listEntry{name: unescapeKey(aws.ToString(cp.Prefix)), prefix: true})
		}
		slices.SortStableFunc(page, func(a, b listEntry) int { return strings.Compare(a.name, b.name) })
		for _, e := range page {
			// Upstreams may report a common prefix that sorts at or
			// before StartAfter (when StartAfter lies inside it).
			if o.StartAfter != "" && e.name <= o.StartAfter {
				continue
			}
			if n := len(entries); n > 0 && entries[n-1].name == e.name && entries[n-1].prefix == e.prefix {
				continue
			}
			entries = append(entries, e)
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
			exhausted = true
			break
		}
		in.StartAfter = nil
		in.ContinuationToken = out.NextContinuationToken
	}
	page := &backends.ListPage{}
	if len(entries) > limit {
		entries = entries[:limit]
		page.IsTruncated = true
	} else if !exhausted {
		page.IsTruncated = true
	}
	if page.IsTruncated && len(entries) > 0 {
		page.NextStartAfter = entries[len(entries)-1].name
	}
	for _, e := range entries {
		if e.prefix {
			page.CommonPrefixes = append(page.CommonPrefixes, e.name)
			continue
		}
		page.Objects = append(page.Objects, backends.ObjectInfo{
			Key: e.name, Size: aws.ToInt64(e.obj.Size), LastModified: mtime(e.obj.LastModified),
			Metadata: backends.Metadata{ETag: unquote(aws.ToString(e.obj.ETag))},
		})
	}
	if err := b.fillListed(ctx, bucket, page.Objects); err != nil {
		return nil, err
	}
	return page, nil
}

// fillListed replaces the upstream ETags of listed objects with the
// gateway's, with one HEAD per object.
func (b *Backend) fillListed(ctx context.Context, bucket string, objs []backends.ObjectInfo) error {
	if len(objs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, b.opts.ListConcurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := &objs[i]
			out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.upstream(bucket)), Key: aws.String(o.Key)})
			if err != nil {
				if errors.Is(mapErr(err), backends.ErrNotFound) {
					return // deleted since the listing: keep what was listed
				}
				mu.Lock()
				if firstErr == nil {
					firstErr = wrap("list "+bucket+": head "+o.Key, err)
					cancel()
				}
				mu.Unlock()
				return
			}
			m, _, err := decodeMeta(headers{etag: out.ETag, user: out.Metadata})
			if err != nil {
				return
			}
			if unquote(aws.ToString(out.ETag)) != o.ETag {
				// Replaced since the listing: report the newer version whole.
				o.Size, o.LastModified = aws.ToInt64(out.ContentLength), mtime(out.LastModified)
			}
			o.ETag = m.ETag
		}()
	}
	wg.Wait()
	return firstErr
}
