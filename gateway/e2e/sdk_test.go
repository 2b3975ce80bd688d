package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/crc64nvme"
)

// TestSDK drives the server with aws-sdk-go-v2 (default checksum behaviour)
// over HTTP and HTTPS, path-style and virtual-hosted-style.
func TestSDK(t *testing.T) {
	eachScheme(t, serverOpts{Domain: vhostDomain}, func(t *testing.T, s *server) {
		t.Run("path", func(t *testing.T) {
			c, audit := newSDKClient(t, s, sdkClientOpts{})
			defer audit.check(t)
			t.Run("Buckets", func(t *testing.T) { sdkBuckets(t, c) })
			t.Run("Objects", func(t *testing.T) { sdkObjects(t, c) })
			t.Run("Ranges", func(t *testing.T) { sdkRanges(t, c) })
			t.Run("Conditionals", func(t *testing.T) { sdkConditionals(t, c) })
			t.Run("DeleteObjects", func(t *testing.T) { sdkDeleteObjects(t, c) })
			t.Run("Copy", func(t *testing.T) { sdkCopy(t, c) })
			t.Run("List", func(t *testing.T) { sdkList(t, c) })
			t.Run("AwkwardKeys", func(t *testing.T) { sdkAwkwardKeys(t, c) })
			t.Run("Checksums", func(t *testing.T) { sdkChecksums(t, c) })
			t.Run("Multipart", func(t *testing.T) { sdkMultipart(t, c) })
			t.Run("MultipartErrors", func(t *testing.T) { sdkMultipartErrors(t, c) })
			t.Run("TransferManager", func(t *testing.T) { sdkTransferManager(t, c) })
			t.Run("Presign", func(t *testing.T) { sdkPresign(t, s, c) })
			t.Run("ScopedKey", func(t *testing.T) { sdkScopedKey(t, s, c, false) })
			t.Run("NotImplemented", func(t *testing.T) { sdkNotImplemented(t, c) })
			// The premises: what the SDK sent is what DESIGN.md says real clients send.
			mode := "sha256-hex"
			if s.CAPool != nil {
				mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
			}
			if len(audit.modes) > 0 && !audit.sawMode(mode) { // (empty when -run selects no PUT)
				t.Errorf("the SDK never sent x-amz-content-sha256 %s over %s; modes seen: %v", mode, s.URL, audit.modes)
			}
			for _, d := range audit.deletes {
				if d != "crc32" {
					t.Errorf("DeleteObjects sent checksum headers %q, want x-amz-checksum-crc32 only", d)
				}
			}
		})
		t.Run("virtual-hosted", func(t *testing.T) {
			c, audit := newSDKClient(t, s, sdkClientOpts{VirtualHosted: true})
			defer audit.check(t)
			t.Run("Objects", func(t *testing.T) { sdkObjects(t, c) })
			t.Run("List", func(t *testing.T) { sdkList(t, c) })
			t.Run("AwkwardKeys", func(t *testing.T) { sdkAwkwardKeys(t, c) })
			t.Run("Copy", func(t *testing.T) { sdkCopy(t, c) })
			t.Run("DeleteObjects", func(t *testing.T) { sdkDeleteObjects(t, c) })
			t.Run("Presign", func(t *testing.T) { sdkPresign(t, s, c) })
			t.Run("ScopedKey", func(t *testing.T) { sdkScopedKey(t, s, c, true) })
			if audit.vhostRequests == 0 {
				t.Errorf("no request was sent to BUCKET.%s: the virtual-hosted subtest did not test virtual hosts", vhostDomain)
			}
		})
	})
}

func sdkBuckets(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-buckets")
	createBucket(t, c, b)

	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
	wantErr(t, err, "BucketAlreadyOwnedByYou", 409)

	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
	mustOK(t, err, "HeadBucket")
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(uniqueBucket("sdk-missing"))})
	wantErr(t, err, "NotFound", 404)

	for _, bad := range []string{"ab", "UpperCase-bucket", "192.168.10.1", "xn--bucket", "bad_underscore", "-leading-dash", strings.Repeat("a", 64)} {
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bad)})
		if err == nil {
			t.Errorf("CreateBucket(%q) succeeded, want InvalidBucketName", bad)
			continue
		}
		wantErr(t, err, "InvalidBucketName", 400)
	}

	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	mustOK(t, err, "ListBuckets")
	found := false
	for _, x := range lb.Buckets {
		if aws.ToString(x.Name) == b {
			found = true
			if x.CreationDate == nil || time.Since(*x.CreationDate) > time.Hour || time.Until(*x.CreationDate) > time.Minute {
				t.Errorf("ListBuckets %s: CreationDate %v not recent", b, x.CreationDate)
			}
		}
	}
	if !found {
		t.Errorf("ListBuckets does not list %s", b)
	}
	if lb.Owner == nil || aws.ToString(lb.Owner.ID) == "" {
		t.Errorf("ListBuckets: no Owner ID")
	}

	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(b)})
	mustOK(t, err, "GetBucketLocation")
	if loc.LocationConstraint != "" { // AWS answers an empty constraint for us-east-1
		t.Errorf("GetBucketLocation = %q, want empty (us-east-1)", loc.LocationConstraint)
	}
	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
	mustOK(t, err, "GetBucketVersioning")
	if ver.Status != "" || ver.MFADelete != "" {
		t.Errorf("GetBucketVersioning = %q/%q, want empty for a never-versioned bucket", ver.Status, ver.MFADelete)
	}

	putBytes(t, c, b, "obj", []byte("x"))
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	wantErr(t, err, "BucketNotEmpty", 409)
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("obj")})
	mustOK(t, err, "DeleteObject")
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	mustOK(t, err, "DeleteBucket")
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
	wantErr(t, err, "NotFound", 404)
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	wantErr(t, err, "NoSuchBucket", 404)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("obj")})
	wantErr(t, err, "NoSuchBucket", 404)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("obj"), Body: strings.NewReader("x")})
	wantErr(t, err, "NoSuchBucket", 404)
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	wantErr(t, err, "NoSuchBucket", 404)
}

