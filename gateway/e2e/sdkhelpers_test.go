package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// auditTransport records every exchange that lacks an x-amz-request-id
// header, and what the client sent (so the suite can check its premises).
type auditTransport struct {
	base    http.RoundTripper
	mu      sync.Mutex
	missing []string
	// payload modes seen on PUT requests: x-amz-content-sha256 values, with a
	// hex digest shown as "sha256-hex".
	modes map[string]int
	// DeleteObjects requests: "crc32" if x-amz-checksum-crc32 was sent, "+md5" if Content-MD5.
	deletes []string
	// requests sent to a virtual host (BUCKET.s3.localhost).
	vhostRequests int
}

func (a *auditTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	if r.Method == http.MethodPut {
		m := r.Header.Get("X-Amz-Content-Sha256")
		if len(m) == 64 && !strings.HasPrefix(m, "STREAMING") {
			m = "sha256-hex"
		}
		if r.Header.Get("Content-Length") == "" && r.ContentLength <= 0 && r.Body != nil && r.Body != http.NoBody {
			m += " (no Content-Length)"
		}
		if a.modes == nil {
			a.modes = map[string]int{}
		}
		a.modes[m]++
	}
	if strings.HasSuffix(r.URL.Hostname(), "."+vhostDomain) {
		a.vhostRequests++
	}
	if r.Method == http.MethodPost && r.URL.Query().Has("delete") {
		d := ""
		if r.Header.Get("X-Amz-Checksum-Crc32") != "" {
			d = "crc32"
		}
		if r.Header.Get("Content-Md5") != "" {
			d += "+md5"
		}
		a.deletes = append(a.deletes, d)
	}
	a.mu.Unlock()
	resp, err := a.base.RoundTrip(r)
	if err == nil && resp.Header.Get("X-Amz-Request-Id") == "" {
		a.mu.Lock()
		a.missing = append(a.missing, fmt.Sprintf("%s %s -> %d", r.Method, r.URL.RequestURI(), resp.StatusCode))
		a.mu.Unlock()
	}
	return resp, err
}

// check fails t if any response seen so far had no request ID.
func (a *auditTransport) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.missing) > 0 {
		n := len(a.missing)
		shown := a.missing
		if n > 10 {
			shown = shown[:10]
		}
		t.Errorf("%d responses had no x-amz-request-id header, e.g.:\n  %s", n, strings.Join(shown, "\n  "))
	}
	a.missing = nil
}

// sawMode reports whether a PUT with this x-amz-content-sha256 mode was sent.
func (a *auditTransport) sawMode(mode string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.modes[mode] > 0
}

type sdkClientOpts struct {
	AccessKey, SecretKey string
	VirtualHosted        bool
}

// newSDKClient returns an aws-sdk-go-v2 S3 client with default checksum
// behaviour pointed at s, and the audit transport it uses.
func newSDKClient(t testing.TB, s *server, o sdkClientOpts) (*s3.Client, *auditTransport) {
	t.Helper()
	if o.AccessKey == "" {
		o.AccessKey, o.SecretKey = rootAccessKey, rootSecretKey
	}
	audit := &auditTransport{base: s.Transport()}
	httpClient := &http.Client{Transport: audit, Timeout: 3 * time.Minute}
	endpoint := s.URL
	if o.VirtualHosted {
		endpoint = strings.Replace(s.URL, "127.0.0.1", vhostDomain, 1)
	}
	// s3.New with explicit options rather than config.LoadDefaultConfig: the
	// environment (AWS_CA_BUNDLE, profiles) must not change what is tested.
	// The checksum settings are the SDK defaults, spelled out.
	c := s3.New(s3.Options{
		Region:                     testRegion,
		Credentials:                credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, ""),
		HTTPClient:                 httpClient,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               !o.VirtualHosted,
		RetryMaxAttempts:           1, // a retry would hide the first failure
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
	return c, audit
}

// wantErr asserts err is an S3 API error with code and HTTP status, and that
// it carried a request ID.
func wantErr(t testing.TB, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("want error %s (%d), got success", code, status)
		return
	}
	var ae smithy.APIError
	var re *awshttp.ResponseError
	gotCode, gotStatus := "", 0
	if errors.As(err, &ae) {
		gotCode = ae.ErrorCode()
	}
	if errors.As(err, &re) {
		gotStatus = re.HTTPStatusCode()
		if re.ServiceRequestID() == "" && status != http.StatusNotModified {
			t.Errorf("error %s: no request ID in response", code)
		}
	}
	if gotCode != code || gotStatus != status {
		t.Errorf("want %s (%d), got code %q status %d: %v", code, status, gotCode, gotStatus, err)
	}
}

func mustOK(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func etagOf(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// multipartETag computes the S3 ETag of an object completed from parts.
func multipartETag(parts ...[]byte) string {
	var all []byte
	for _, p := range parts {
		s := md5.Sum(p)
		all = append(all, s[:]...)
	}
	sum := md5.Sum(all)
	return `"` + hex.EncodeToString(sum[:]) + "-" + strconv.Itoa(len(parts)) + `"`
}

func createBucket(t testing.TB, c *s3.Client, name string) {
	t.Helper()
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	mustOK(t, err, "CreateBucket "+name)
}

func putBytes(t testing.TB, c *s3.Client, bucket, key string, body []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	mustOK(t, err, fmt.Sprintf("PutObject %s/%q", bucket, key))
	return out
}

func getBytes(t testing.TB, c *s3.Client, bucket, key string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	mustOK(t, err, fmt.Sprintf("GetObject %s/%q", bucket, key))
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	mustOK(t, err, fmt.Sprintf("reading GetObject %s/%q", bucket, key))
	return b, out
}

// listAll lists every key of bucket (under prefix) with ListObjectsV2 pagination.
func listAll(t testing.TB, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		mustOK(t, err, "ListObjectsV2 "+bucket)
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func equalBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		g, w := got, want
		if len(g) > 64 {
			g = g[:64]
		}
		if len(w) > 64 {
			w = w[:64]
		}
		t.Errorf("%s: got %d bytes (%q...), want %d bytes (%q...)", what, len(got), g, len(want), w)
	}
}

// emptyBucket removes every object and aborts every upload, then deletes it.
func deleteBucketAll(t testing.TB, c *s3.Client, bucket string) {
	t.Helper()
	ctx := context.Background()
	for _, k := range listAll(t, c, bucket, "") {
		_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
	}
	if ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}); err == nil {
		for _, u := range ups.Uploads {
			_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		}
	}
	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	mustOK(t, err, "DeleteBucket "+bucket)
}

// memWriterAt is an in-memory io.WriterAt for downloads.
type memWriterAt struct {
	mu  sync.Mutex
	buf []byte
}

func (m *memWriterAt) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	end := int(off) + len(p)
	if end > len(m.buf) {
		if end > cap(m.buf) {
			nb := make([]byte, end, end*2)
			copy(nb, m.buf)
			m.buf = nb
		} else {
			m.buf = m.buf[:end]
		}
	}
	copy(m.buf[off:], p)
	return len(p), nil
}

func (m *memWriterAt) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf
}
