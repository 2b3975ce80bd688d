package s3backend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cloudraya/raya/backends"
)

// upload locates an upload in the meta bucket.
type upload struct {
	id  string // upstream upload ID
	dir string // "<bucket>/u/<sha256(key)>/<token>/"
}

func (u upload) obj() string { return u.dir + "obj" }

func uploadDir(bucket, key, token string) string {
	h := sha256.Sum256([]byte(key))
	return bucket + "/u/" + hex.EncodeToString(h[:16]) + "/" + token + "/"
}

// parseUpload decodes "<token>.<base64url(upstream ID)>" for bucket/key.
func parseUpload(bucket, key, id string) (upload, error) {
	token, enc, ok := strings.Cut(id, ".")
	if _, err := hex.DecodeString(token); !ok || err != nil || len(token) != 24 {
		return upload{}, fmt.Errorf("%w: %s", backends.ErrUploadNotFound, id)
	}
	up, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(up) == 0 {
		return upload{}, fmt.Errorf("%w: %s", backends.ErrUploadNotFound, id)
	}
	return upload{id: string(up), dir: uploadDir(bucket, key, token)}, nil
}

// uploadErr maps an upstream error of an upload call; the upload lives in
// the meta bucket, so a missing meta bucket means a missing upload.
func uploadErr(op string, err error) error {
	e := mapErr(err)
	if errors.Is(e, backends.ErrBucketNotFound) || errors.Is(e, backends.ErrNotFound) {
		e = fmt.Errorf("%w: %w", backends.ErrUploadNotFound, err)
	}
	return fmt.Errorf("s3backend: %s: %w", op, e)
}

// CreateMultipartUpload starts an upstream upload of a staging key.
func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if err := b.checkBucket(ctx, bucket); err != nil {
		return "", err
	}
	if err := b.ensureMeta(ctx); err != nil {
		return "", err
	}
	token := newToken()
	out, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(b.meta), Key: aws.String(uploadDir(bucket, key, token) + "obj"),
	})
	if err != nil {
		return "", wrap("create upload", err)
	}
	return token + "." + base64.RawURLEncoding.EncodeToString([]byte(aws.ToString(out.UploadId))), nil
}

// partRecord is the gateway's metadata of a part.
type partRecord struct {
	ETag      string            `json:"e,omitempty"`
	Checksums map[string]string `json:"c,omitempty"`
}

// tailReader yields exactly size bytes of r, but withholds the last one
// until r has reported EOF and finish succeeded: an upstream that never
// receives the whole body never stores it.
type tailReader struct {
	r         io.Reader
	remaining int64 // bytes before the last one
	size      int64
	finish    func() error
	done      bool
	err       error
}

func (t *tailReader) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if t.remaining > 0 {
		if int64(len(p)) > t.remaining {
			p = p[:t.remaining]
		}
		n, err := t.r.Read(p)
		t.remaining -= int64(n)
		switch {
		case err == io.EOF && t.remaining > 0:
			t.err = sizeMismatch(t.size-t.remaining-1, t.size)
		case err != nil && err != io.EOF:
			t.err = err
		}
		if n > 0 {
			return n, nil
		}
		return 0, t.err
	}
	var last [1]byte
	if _, err := io.ReadFull(t.r, last[:]); err != nil {
		if err == io.EOF {
			err = sizeMismatch(t.size-1, t.size)
		}
		t.err = err
		return 0, err
	}
	var extra [1]byte
	if n, err := io.ReadFull(t.r, extra[:]); n > 0 {
		t.err = fmt.Errorf("s3backend: body is longer than %d bytes", t.size)
		return 0, t.err
	} else if err != io.EOF {
		t.err = err
		return 0, err
	}
	if err := t.finish(); err != nil {
		t.err = err
		return 0, err
	}
	t.done = true
	p[0] = last[0]
	return 1, nil
}