func sdkObjects(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-objects")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)

	body := randomBytes(100_000)
	meta := map[string]string{"color": "blue", "multi-word": "a, b; c", "empty": ""}
	put, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String("docs/report.bin"), Body: bytes.NewReader(body),
		Metadata:           meta,
		ContentType:        aws.String("application/x-report; charset=utf-8"),
		CacheControl:       aws.String("no-cache, no-store"),
		ContentDisposition: aws.String(`attachment; filename="report.bin"`),
		ContentEncoding:    aws.String("gzip"),
		ContentLanguage:    aws.String("en-GB"),
	})
	mustOK(t, err, "PutObject")
	if aws.ToString(put.ETag) != etagOf(body) {
		t.Errorf("PutObject ETag = %s, want %s", aws.ToString(put.ETag), etagOf(body))
	}

	check := func(what string, etag *string, length *int64, ctype, cc, cd, ce, cl *string, md map[string]string, lm *time.Time) {
		t.Helper()
		if aws.ToString(etag) != etagOf(body) {
			t.Errorf("%s ETag = %s, want %s", what, aws.ToString(etag), etagOf(body))
		}
		if aws.ToInt64(length) != int64(len(body)) {
			t.Errorf("%s ContentLength = %d, want %d", what, aws.ToInt64(length), len(body))
		}
		for name, pair := range map[string][2]string{
			"Content-Type":        {aws.ToString(ctype), "application/x-report; charset=utf-8"},
			"Cache-Control":       {aws.ToString(cc), "no-cache, no-store"},
			"Content-Disposition": {aws.ToString(cd), `attachment; filename="report.bin"`},
			"Content-Encoding":    {aws.ToString(ce), "gzip"},
			"Content-Language":    {aws.ToString(cl), "en-GB"},
		} {
			if pair[0] != pair[1] {
				t.Errorf("%s %s = %q, want %q", what, name, pair[0], pair[1])
			}
		}
		if !reflect.DeepEqual(md, meta) {
			t.Errorf("%s Metadata = %v, want %v", what, md, meta)
		}
		if lm == nil || time.Since(*lm) > 10*time.Minute || time.Until(*lm) > time.Minute {
			t.Errorf("%s LastModified = %v, want about now", what, lm)
		}
	}

	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("docs/report.bin")})
	mustOK(t, err, "GetObject")
	data, err := io.ReadAll(got.Body)
	got.Body.Close()
	mustOK(t, err, "read GetObject")
	equalBytes(t, "GetObject body", data, body)
	check("GetObject", got.ETag, got.ContentLength, got.ContentType, got.CacheControl, got.ContentDisposition, got.ContentEncoding, got.ContentLanguage, got.Metadata, got.LastModified)

	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("docs/report.bin")})
	mustOK(t, err, "HeadObject")
	check("HeadObject", head.ETag, head.ContentLength, head.ContentType, head.CacheControl, head.ContentDisposition, head.ContentEncoding, head.ContentLanguage, head.Metadata, head.LastModified)

	// response-* overrides
	ov, err := c.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(b), Key: aws.String("docs/report.bin"),
		ResponseContentType:        aws.String("text/x-override"),
		ResponseContentDisposition: aws.String("inline"),
		ResponseCacheControl:       aws.String("max-age=60"),
	})
	mustOK(t, err, "GetObject with response-content-type")
	ov.Body.Close()
	if aws.ToString(ov.ContentType) != "text/x-override" || aws.ToString(ov.ContentDisposition) != "inline" || aws.ToString(ov.CacheControl) != "max-age=60" {
		t.Errorf("response-* overrides: Content-Type %q, Content-Disposition %q, Cache-Control %q", aws.ToString(ov.ContentType), aws.ToString(ov.ContentDisposition), aws.ToString(ov.CacheControl))
	}

	// Empty object.
	e := putBytes(t, c, b, "empty", nil)
	if aws.ToString(e.ETag) != `"d41d8cd98f00b204e9800998ecf8427e"` {
		t.Errorf("empty object ETag = %s", aws.ToString(e.ETag))
	}
	data, eo := getBytes(t, c, b, "empty")
	if len(data) != 0 || aws.ToInt64(eo.ContentLength) != 0 {
		t.Errorf("empty object: got %d bytes, Content-Length %d", len(data), aws.ToInt64(eo.ContentLength))
	}

	// Overwrite replaces bytes and metadata.
	putBytes(t, c, b, "docs/report.bin", []byte("v2"))
	data, o2 := getBytes(t, c, b, "docs/report.bin")
	equalBytes(t, "overwritten object", data, []byte("v2"))
	if len(o2.Metadata) != 0 {
		t.Errorf("overwritten object kept old metadata %v", o2.Metadata)
	}

	// Missing keys.
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("nope")})
	wantErr(t, err, "NoSuchKey", 404)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("nope")})
	wantErr(t, err, "NotFound", 404)

	// DeleteObject is idempotent.
	for i := 0; i < 2; i++ {
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("docs/report.bin")})
		mustOK(t, err, "DeleteObject")
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("never-existed")})
	mustOK(t, err, "DeleteObject of a missing key")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("docs/report.bin")})
	wantErr(t, err, "NoSuchKey", 404)

	// Conditional PUT: If-None-Match "*" refuses to overwrite.
	putBytes(t, c, b, "once", []byte("first"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("once"), Body: strings.NewReader("second"), IfNoneMatch: aws.String("*")})
	wantErr(t, err, "PreconditionFailed", 412)
	data, _ = getBytes(t, c, b, "once")
	equalBytes(t, "object after refused conditional PUT", data, []byte("first"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("fresh"), Body: strings.NewReader("new"), IfNoneMatch: aws.String("*")})
	mustOK(t, err, "conditional PUT of a new key")

	// User metadata is limited to 2 KB.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("fat-meta"), Body: strings.NewReader("x"),
		Metadata: map[string]string{"big": strings.Repeat("m", 3000)}})
	wantErr(t, err, "MetadataTooLarge", 400)

	// A bad Content-MD5 stores nothing.
	wrong := md5.Sum([]byte("something else"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String("badmd5"), Body: strings.NewReader("payload"),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:])),
	})
	wantErr(t, err, "BadDigest", 400)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("badmd5")})
	wantErr(t, err, "NotFound", 404)
	// A correct Content-MD5 is accepted.
	right := md5.Sum([]byte("payload"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String("goodmd5"), Body: strings.NewReader("payload"),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(right[:])),
	})
	mustOK(t, err, "PutObject with correct Content-MD5")
}

func sdkRanges(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-ranges")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	body := randomBytes(100)
	putBytes(t, c, b, "r", body)

	for _, tc := range []struct {
		rng        string
		from, to   int
		contentRng string
	}{
		{"bytes=0-9", 0, 10, "bytes 0-9/100"},
		{"bytes=-5", 95, 100, "bytes 95-99/100"},
		{"bytes=10-", 10, 100, "bytes 10-99/100"},
		{"bytes=95-200", 95, 100, "bytes 95-99/100"},
		{"bytes=50-50", 50, 51, "bytes 50-50/100"},
	} {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("r"), Range: aws.String(tc.rng)})
		if err != nil {
			t.Errorf("GetObject Range %s: %v", tc.rng, err)
			continue
		}
		data, _ := io.ReadAll(out.Body)
		out.Body.Close()
		equalBytes(t, "Range "+tc.rng, data, body[tc.from:tc.to])
		if aws.ToString(out.ContentRange) != tc.contentRng {
			t.Errorf("Range %s: Content-Range %q, want %q", tc.rng, aws.ToString(out.ContentRange), tc.contentRng)
		}
		if aws.ToInt64(out.ContentLength) != int64(tc.to-tc.from) {
			t.Errorf("Range %s: Content-Length %d, want %d", tc.rng, aws.ToInt64(out.ContentLength), tc.to-tc.from)
		}
		if aws.ToString(out.ETag) != etagOf(body) {
			t.Errorf("Range %s: ETag %s, want whole-object %s", tc.rng, aws.ToString(out.ETag), etagOf(body))
		}
	}
	for _, rng := range []string{"bytes=100-", "bytes=200-300"} {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("r"), Range: aws.String(rng)})
		wantErr(t, err, "InvalidRange", 416)
	}
	// Any satisfiable-looking range of an empty object is unsatisfiable.
	putBytes(t, c, b, "empty", nil)
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("empty"), Range: aws.String("bytes=0-0")})
	wantErr(t, err, "InvalidRange", 416)
}

func sdkConditionals(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-cond")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	body := []byte("conditional body")
	putBytes(t, c, b, "k", body)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
	mustOK(t, err, "HeadObject")
	etag, lm := aws.ToString(head.ETag), aws.ToTime(head.LastModified)

	get := func(in *s3.GetObjectInput) error {
		in.Bucket, in.Key = aws.String(b), aws.String("k")
		out, err := c.GetObject(ctx, in)
		if err == nil {
			data, _ := io.ReadAll(out.Body)
			out.Body.Close()
			equalBytes(t, "conditional GET body", data, body)
		}
		return err
	}
	wantErr(t, get(&s3.GetObjectInput{IfNoneMatch: aws.String(etag)}), "NotModified", 304)
	mustOK(t, get(&s3.GetObjectInput{IfNoneMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}), "If-None-Match other etag")
	wantErr(t, get(&s3.GetObjectInput{IfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}), "PreconditionFailed", 412)
	mustOK(t, get(&s3.GetObjectInput{IfMatch: aws.String(etag)}), "If-Match same etag")
	wantErr(t, get(&s3.GetObjectInput{IfModifiedSince: aws.Time(lm.Add(time.Hour))}), "NotModified", 304)
	mustOK(t, get(&s3.GetObjectInput{IfModifiedSince: aws.Time(lm.Add(-time.Hour))}), "If-Modified-Since an hour before")
	wantErr(t, get(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lm.Add(-time.Hour))}), "PreconditionFailed", 412)
	mustOK(t, get(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lm.Add(time.Hour))}), "If-Unmodified-Since an hour after")
	// RFC 7232 / S3: If-Match true + If-Unmodified-Since false -> 200.
	mustOK(t, get(&s3.GetObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: aws.Time(lm.Add(-time.Hour))}), "If-Match true wins over If-Unmodified-Since")
	// If-None-Match false + If-Modified-Since true -> 304.
	wantErr(t, get(&s3.GetObjectInput{IfNoneMatch: aws.String(etag), IfModifiedSince: aws.Time(lm.Add(-time.Hour))}), "NotModified", 304)

	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k"), IfNoneMatch: aws.String(etag)})
	wantErr(t, err, "NotModified", 304)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k"), IfMatch: aws.String(`"ffffffffffffffffffffffffffffffff"`)})
	wantErr(t, err, "PreconditionFailed", 412)
}

func sdkDeleteObjects(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-delobjs")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	for _, k := range []string{"d/1", "d/2", "d/3 space", "q/1", "q/2", "keep"} {
		putBytes(t, c, b, k, []byte(k))
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("d/1")}, {Key: aws.String("d/2")}, {Key: aws.String("d/3 space")}, {Key: aws.String("d/missing")}},
	}})
	mustOK(t, err, "DeleteObjects")
	var deleted []string
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	sort.Strings(deleted)
	if want := []string{"d/1", "d/2", "d/3 space", "d/missing"}; !slices.Equal(deleted, want) {
		t.Errorf("DeleteObjects Deleted = %q, want %q", deleted, want)
	}
	if len(out.Errors) != 0 {
		t.Errorf("DeleteObjects Errors = %+v", out.Errors)
	}
	qout, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{
		Quiet:   aws.Bool(true),
		Objects: []types.ObjectIdentifier{{Key: aws.String("q/1")}, {Key: aws.String("q/2")}},
	}})
	mustOK(t, err, "DeleteObjects quiet")
	if len(qout.Deleted) != 0 || len(qout.Errors) != 0 {
		t.Errorf("quiet DeleteObjects reported Deleted %d, Errors %d; want none", len(qout.Deleted), len(qout.Errors))
	}
	if keys := listAll(t, c, b, ""); !slices.Equal(keys, []string{"keep"}) {
		t.Errorf("after DeleteObjects the bucket holds %q, want [keep]", keys)
	}
}

func copySource(bucket, key string) string {
	return bucket + "/" + strings.ReplaceAll(url.PathEscape(key), "%2F", "/")
}

func sdkCopy(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-copy")
	b2 := uniqueBucket("sdk-copy-dst")
	createBucket(t, c, b)
	createBucket(t, c, b2)
	defer deleteBucketAll(t, c, b)
	defer deleteBucketAll(t, c, b2)

	src := "src dir/ü+key.txt"
	body := randomBytes(70_000)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(src), Body: bytes.NewReader(body),
		ContentType: aws.String("text/a"), Metadata: map[string]string{"m": "1"}})
	mustOK(t, err, "PutObject source")

	// COPY directive (default): bytes, content type and metadata follow.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b2), Key: aws.String("copy"), CopySource: aws.String(copySource(b, src))})
	mustOK(t, err, "CopyObject COPY")
	if cp.CopyObjectResult == nil || aws.ToString(cp.CopyObjectResult.ETag) != etagOf(body) {
		t.Errorf("CopyObject ETag = %+v, want %s", cp.CopyObjectResult, etagOf(body))
	}
	data, o := getBytes(t, c, b2, "copy")
	equalBytes(t, "copied body", data, body)
	if aws.ToString(o.ContentType) != "text/a" || !reflect.DeepEqual(o.Metadata, map[string]string{"m": "1"}) {
		t.Errorf("COPY directive: Content-Type %q Metadata %v, want text/a map[m:1]", aws.ToString(o.ContentType), o.Metadata)
	}

	// REPLACE directive.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("replaced"), CopySource: aws.String(copySource(b, src)),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/b"), Metadata: map[string]string{"n": "2"}})
	mustOK(t, err, "CopyObject REPLACE")
	data, o = getBytes(t, c, b, "replaced")
	equalBytes(t, "REPLACE copy body", data, body)
	if aws.ToString(o.ContentType) != "text/b" || !reflect.DeepEqual(o.Metadata, map[string]string{"n": "2"}) {
		t.Errorf("REPLACE directive: Content-Type %q Metadata %v, want text/b map[n:2]", aws.ToString(o.ContentType), o.Metadata)
	}

	// Copy onto itself without changing anything is illegal.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String(src), CopySource: aws.String(copySource(b, src))})
	wantErr(t, err, "InvalidRequest", 400)
	// Copy onto itself with REPLACE changes metadata in place.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String(src), CopySource: aws.String(copySource(b, src)),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/c"), Metadata: map[string]string{"self": "yes"}})
	mustOK(t, err, "CopyObject onto itself with REPLACE")
	data, o = getBytes(t, c, b, src)
	equalBytes(t, "self-copied body", data, body)
	if aws.ToString(o.ContentType) != "text/c" || !reflect.DeepEqual(o.Metadata, map[string]string{"self": "yes"}) {
		t.Errorf("self copy REPLACE: Content-Type %q Metadata %v, want text/c map[self:yes]", aws.ToString(o.ContentType), o.Metadata)
	}

	// x-amz-copy-source-if-match.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("cond"), CopySource: aws.String(copySource(b, src)),
		CopySourceIfMatch: aws.String(`"00000000000000000000000000000000"`)})
	wantErr(t, err, "PreconditionFailed", 412)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("cond")})
	wantErr(t, err, "NotFound", 404)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("cond"), CopySource: aws.String(copySource(b, src)),
		CopySourceIfMatch: aws.String(etagOf(body))})
	mustOK(t, err, "CopyObject with matching copy-source-if-match")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("cond2"), CopySource: aws.String(copySource(b, src)),
		CopySourceIfNoneMatch: aws.String(etagOf(body))})
	wantErr(t, err, "PreconditionFailed", 412)

	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("x"), CopySource: aws.String(copySource(b, "does-not-exist"))})
	wantErr(t, err, "NoSuchKey", 404)
}

var listKeys = []string{
	"docs/x.txt", "photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/readme",
	"sp ace/k y", "top.txt", "ünï/çødé", "a+plus", "per%cent",
}