// UploadPart stores one part; see the package comment for atomicity.
func (b *Backend) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts *backends.PutOptions) (*backends.PartInfo, error) {
	up, err := parseUpload(bucket, key, uploadID)
	if err != nil {
		return nil, err
	}
	if partNumber < 1 || partNumber > 10000 {
		return nil, fmt.Errorf("s3backend: part number %d out of range", partNumber)
	}
	size := int64(-1)
	var finish func() (backends.Metadata, error)
	if opts != nil {
		size, finish = opts.Size, opts.Finish
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var meta backends.Metadata
	callFinish := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := runFinish(finish)
		meta = m
		return err
	}
	in := &s3.UploadPartInput{Bucket: aws.String(b.meta), Key: aws.String(up.obj()), UploadId: aws.String(up.id), PartNumber: aws.Int32(int32(partNumber))}
	var etag *string
	var n int64
	switch {
	case size > b.cfg.PartSize:
		// Stream, withholding the last byte until Finish succeeded.
		tr := &tailReader{r: r, remaining: size - 1, size: size, finish: callFinish}
		in.Body, in.ContentLength = tr, aws.Int64(size)
		out, err := b.client.UploadPart(ctx, in, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
		if err != nil {
			if tr.err != nil {
				return nil, tr.err
			}
			return nil, uploadErr("upload part", err)
		}
		etag, n = out.ETag, size
	default:
		first, eof, release, err := b.firstPart(r, size)
		defer release()
		if err != nil {
			return nil, err
		}
		if eof {
			if err := callFinish(); err != nil {
				return nil, err
			}
			in.Body, in.ContentLength = bytes.NewReader(first), aws.Int64(int64(len(first)))
			out, err := b.client.UploadPart(ctx, in)
			if err != nil {
				return nil, uploadErr("upload part", err)
			}
			etag, n = out.ETag, int64(len(first))
			break
		}
		// Unknown size above one part: stage it, then copy it in.
		tmp, sn, err := b.stage(ctx, bucket, r, size, first)
		if err != nil {
			return nil, err
		}
		defer b.cleanup(tmp)
		if err := callFinish(); err != nil {
			return nil, err
		}
		out, err := b.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: aws.String(b.meta), Key: aws.String(up.obj()), UploadId: aws.String(up.id), PartNumber: aws.Int32(int32(partNumber)),
			CopySource: aws.String(copySource(b.meta, tmp)),
		})
		if err != nil {
			return nil, uploadErr("upload part", err)
		}
		if out.CopyPartResult != nil {
			etag = out.CopyPartResult.ETag
		}
		n = sn
	}
	info := &backends.PartInfo{PartNumber: partNumber, Size: n, LastModified: mtime(nil), ETag: unquote(aws.ToString(etag))}
	if finish != nil {
		if err := b.writePartRecord(ctx, up, partNumber, unquote(aws.ToString(etag)), partRecord{ETag: meta.ETag, Checksums: meta.Checksums}); err != nil {
			return nil, err
		}
		info.ETag, info.Checksums = meta.ETag, meta.Checksums
	}
	return info, nil
}

// writePartRecord stores a part's gateway metadata as an empty object whose
// key encodes it (or, when too long, as the body of an object ending "/@").
func (b *Backend) writePartRecord(ctx context.Context, up upload, partNumber int, upETag string, rec partRecord) error {
	p, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%sp/%05d/%s/%020d/", up.dir, partNumber, upETag, time.Now().UnixNano())
	var body []byte
	if enc := base64.RawURLEncoding.EncodeToString(p); len(key)+len(enc) <= 1024 {
		key += enc
	} else {
		key += "@"
		body = p
	}
	_, err = b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.meta), Key: aws.String(key), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return wrap("write part metadata", err)
	}
	return nil
}

// partRecords reads the part metadata of an upload: part number ->
// upstream ETag -> the newest record.
func (b *Backend) partRecords(ctx context.Context, up upload) (map[int]map[string]partRecord, error) {
	type stamped struct {
		ts  string
		rec partRecord
	}
	found := map[int]map[string]stamped{}
	prefix := up.dir + "p/"
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.meta), Prefix: aws.String(prefix)}
	for {
		out, err := b.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, uploadErr("list part metadata", err)
		}
		for _, o := range out.Contents {
			f := strings.SplitN(strings.TrimPrefix(aws.ToString(o.Key), prefix), "/", 4)
			if len(f) != 4 {
				continue
			}
			num, err := strconv.Atoi(f[0])
			if err != nil {
				continue
			}
			var raw []byte
			if f[3] == "@" {
				g, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.meta), Key: o.Key})
				if err != nil {
					continue // replaced concurrently
				}
				raw, err = io.ReadAll(io.LimitReader(g.Body, 1<<20))
				g.Body.Close()
				if err != nil {
					return nil, wrap("read part metadata", err)
				}
			} else if raw, err = base64.RawURLEncoding.DecodeString(f[3]); err != nil {
				continue
			}
			var rec partRecord
			if json.Unmarshal(raw, &rec) != nil {
				continue
			}
			if found[num] == nil {
				found[num] = map[string]stamped{}
			}
			if cur, ok := found[num][f[1]]; !ok || cur.ts < f[2] {
				found[num][f[1]] = stamped{f[2], rec}
			}
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	recs := make(map[int]map[string]partRecord, len(found))
	for n, m := range found {
		recs[n] = map[string]partRecord{}
		for e, s := range m {
			recs[n][e] = s.rec
		}
	}
	return recs, nil
}