func sdkList(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-list")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	for _, k := range listKeys {
		putBytes(t, c, b, k, []byte("v:"+k))
	}
	sorted := slices.Clone(listKeys)
	sort.Strings(sorted) // S3 lists in UTF-8 byte order, which is Go string order

	keysOf := func(objs []types.Object) []string {
		var ks []string
		for _, o := range objs {
			ks = append(ks, aws.ToString(o.Key))
		}
		return ks
	}
	prefixesOf := func(ps []types.CommonPrefix) []string {
		var ks []string
		for _, p := range ps {
			ks = append(ks, aws.ToString(p.Prefix))
		}
		return ks
	}

	all, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	mustOK(t, err, "ListObjectsV2")
	if got := keysOf(all.Contents); !slices.Equal(got, sorted) {
		t.Errorf("ListObjectsV2 keys = %q, want %q", got, sorted)
	}
	if aws.ToInt32(all.KeyCount) != int32(len(sorted)) || aws.ToBool(all.IsTruncated) {
		t.Errorf("ListObjectsV2 KeyCount %d IsTruncated %v", aws.ToInt32(all.KeyCount), aws.ToBool(all.IsTruncated))
	}
	for _, o := range all.Contents {
		if aws.ToString(o.ETag) != etagOf([]byte("v:"+aws.ToString(o.Key))) || aws.ToInt64(o.Size) != int64(len("v:"+aws.ToString(o.Key))) {
			t.Errorf("ListObjectsV2 entry %q: ETag %s Size %d", aws.ToString(o.Key), aws.ToString(o.ETag), aws.ToInt64(o.Size))
		}
		if o.LastModified == nil || o.StorageClass != types.ObjectStorageClassStandard {
			t.Errorf("ListObjectsV2 entry %q: LastModified %v StorageClass %q", aws.ToString(o.Key), o.LastModified, o.StorageClass)
		}
		if o.Owner != nil {
			t.Errorf("ListObjectsV2 without fetch-owner returned Owner for %q", aws.ToString(o.Key))
		}
	}

	pfx, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String("photos/")})
	mustOK(t, err, "ListObjectsV2 prefix")
	if got, want := keysOf(pfx.Contents), []string{"photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/readme"}; !slices.Equal(got, want) {
		t.Errorf("prefix photos/: %q, want %q", got, want)
	}

	d, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Delimiter: aws.String("/")})
	mustOK(t, err, "ListObjectsV2 delimiter")
	if got, want := keysOf(d.Contents), []string{"a+plus", "per%cent", "top.txt"}; !slices.Equal(got, want) {
		t.Errorf("delimiter /: contents %q, want %q", got, want)
	}
	if got, want := prefixesOf(d.CommonPrefixes), []string{"docs/", "photos/", "sp ace/", "ünï/"}; !slices.Equal(got, want) {
		t.Errorf("delimiter /: common prefixes %q, want %q", got, want)
	}
	if aws.ToInt32(d.KeyCount) != 7 {
		t.Errorf("delimiter /: KeyCount %d, want 7 (contents + common prefixes)", aws.ToInt32(d.KeyCount))
	}

	pd, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String("photos/"), Delimiter: aws.String("/")})
	mustOK(t, err, "ListObjectsV2 prefix+delimiter")
	if got, want := keysOf(pd.Contents), []string{"photos/readme"}; !slices.Equal(got, want) {
		t.Errorf("prefix photos/ delimiter /: contents %q, want %q", got, want)
	}
	if got, want := prefixesOf(pd.CommonPrefixes), []string{"photos/2024/", "photos/2025/"}; !slices.Equal(got, want) {
		t.Errorf("prefix photos/ delimiter /: prefixes %q, want %q", got, want)
	}

	// max-keys pagination with continuation tokens.
	var paged []string
	var token *string
	pages := 0
	for {
		page, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), MaxKeys: aws.Int32(3), ContinuationToken: token})
		mustOK(t, err, "ListObjectsV2 page")
		pages++
		if len(page.Contents) > 3 {
			t.Errorf("page %d has %d keys with max-keys 3", pages, len(page.Contents))
		}
		if aws.ToInt32(page.MaxKeys) != 3 {
			t.Errorf("page %d MaxKeys = %d", pages, aws.ToInt32(page.MaxKeys))
		}
		paged = append(paged, keysOf(page.Contents)...)
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		if aws.ToString(page.NextContinuationToken) == "" {
			t.Fatalf("page %d truncated without NextContinuationToken", pages)
		}
		token = page.NextContinuationToken
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
	}
	if !slices.Equal(paged, sorted) || pages != 4 {
		t.Errorf("paginated listing (%d pages) = %q, want %q in 4 pages", pages, paged, sorted)
	}

	// Pagination with a delimiter: common prefixes count against max-keys and
	// are never repeated across pages.
	var pagedD, wantD []string
	for _, o := range d.Contents {
		wantD = append(wantD, aws.ToString(o.Key))
	}
	wantD = append(wantD, prefixesOf(d.CommonPrefixes)...)
	sort.Strings(wantD)
	token = nil
	for n := 0; n < 20; n++ {
		page, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), ContinuationToken: token})
		mustOK(t, err, "ListObjectsV2 delimiter page")
		if got := len(page.Contents) + len(page.CommonPrefixes); got > 2 || int32(got) != aws.ToInt32(page.KeyCount) {
			t.Errorf("delimiter page %d: %d entries, KeyCount %d, max-keys 2", n, got, aws.ToInt32(page.KeyCount))
		}
		pagedD = append(pagedD, keysOf(page.Contents)...)
		pagedD = append(pagedD, prefixesOf(page.CommonPrefixes)...)
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		token = page.NextContinuationToken
	}
	sort.Strings(pagedD)
	if !slices.Equal(pagedD, wantD) {
		t.Errorf("delimiter pagination with max-keys 2: %q, want %q", pagedD, wantD)
	}

	// A prefix that ends inside a path segment.
	pp, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String("photos/20"), Delimiter: aws.String("/")})
	mustOK(t, err, "ListObjectsV2 partial prefix")
	if got, want := prefixesOf(pp.CommonPrefixes), []string{"photos/2024/", "photos/2025/"}; !slices.Equal(got, want) || len(pp.Contents) != 0 {
		t.Errorf("prefix photos/20 delimiter /: prefixes %q contents %q, want %q", got, keysOf(pp.Contents), want)
	}
	none, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String("nothing-here/")})
	mustOK(t, err, "ListObjectsV2 empty prefix")
	if len(none.Contents) != 0 || aws.ToInt32(none.KeyCount) != 0 || aws.ToBool(none.IsTruncated) {
		t.Errorf("empty listing: %d contents KeyCount %d", len(none.Contents), aws.ToInt32(none.KeyCount))
	}

	sa, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), StartAfter: aws.String("photos/2024/b.jpg")})
	mustOK(t, err, "ListObjectsV2 start-after")
	i := slices.Index(sorted, "photos/2024/b.jpg")
	if got := keysOf(sa.Contents); !slices.Equal(got, sorted[i+1:]) {
		t.Errorf("start-after: %q, want %q", got, sorted[i+1:])
	}

	fo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), FetchOwner: aws.Bool(true), MaxKeys: aws.Int32(2)})
	mustOK(t, err, "ListObjectsV2 fetch-owner")
	for _, o := range fo.Contents {
		if o.Owner == nil || aws.ToString(o.Owner.ID) == "" {
			t.Errorf("fetch-owner: no Owner.ID for %q", aws.ToString(o.Key))
		}
	}

	// encoding-type=url: keys, prefixes come back URL-encoded.
	enc, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), EncodingType: types.EncodingTypeUrl})
	mustOK(t, err, "ListObjectsV2 encoding-type=url")
	if enc.EncodingType != types.EncodingTypeUrl {
		t.Errorf("encoding-type=url: response EncodingType %q", enc.EncodingType)
	}
	var decoded []string
	for _, o := range enc.Contents {
		raw := aws.ToString(o.Key)
		if strings.IndexFunc(raw, func(r rune) bool { return r == ' ' || r > 0x7e }) >= 0 {
			t.Errorf("encoding-type=url: key %q not encoded", raw)
		}
		k, err := url.QueryUnescape(raw)
		if err != nil {
			t.Errorf("encoding-type=url: key %q does not decode: %v", raw, err)
		}
		decoded = append(decoded, k)
	}
	if !slices.Equal(decoded, sorted) {
		t.Errorf("encoding-type=url: decoded keys %q, want %q", decoded, sorted)
	}
	encd, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), EncodingType: types.EncodingTypeUrl, Delimiter: aws.String("/")})
	mustOK(t, err, "ListObjectsV2 encoding-type=url delimiter")
	var decodedPfx []string
	for _, p := range encd.CommonPrefixes {
		k, err := url.QueryUnescape(aws.ToString(p.Prefix))
		if err != nil {
			t.Errorf("encoding-type=url: prefix %q does not decode", aws.ToString(p.Prefix))
		}
		decodedPfx = append(decodedPfx, k)
	}
	if want := []string{"docs/", "photos/", "sp ace/", "ünï/"}; !slices.Equal(decodedPfx, want) {
		t.Errorf("encoding-type=url: decoded prefixes %q, want %q (raw %q)", decodedPfx, want, prefixesOf(encd.CommonPrefixes))
	}

	// ListObjects v1 with marker and max-keys.
	v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(b), Marker: aws.String("photos/readme")})
	mustOK(t, err, "ListObjects marker")
	j := slices.Index(sorted, "photos/readme")
	if got := keysOf(v1.Contents); !slices.Equal(got, sorted[j+1:]) {
		t.Errorf("ListObjects marker: %q, want %q", got, sorted[j+1:])
	}
	if aws.ToString(v1.Marker) != "photos/readme" {
		t.Errorf("ListObjects echoes Marker %q", aws.ToString(v1.Marker))
	}
	var v1all []string
	marker := ""
	for n := 0; n < 20; n++ {
		page, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(b), Marker: aws.String(marker), MaxKeys: aws.Int32(4)})
		mustOK(t, err, "ListObjects page")
		ks := keysOf(page.Contents)
		v1all = append(v1all, ks...)
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		if len(ks) == 0 {
			t.Fatal("ListObjects: truncated empty page")
		}
		marker = ks[len(ks)-1]
		if page.NextMarker != nil && aws.ToString(page.NextMarker) != marker {
			t.Errorf("ListObjects NextMarker %q, want last key %q", aws.ToString(page.NextMarker), marker)
		}
	}
	if !slices.Equal(v1all, sorted) {
		t.Errorf("ListObjects v1 paginated = %q, want %q", v1all, sorted)
	}
	v1d, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(b), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
	mustOK(t, err, "ListObjects delimiter max-keys")
	if !aws.ToBool(v1d.IsTruncated) || aws.ToString(v1d.NextMarker) == "" {
		t.Errorf("ListObjects delimiter+max-keys 2: IsTruncated %v NextMarker %q, want truncated with NextMarker", aws.ToBool(v1d.IsTruncated), aws.ToString(v1d.NextMarker))
	}
}

func sdkAwkwardKeys(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-awkward")
	other := uniqueBucket("sdk-awkward-other")
	createBucket(t, c, b)
	createBucket(t, c, other)
	defer deleteBucketAll(t, c, b)
	defer deleteBucketAll(t, c, other)

	long := ""
	for len(long) < 1024 {
		long += strings.Repeat("L", 99) + "/"
	}
	long = long[:1023] + "Z"
	keys := []string{
		"a//b", "./x", "../y", "dir/", "100%", "a+b c", "ü/é", "a%2Fb", "a/b", "x/./y", "x/../y",
		"..", ".", "/leading", "trailing/..", "tab\tkey", "q?uery=1&x#frag", "semi;colon,comma", "~tilde*star'quote(paren)",
		"../" + other + "/escaped", long,
		// a key that is also a "folder" of other keys
		"a", "a/b/c", "dir", "dir/file",
	}
	for i, k := range keys {
		putBytes(t, c, b, k, []byte("value-"+k[:min(len(k), 16)]+string(rune('A'+i))))
	}
	for i, k := range keys {
		data, _ := getBytes(t, c, b, k)
		equalBytes(t, "round trip of "+strconvQ(k), data, []byte("value-"+k[:min(len(k), 16)]+string(rune('A'+i))))
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(k)})
		mustOK(t, err, "HeadObject "+strconvQ(k))
	}
	got := listAll(t, c, b, "")
	want := slices.Clone(keys)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("awkward keys listing:\n got  %q\n want %q", got, want)
	}
	if o := listAll(t, c, other, ""); len(o) != 0 {
		t.Errorf("key %q escaped into bucket %s: %q", "../"+other+"/escaped", other, o)
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(other), Key: aws.String("escaped")})
	wantErr(t, err, "NoSuchKey", 404)

	// A key longer than 1024 bytes is refused.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(long + "X"), Body: strings.NewReader("x")})
	wantErr(t, err, "KeyTooLongError", 400)

	// Deleting with awkward keys works too.
	for _, k := range keys {
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String(k)})
		mustOK(t, err, "DeleteObject "+strconvQ(k))
	}
	if left := listAll(t, c, b, ""); len(left) != 0 {
		t.Errorf("after deleting every awkward key the bucket still lists %q", left)
	}
}

// strconvQ quotes a key for messages, shortening long ones.
func strconvQ(s string) string {
	if len(s) > 60 {
		return strconv.Quote(s[:30]) + "…" + strconv.Quote(s[len(s)-10:]) + " (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return strconv.Quote(s)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func crcBytes32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func sdkChecksums(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-cksum")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	body := randomBytes(300_000)
	s256 := sha256.Sum256(body)
	s1 := sha1.Sum(body)
	want := map[types.ChecksumAlgorithm]string{
		types.ChecksumAlgorithmCrc32:     b64(crcBytes32(crc32.ChecksumIEEE(body))),
		types.ChecksumAlgorithmCrc32c:    b64(crcBytes32(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))),
		types.ChecksumAlgorithmCrc64nvme: b64(binary.BigEndian.AppendUint64(nil, crc64nvme.Checksum(body))),
		types.ChecksumAlgorithmSha1:      b64(s1[:]),
		types.ChecksumAlgorithmSha256:    b64(s256[:]),
	}
	pick := func(alg types.ChecksumAlgorithm, crc32v, crc32c, crc64, sha1v, sha256v *string) string {
		switch alg {
		case types.ChecksumAlgorithmCrc32:
			return aws.ToString(crc32v)
		case types.ChecksumAlgorithmCrc32c:
			return aws.ToString(crc32c)
		case types.ChecksumAlgorithmCrc64nvme:
			return aws.ToString(crc64)
		case types.ChecksumAlgorithmSha1:
			return aws.ToString(sha1v)
		default:
			return aws.ToString(sha256v)
		}
	}
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmCrc32} {
		key := "ck-" + string(alg)
		put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: bytes.NewReader(body), ChecksumAlgorithm: alg})
		if err != nil {
			t.Errorf("PutObject ChecksumAlgorithm %s: %v", alg, err)
			continue
		}
		if got := pick(alg, put.ChecksumCRC32, put.ChecksumCRC32C, put.ChecksumCRC64NVME, put.ChecksumSHA1, put.ChecksumSHA256); got != want[alg] {
			t.Errorf("PutObject %s: response checksum %q, want %q", alg, got, want[alg])
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Errorf("GetObject ChecksumMode ENABLED (%s): %v", alg, err)
			continue
		}
		data, err := io.ReadAll(get.Body) // the SDK validates the checksum while reading
		get.Body.Close()
		if err != nil {
			t.Errorf("reading GetObject (%s) with checksum validation: %v", alg, err)
		}
		equalBytes(t, "GetObject body "+string(alg), data, body)
		if got := pick(alg, get.ChecksumCRC32, get.ChecksumCRC32C, get.ChecksumCRC64NVME, get.ChecksumSHA1, get.ChecksumSHA256); got != want[alg] {
			t.Errorf("GetObject %s: checksum %q, want %q", alg, got, want[alg])
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Errorf("HeadObject ChecksumMode ENABLED (%s): %v", alg, err)
			continue
		}
		if got := pick(alg, head.ChecksumCRC32, head.ChecksumCRC32C, head.ChecksumCRC64NVME, head.ChecksumSHA1, head.ChecksumSHA256); got != want[alg] {
			t.Errorf("HeadObject %s: checksum %q, want %q", alg, got, want[alg])
		}
	}

	// A wrong precomputed checksum is refused and nothing is stored.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("bad-crc"), Body: bytes.NewReader(body),
		ChecksumCRC32: aws.String(b64(crcBytes32(crc32.ChecksumIEEE(body) + 1)))})
	wantErr(t, err, "BadDigest", 400)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("bad-crc")})
	wantErr(t, err, "NotFound", 404)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("bad-sha"), Body: bytes.NewReader(body),
		ChecksumSHA256: aws.String(b64(make([]byte, 32)))})
	wantErr(t, err, "BadDigest", 400)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("bad-sha")})
	wantErr(t, err, "NotFound", 404)
}