// upstreamParts lists the upstream parts of an upload in order.
func (b *Backend) upstreamParts(ctx context.Context, up upload) ([]types.Part, error) {
	var parts []types.Part
	in := &s3.ListPartsInput{Bucket: aws.String(b.meta), Key: aws.String(up.obj()), UploadId: aws.String(up.id)}
	for {
		out, err := b.client.ListParts(ctx, in)
		if err != nil {
			return nil, uploadErr("list parts", err)
		}
		parts = append(parts, out.Parts...)
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextPartNumberMarker) == "" {
			return parts, nil
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
}

// ListParts returns the parts with the gateway's ETags and checksums.
func (b *Backend) ListParts(ctx context.Context, bucket, key, uploadID string) ([]backends.PartInfo, error) {
	up, err := parseUpload(bucket, key, uploadID)
	if err != nil {
		return nil, err
	}
	parts, err := b.upstreamParts(ctx, up)
	if err != nil {
		return nil, err
	}
	recs, err := b.partRecords(ctx, up)
	if err != nil {
		return nil, err
	}
	out := make([]backends.PartInfo, 0, len(parts))
	for _, p := range parts {
		num := int(aws.ToInt32(p.PartNumber))
		etag := unquote(aws.ToString(p.ETag))
		info := backends.PartInfo{PartNumber: num, Size: aws.ToInt64(p.Size), LastModified: mtime(p.LastModified), ETag: etag}
		if rec, ok := recs[num][etag]; ok {
			info.ETag, info.Checksums = rec.ETag, rec.Checksums
		}
		out = append(out, info)
	}
	return out, nil
}

// CompleteMultipartUpload completes the staging upload, then copies the
// result to bucket/key with meta, then removes the staging data.
func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, meta backends.Metadata) (*backends.ObjectInfo, error) {
	up, err := parseUpload(bucket, key, uploadID)
	if err != nil {
		return nil, err
	}
	var size int64
	have, err := b.upstreamParts(ctx, up)
	switch {
	case errors.Is(err, backends.ErrUploadNotFound):
		// A retry after the upstream completed but the copy failed
		// resumes from the staging object.
		h, herr := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.meta), Key: aws.String(up.obj())})
		if herr != nil {
			return nil, err
		}
		size = aws.ToInt64(h.ContentLength)
	case err != nil:
		return nil, err
	default:
		byNum := make(map[int]types.Part, len(have))
		for _, p := range have {
			byNum[int(aws.ToInt32(p.PartNumber))] = p
		}
		completed := make([]types.CompletedPart, 0, len(parts))
		for _, n := range parts {
			p, ok := byNum[n]
			if !ok {
				return nil, fmt.Errorf("%w: part %d", backends.ErrPartNotFound, n)
			}
			completed = append(completed, types.CompletedPart{ETag: p.ETag, PartNumber: p.PartNumber})
			size += aws.ToInt64(p.Size)
		}
		if _, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(b.meta), Key: aws.String(up.obj()), UploadId: aws.String(up.id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
		}); err != nil {
			return nil, uploadErr("complete upload", err)
		}
	}
	info, err := b.commitCopy(ctx, b.meta, up.obj(), bucket, key, size, cloneMeta(meta))
	if err != nil {
		return nil, err
	}
	b.removeUploadData(up)
	return info, nil
}

// removeUploadData deletes the staging object and part metadata, best
// effort and with a fresh context.
func (b *Backend) removeUploadData(up upload) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = b.deletePrefix(ctx, up.dir)
}

// AbortMultipartUpload aborts the staging upload and removes its data.
func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	up, err := parseUpload(bucket, key, uploadID)
	if err != nil {
		return err
	}
	_, err = b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b.meta), Key: aws.String(up.obj()), UploadId: aws.String(up.id)})
	if err != nil {
		err = uploadErr("abort upload", err)
		if !errors.Is(err, backends.ErrUploadNotFound) {
			return err
		}
		// Completed upstream but never copied (an interrupted completion):
		// the staging object is what remains to discard.
		if _, herr := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.meta), Key: aws.String(up.obj())}); herr != nil {
			return err
		}
	}
	b.removeUploadData(up)
	return nil
}