const mib = 1 << 20

func sdkMultipart(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-mpu")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	key := "big/object.bin"
	parts := [][]byte{randomBytes(5 * mib), randomBytes(5 * mib), randomBytes(1024)}
	whole := bytes.Join(parts, nil)

	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key),
		ContentType: aws.String("application/x-mpu"), Metadata: map[string]string{"origin": "mpu"}})
	mustOK(t, err, "CreateMultipartUpload")
	uid := cr.UploadId
	if aws.ToString(uid) == "" || aws.ToString(cr.Key) != key || aws.ToString(cr.Bucket) != b {
		t.Fatalf("CreateMultipartUpload: UploadId %q Key %q Bucket %q", aws.ToString(uid), aws.ToString(cr.Key), aws.ToString(cr.Bucket))
	}
	var completed []types.CompletedPart
	for i, p := range parts {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: uid,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		mustOK(t, err, "UploadPart")
		if aws.ToString(up.ETag) != etagOf(p) {
			t.Errorf("UploadPart %d ETag %s, want %s", i+1, aws.ToString(up.ETag), etagOf(p))
		}
		completed = append(completed, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: uid})
	mustOK(t, err, "ListParts")
	if len(lp.Parts) != 3 {
		t.Errorf("ListParts: %d parts, want 3", len(lp.Parts))
	}
	for i, p := range lp.Parts {
		if i < 3 && (aws.ToInt32(p.PartNumber) != int32(i+1) || aws.ToInt64(p.Size) != int64(len(parts[i])) || aws.ToString(p.ETag) != etagOf(parts[i])) {
			t.Errorf("ListParts[%d] = number %d size %d etag %s", i, aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size), aws.ToString(p.ETag))
		}
	}
	lp2, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: uid, MaxParts: aws.Int32(2)})
	mustOK(t, err, "ListParts max-parts")
	if len(lp2.Parts) != 2 || !aws.ToBool(lp2.IsTruncated) || aws.ToString(lp2.NextPartNumberMarker) != "2" {
		t.Errorf("ListParts max-parts 2: %d parts, truncated %v, next marker %q", len(lp2.Parts), aws.ToBool(lp2.IsTruncated), aws.ToString(lp2.NextPartNumberMarker))
	}

	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
	mustOK(t, err, "ListMultipartUploads")
	found := false
	for _, u := range lu.Uploads {
		if aws.ToString(u.Key) == key && aws.ToString(u.UploadId) == aws.ToString(uid) {
			found = true
		}
	}
	if !found {
		t.Errorf("ListMultipartUploads does not show %s/%s", key, aws.ToString(uid))
	}
	// Not visible as an object before completion.
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	wantErr(t, err, "NotFound", 404)

	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: uid,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}})
	mustOK(t, err, "CompleteMultipartUpload")
	wantETag := multipartETag(parts...)
	if aws.ToString(done.ETag) != wantETag {
		t.Errorf("CompleteMultipartUpload ETag %s, want %s", aws.ToString(done.ETag), wantETag)
	}

	data, o := getBytes(t, c, b, key)
	equalBytes(t, "multipart object", data, whole)
	if aws.ToString(o.ETag) != wantETag || aws.ToString(o.ContentType) != "application/x-mpu" || o.Metadata["origin"] != "mpu" {
		t.Errorf("multipart object: ETag %s Content-Type %q Metadata %v", aws.ToString(o.ETag), aws.ToString(o.ContentType), o.Metadata)
	}

	pn, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key), PartNumber: aws.Int32(2)})
	mustOK(t, err, "GetObject partNumber=2")
	pdata, _ := io.ReadAll(pn.Body)
	pn.Body.Close()
	equalBytes(t, "GetObject partNumber=2", pdata, parts[1])
	if aws.ToInt32(pn.PartsCount) != 3 {
		t.Errorf("GetObject partNumber=2: x-amz-mp-parts-count %d, want 3", aws.ToInt32(pn.PartsCount))
	}
	if want := "bytes 5242880-10485759/10486784"; aws.ToString(pn.ContentRange) != want {
		t.Errorf("GetObject partNumber=2: Content-Range %q, want %q", aws.ToString(pn.ContentRange), want)
	}
	hp, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key), PartNumber: aws.Int32(3)})
	mustOK(t, err, "HeadObject partNumber=3")
	if aws.ToInt64(hp.ContentLength) != 1024 || aws.ToInt32(hp.PartsCount) != 3 {
		t.Errorf("HeadObject partNumber=3: Content-Length %d parts-count %d", aws.ToInt64(hp.ContentLength), aws.ToInt32(hp.PartsCount))
	}

	lu, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
	mustOK(t, err, "ListMultipartUploads after complete")
	if len(lu.Uploads) != 0 {
		t.Errorf("ListMultipartUploads after complete lists %d uploads", len(lu.Uploads))
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: uid})
	wantErr(t, err, "NoSuchUpload", 404)

	// UploadPartCopy with ranges from the completed object.
	cr2, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("copied")})
	mustOK(t, err, "CreateMultipartUpload (copy)")
	var cparts []types.CompletedPart
	for i, rng := range []string{"bytes=0-5242879", "bytes=10485760-10486783"} {
		pc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(b), Key: aws.String("copied"), UploadId: cr2.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(copySource(b, key)), CopySourceRange: aws.String(rng)})
		mustOK(t, err, "UploadPartCopy "+rng)
		if pc.CopyPartResult == nil {
			t.Fatalf("UploadPartCopy %s: no CopyPartResult", rng)
		}
		cparts = append(cparts, types.CompletedPart{ETag: pc.CopyPartResult.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("copied"), UploadId: cr2.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cparts}})
	mustOK(t, err, "CompleteMultipartUpload (copy)")
	data, o = getBytes(t, c, b, "copied")
	equalBytes(t, "UploadPartCopy result", data, append(slices.Clone(parts[0]), parts[2]...))
	if aws.ToString(o.ETag) != multipartETag(parts[0], parts[2]) {
		t.Errorf("UploadPartCopy result ETag %s, want %s", aws.ToString(o.ETag), multipartETag(parts[0], parts[2]))
	}
}

func sdkMultipartErrors(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-mpuerr")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	create := func(key string) *string {
		cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key)})
		mustOK(t, err, "CreateMultipartUpload")
		return cr.UploadId
	}
	upload := func(key string, uid *string, n int32, body []byte) types.CompletedPart {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: uid, PartNumber: aws.Int32(n), Body: bytes.NewReader(body)})
		mustOK(t, err, "UploadPart")
		return types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(n)}
	}
	complete := func(key string, uid *string, parts ...types.CompletedPart) error {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: uid,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		return err
	}

	// EntityTooSmall: a non-last part under 5 MiB.
	uid := create("small")
	p1 := upload("small", uid, 1, randomBytes(1024))
	p2 := upload("small", uid, 2, randomBytes(1024))
	wantErr(t, complete("small", uid, p1, p2), "EntityTooSmall", 400)
	_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("small")})
	wantErr(t, err, "NotFound", 404)

	// InvalidPart: wrong ETag, and a part never uploaded (part 1 is 5 MiB so
	// that no size rule competes with the one under test).
	uid2 := create("invalid")
	q1 := upload("invalid", uid2, 1, randomBytes(5*mib))
	wantErr(t, complete("invalid", uid2, types.CompletedPart{ETag: aws.String(`"0123456789abcdef0123456789abcdef"`), PartNumber: aws.Int32(1)}), "InvalidPart", 400)
	wantErr(t, complete("invalid", uid2, q1, types.CompletedPart{ETag: q1.ETag, PartNumber: aws.Int32(7)}), "InvalidPart", 400)

	// InvalidPartOrder.
	uid3 := create("order")
	r1 := upload("order", uid3, 1, randomBytes(5*mib))
	r2 := upload("order", uid3, 2, randomBytes(5*mib)) // both large: only the order is wrong
	wantErr(t, complete("order", uid3, r2, r1), "InvalidPartOrder", 400)
	// The upload is still usable after a refused completion.
	mustOK(t, complete("order", uid3, r1, r2), "CompleteMultipartUpload after InvalidPartOrder")

	// Abort, then the upload is gone.
	uid4 := create("aborted")
	a1 := upload("aborted", uid4, 1, randomBytes(100))
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("aborted"), UploadId: uid4})
	mustOK(t, err, "AbortMultipartUpload")
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("aborted"), UploadId: uid4, PartNumber: aws.Int32(2), Body: strings.NewReader("late")})
	wantErr(t, err, "NoSuchUpload", 404)
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("aborted"), UploadId: uid4})
	wantErr(t, err, "NoSuchUpload", 404)
	wantErr(t, complete("aborted", uid4, a1), "NoSuchUpload", 404)
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("x"), UploadId: aws.String("no-such-upload-id"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantErr(t, err, "NoSuchUpload", 404)

	// Clean up the leftover uploads.
	for _, u := range []struct {
		k   string
		uid *string
	}{{"small", uid}, {"invalid", uid2}} {
		_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(u.k), UploadId: u.uid})
		mustOK(t, err, "AbortMultipartUpload "+u.k)
	}
}

func sdkTransferManager(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-tm")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	body := randomBytes(40 * mib)
	want := sha256.Sum256(body)
	tm := transfermanager.New(c, func(o *transfermanager.Options) {
		o.PartSizeBytes = 8 * mib
		o.MultipartUploadThreshold = 8 * mib
	})
	up, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(b), Key: aws.String("tm/40mib"), Body: bytes.NewReader(body)})
	mustOK(t, err, "transfermanager UploadObject")
	if !strings.HasSuffix(aws.ToString(up.ETag), `-5"`) {
		t.Errorf("transfermanager upload ETag %s, want a 5-part multipart ETag", aws.ToString(up.ETag))
	}
	w := &memWriterAt{}
	_, err = tm.DownloadObject(ctx, &transfermanager.DownloadObjectInput{Bucket: aws.String(b), Key: aws.String("tm/40mib"), WriterAt: w})
	mustOK(t, err, "transfermanager DownloadObject")
	if got := sha256.Sum256(w.Bytes()); got != want || len(w.Bytes()) != len(body) {
		t.Errorf("transfermanager download: %d bytes, sha256 mismatch %v", len(w.Bytes()), got != want)
	}
	g, err := tm.GetObject(ctx, &transfermanager.GetObjectInput{Bucket: aws.String(b), Key: aws.String("tm/40mib")})
	mustOK(t, err, "transfermanager GetObject")
	h := sha256.New()
	if _, err := io.Copy(h, g.Body); err != nil {
		t.Errorf("transfermanager GetObject read: %v", err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("transfermanager GetObject: sha256 mismatch")
	}
}

func sdkPresign(t *testing.T, s *server, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-presign")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	body := []byte("presigned content ✓")
	putBytes(t, c, b, "dir/pre signed+ü.txt", body)
	pc := s3.NewPresignClient(c)
	hc := s.HTTPClient()

	pg, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("dir/pre signed+ü.txt")}, s3.WithPresignExpires(5*time.Minute))
	mustOK(t, err, "PresignGetObject")
	resp, err := hc.Get(pg.URL)
	mustOK(t, err, "GET presigned URL")
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("presigned GET %s: %d %s", pg.URL, resp.StatusCode, data)
	} else {
		equalBytes(t, "presigned GET", data, body)
	}
	// Tampering with the signature is rejected.
	bad := flipSignature(t, pg.URL)
	resp, err = hc.Get(bad)
	mustOK(t, err, "GET tampered presigned URL")
	data, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !bytes.Contains(data, []byte("<Code>SignatureDoesNotMatch</Code>")) {
		t.Errorf("tampered presigned GET: %d %s, want 403 SignatureDoesNotMatch", resp.StatusCode, data)
	}

	pp, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("uploaded by url.txt"), ContentType: aws.String("text/plain")})
	mustOK(t, err, "PresignPutObject")
	upBody := []byte("put through a presigned URL")
	req, _ := http.NewRequest(pp.Method, pp.URL, bytes.NewReader(upBody))
	for k, v := range pp.SignedHeader {
		if strings.EqualFold(k, "Host") {
			continue
		}
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err = hc.Do(req)
	mustOK(t, err, "PUT presigned URL")
	data, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("presigned PUT: %d %s", resp.StatusCode, data)
	} else if resp.Header.Get("ETag") != etagOf(upBody) {
		t.Errorf("presigned PUT ETag %q, want %s", resp.Header.Get("ETag"), etagOf(upBody))
	}
	got, o := getBytes(t, c, b, "uploaded by url.txt")
	equalBytes(t, "object uploaded by presigned PUT", got, upBody)
	if aws.ToString(o.ContentType) != "text/plain" {
		t.Errorf("presigned PUT Content-Type %q", aws.ToString(o.ContentType))
	}

	// An expired URL is refused.
	pe, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("dir/pre signed+ü.txt")}, s3.WithPresignExpires(time.Second))
	mustOK(t, err, "PresignGetObject 1s")
	time.Sleep(2100 * time.Millisecond)
	resp, err = hc.Get(pe.URL)
	mustOK(t, err, "GET expired URL")
	data, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !bytes.Contains(data, []byte("<Code>AccessDenied</Code>")) {
		t.Errorf("expired presigned GET: %d %s, want 403 AccessDenied", resp.StatusCode, data)
	}
}

// sigV2Presign builds a SigV2 query-string presigned GET URL (path-style),
// as aws-cli 1.x and boto3 make by default.
func sigV2Presign(base, bucket, key, ak, sk string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	resource := "/" + bucket + "/" + key
	mac := hmac.New(sha1.New, []byte(sk))
	mac.Write([]byte("GET\n\n\n" + exp + "\n" + resource))
	q := url.Values{"AWSAccessKeyId": {ak}, "Expires": {exp}, "Signature": {base64.StdEncoding.EncodeToString(mac.Sum(nil))}}
	return base + resource + "?" + q.Encode()
}

// flipSignature changes one hex digit of the X-Amz-Signature of a presigned URL.
func flipSignature(t *testing.T, raw string) string {
	t.Helper()
	i := strings.Index(raw, "X-Amz-Signature=")
	if i < 0 {
		t.Fatalf("no X-Amz-Signature in %s", raw)
	}
	i += len("X-Amz-Signature=")
	c := byte('0')
	if raw[i] == '0' {
		c = '1'
	}
	return raw[:i] + string(c) + raw[i+1:]
}

func sdkScopedKey(t *testing.T, s *server, root *s3.Client, vhost bool) {
	ctx := context.Background()
	mine, theirs := uniqueBucket("sdk-scoped-mine"), uniqueBucket("sdk-scoped-theirs")
	createBucket(t, root, mine)
	createBucket(t, root, theirs)
	defer deleteBucketAll(t, root, mine)
	defer deleteBucketAll(t, root, theirs)
	putBytes(t, root, theirs, "secret", []byte("not yours"))

	k := s.CreateKey(t, mine, "e2e-app")
	c, audit := newSDKClient(t, s, sdkClientOpts{AccessKey: k.AccessKeyID, SecretKey: k.SecretAccessKey, VirtualHosted: vhost})
	defer audit.check(t)

	putBytes(t, c, mine, "hello", []byte("hi"))
	data, _ := getBytes(t, c, mine, "hello")
	equalBytes(t, "scoped key GET", data, []byte("hi"))
	if ks := listAll(t, c, mine, ""); !slices.Equal(ks, []string{"hello"}) {
		t.Errorf("scoped key listing %q", ks)
	}
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	mustOK(t, err, "ListBuckets with scoped key")
	var names []string
	for _, x := range lb.Buckets {
		names = append(names, aws.ToString(x.Name))
	}
	if !slices.Equal(names, []string{mine}) {
		t.Errorf("ListBuckets with a key for %s shows %q", mine, names)
	}

	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(theirs), Key: aws.String("secret")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(theirs), Key: aws.String("intruder"), Body: strings.NewReader("x")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(theirs)})
	wantErr(t, err, "AccessDenied", 403)
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(theirs), Key: aws.String("secret")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(theirs)})
	wantErr(t, err, "AccessDenied", 403)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(mine), Key: aws.String("stolen"), CopySource: aws.String(theirs + "/secret")})
	wantErr(t, err, "AccessDenied", 403)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(mine), Key: aws.String("stolen")})
	wantErr(t, err, "NotFound", 404)
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(uniqueBucket("sdk-scoped-new"))})
	wantErr(t, err, "AccessDenied", 403)
	if ks := listAll(t, root, theirs, ""); !slices.Equal(ks, []string{"secret"}) {
		t.Errorf("other bucket changed by a scoped key: %q", ks)
	}

	// Presigned URLs are held to the same scope, SigV4 and SigV2 alike.
	if !vhost {
		hc := s.HTTPClient()
		pc := s3.NewPresignClient(c)
		for _, tc := range []struct {
			bucket, key string
			status      int
		}{{mine, "hello", 200}, {theirs, "secret", 403}} {
			p4, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(tc.bucket), Key: aws.String(tc.key)})
			mustOK(t, err, "PresignGetObject")
			for name, u := range map[string]string{
				"sigv4": p4.URL,
				"sigv2": sigV2Presign(s.URL, tc.bucket, tc.key, k.AccessKeyID, k.SecretAccessKey, time.Now().Add(5*time.Minute)),
			} {
				resp, err := hc.Get(u)
				mustOK(t, err, "GET "+u)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status || (tc.status == 403 && !bytes.Contains(body, []byte("<Code>AccessDenied</Code>"))) {
					t.Errorf("scoped key, %s presigned GET %s/%s: %d %s, want %d", name, tc.bucket, tc.key, resp.StatusCode, body, tc.status)
				}
			}
		}
		// SigV2: a wrong signature and an expired URL are refused.
		for name, tc := range map[string]struct {
			u, code string
		}{
			"bad signature": {sigV2Presign(s.URL, mine, "hello", k.AccessKeyID, k.SecretAccessKey+"x", time.Now().Add(time.Minute)), "SignatureDoesNotMatch"},
			"expired":       {sigV2Presign(s.URL, mine, "hello", k.AccessKeyID, k.SecretAccessKey, time.Now().Add(-time.Minute)), "AccessDenied"},
		} {
			resp, err := hc.Get(tc.u)
			mustOK(t, err, "GET "+tc.u)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || !bytes.Contains(body, []byte("<Code>"+tc.code+"</Code>")) {
				t.Errorf("SigV2 presigned GET, %s: %d %s, want 403 %s", name, resp.StatusCode, body, tc.code)
			}
		}
	}

	bad, _ := newSDKClient(t, s, sdkClientOpts{AccessKey: k.AccessKeyID, SecretKey: k.SecretAccessKey + "x", VirtualHosted: vhost})
	_, err = bad.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(mine), Key: aws.String("hello")})
	wantErr(t, err, "SignatureDoesNotMatch", 403)
	unknown, _ := newSDKClient(t, s, sdkClientOpts{AccessKey: "AKIANOSUCHKEY0000000", SecretKey: "whatever", VirtualHosted: vhost})
	_, err = unknown.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(mine), Key: aws.String("hello")})
	wantErr(t, err, "InvalidAccessKeyId", 403)
}

func sdkNotImplemented(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	b := uniqueBucket("sdk-notimpl")
	createBucket(t, c, b)
	defer deleteBucketAll(t, c, b)
	putBytes(t, c, b, "obj", []byte("x"))

	// Operations outside StorageRaya's scope answer 501 NotImplemented as S3 XML.
	_, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(b),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}, ID: aws.String("r1"),
		}}}})
	wantErr(t, err, "NotImplemented", 501)
	_, err = c.GetBucketAnalyticsConfiguration(ctx, &s3.GetBucketAnalyticsConfigurationInput{Bucket: aws.String(b), Id: aws.String("a1")})
	wantErr(t, err, "NotImplemented", 501)
	_, err = c.GetBucketIntelligentTieringConfiguration(ctx, &s3.GetBucketIntelligentTieringConfigurationInput{Bucket: aws.String(b), Id: aws.String("t1")})
	wantErr(t, err, "NotImplemented", 501)
	_, err = c.RestoreObject(ctx, &s3.RestoreObjectInput{Bucket: aws.String(b), Key: aws.String("obj"),
		RestoreRequest: &types.RestoreRequest{Days: aws.Int32(1)}})
	wantErr(t, err, "NotImplemented", 501)

	// Bucket tagging may be implemented; then a bucket without tags answers
	// NoSuchTagSet (404) as AWS does. Either way it is a proper S3 error.
	_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(b)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchTagSet" {
		wantErr(t, err, "NoSuchTagSet", 404)
	} else {
		wantErr(t, err, "NotImplemented", 501)
	}
}
