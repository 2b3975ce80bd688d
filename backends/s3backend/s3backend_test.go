package s3backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/backendtest"
)

// The conformance suite runs against a real upstream: a `raya serve`
// process built and started by TestMain, shared by all tests (every test
// uses fresh bucket names).
const (
	rootAccessKey = "RAYAS3BACKENDROOT001"
	rootSecretKey = "s3backendRootSecret/0123456789abcdefghijk"
)

var (
	upstreamURL string
	upstreamOut syncBuffer
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "raya-s3backend-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3backend:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		fmt.Fprintln(os.Stderr, "s3backend: not inside a Go module:", err)
		return 1
	}
	bin := filepath.Join(tmp, "raya")
	build := exec.Command("go", "build", "-o", bin, "./gateway/cmd/raya")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "s3backend: building raya failed: %v\n%s", err, out)
		return 1
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3backend:", err)
		return 1
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data", filepath.Join(tmp, "data"))
	cmd.Env = append(os.Environ(), "RAYA_ROOT_ACCESS_KEY="+rootAccessKey, "RAYA_ROOT_SECRET_KEY="+rootSecretKey)
	cmd.Stdout, cmd.Stderr = &upstreamOut, &upstreamOut
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "s3backend: start raya:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	upstreamURL = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(upstreamURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			fmt.Fprintf(os.Stderr, "s3backend: raya not healthy after 30s: %v\n%s", err, upstreamOut.String())
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	code := m.Run()
	stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "upstream raya output (tail):\n%s\n", tail(upstreamOut.String(), 4000))
	}
	return code
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func testConfig() Config {
	return Config{
		Endpoint: upstreamURL, Region: "us-east-1",
		AccessKeyID: rootAccessKey, SecretAccessKey: rootSecretKey,
		BucketPrefix: "up-", PathStyle: true, PartSize: 5 << 20,
	}
}

func newTestBackend(t testing.TB) *Backend {
	t.Helper()
	b, err := New(context.Background(), testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return newTestBackend(t) },
		&backendtest.Options{MinPartSize: 5 << 20, LargeObjectSize: 16 << 20})
}

// TestNothingLeftBehind checks that staging data in the meta bucket is
// removed after large puts, failed puts and completed uploads, and that
// user buckets only ever hold user objects.
func TestNothingLeftBehind(t *testing.T) {
	ctx := context.Background()
	b := newTestBackend(t)
	defer b.Close()
	bkt := fmt.Sprintf("leftover-%d", time.Now().UnixNano()%1e9)
	if err := b.CreateBucket(ctx, bkt); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 11<<20)
	if _, err := b.PutObject(ctx, bkt, "big", bytes.NewReader(big), &backends.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	errBad := errors.New("bad")
	if _, err := b.PutObject(ctx, bkt, "bad", bytes.NewReader(big), &backends.PutOptions{Size: int64(len(big)),
		Finish: func() (backends.Metadata, error) { return backends.Metadata{}, errBad }}); !errors.Is(err, errBad) {
		t.Fatalf("put with failing Finish: %v", err)
	}
	id, err := b.CreateMultipartUpload(ctx, bkt, "mp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(ctx, bkt, "mp", id, 1, bytes.NewReader(big), &backends.PutOptions{Size: int64(len(big)),
		Finish: func() (backends.Metadata, error) { return backends.Metadata{ETag: "p1"}, nil }}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompleteMultipartUpload(ctx, bkt, "mp", id, []int{1}, backends.Metadata{ETag: "x-1"}); err != nil {
		t.Fatal(err)
	}
	out, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.meta), Prefix: aws.String(bkt + "/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		t.Errorf("left in the meta bucket: %s", aws.ToString(o.Key))
	}
	ups, err := b.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b.meta), Prefix: aws.String(bkt + "/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups.Uploads {
		t.Errorf("upload left in the meta bucket: %s", aws.ToString(u.Key))
	}
	page, err := b.ListObjects(ctx, bkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(page.Objects); got != 2 {
		t.Errorf("user bucket holds %d objects, want 2 (big, mp)", got)
	}
}

// TestFinishErrorWhileStreamingPart checks the withheld-last-byte path:
// a part streamed straight to the upstream is not stored when Finish fails.
func TestFinishErrorWhileStreamingPart(t *testing.T) {
	ctx := context.Background()
	b := newTestBackend(t)
	defer b.Close()
	bkt := fmt.Sprintf("tail-%d", time.Now().UnixNano()%1e9)
	if err := b.CreateBucket(ctx, bkt); err != nil {
		t.Fatal(err)
	}
	id, err := b.CreateMultipartUpload(ctx, bkt, "k")
	if err != nil {
		t.Fatal(err)
	}
	good := bytes.Repeat([]byte("g"), 6<<20)
	if _, err := b.UploadPart(ctx, bkt, "k", id, 1, bytes.NewReader(good), &backends.PutOptions{Size: int64(len(good))}); err != nil {
		t.Fatal(err)
	}
	errBad := errors.New("checksum mismatch")
	bad := bytes.Repeat([]byte("b"), 7<<20)
	_, err = b.UploadPart(ctx, bkt, "k", id, 1, bytes.NewReader(bad), &backends.PutOptions{Size: int64(len(bad)),
		Finish: func() (backends.Metadata, error) { return backends.Metadata{}, errBad }})
	if !errors.Is(err, errBad) {
		t.Fatalf("UploadPart with failing Finish: %v", err)
	}
	// Too short and too long bodies fail as well.
	if _, err := b.UploadPart(ctx, bkt, "k", id, 1, bytes.NewReader(bad), &backends.PutOptions{Size: int64(len(bad)) + 1}); err == nil {
		t.Error("short body accepted")
	}
	if _, err := b.UploadPart(ctx, bkt, "k", id, 1, bytes.NewReader(bad), &backends.PutOptions{Size: int64(len(bad)) - 1}); err == nil {
		t.Error("long body accepted")
	}
	parts, err := b.ListParts(ctx, bkt, "k", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || parts[0].Size != int64(len(good)) {
		t.Fatalf("parts = %+v", parts)
	}
	if err := b.AbortMultipartUpload(ctx, bkt, "k", id); err != nil {
		t.Fatal(err)
	}
}

// TestSpilledMetadata stores metadata beyond S3's 2 KB header limit.
func TestSpilledMetadata(t *testing.T) {
	ctx := context.Background()
	b := newTestBackend(t)
	defer b.Close()
	bkt := fmt.Sprintf("spill-%d", time.Now().UnixNano()%1e9)
	if err := b.CreateBucket(ctx, bkt); err != nil {
		t.Fatal(err)
	}
	sizes := make([]int64, 3000)
	for i := range sizes {
		sizes[i] = 5<<20 + int64(i)
	}
	m := backends.Metadata{ETag: "abc-3000", ContentType: "text/plain", PartSizes: sizes,
		User: map[string]string{"big": strings.Repeat("v", 1900)}}
	if _, err := b.PutObject(ctx, bkt, "k", strings.NewReader("data"), &backends.PutOptions{Size: 4,
		Finish: func() (backends.Metadata, error) { return m, nil }}); err != nil {
		t.Fatal(err)
	}
	info, err := b.HeadObject(ctx, bkt, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info.Metadata, m) {
		t.Errorf("spilled metadata did not round trip: %+v", info.Metadata)
	}
	page, err := b.ListObjects(ctx, bkt, nil)
	if err != nil || len(page.Objects) != 1 || page.Objects[0].ETag != "abc-3000" {
		t.Errorf("listing = %+v, %v", page, err)
	}
	if err := b.DeleteObject(ctx, bkt, "k"); err != nil {
		t.Fatal(err)
	}
	out, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.meta), Prefix: aws.String(bkt + "/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 0 {
		t.Errorf("sidecar left after delete: %s", aws.ToString(out.Contents[0].Key))
	}
}

func TestReservedMetaBucket(t *testing.T) {
	b := newTestBackend(t)
	defer b.Close()
	err := b.CreateBucket(context.Background(), "raya-meta")
	if !errors.Is(err, backends.ErrBucketExists) {
		t.Errorf("CreateBucket of the meta bucket's name: %v, want ErrBucketExists", err)
	}
}

func TestConfigFromMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		want Config
		err  string
	}{
		{"empty", nil, Config{}, ""},
		{"all", map[string]string{
			"endpoint": "https://s3.example.com", "region": "ap-southeast-3", "access_key_id": "AK", "secret_access_key": "SK",
			"bucket_prefix": "raya-", "path_style": "true", "ca_cert_file": "/etc/ca.pem", "part_size": "32MiB", "meta_bucket": "m",
		}, Config{Endpoint: "https://s3.example.com", Region: "ap-southeast-3", AccessKeyID: "AK", SecretAccessKey: "SK",
			BucketPrefix: "raya-", PathStyle: true, CACertFile: "/etc/ca.pem", PartSize: 32 << 20, MetaBucket: "m"}, ""},
		{"bytes", map[string]string{"part_size": "8388608", "path_style": "0"}, Config{PartSize: 8 << 20}, ""},
		{"empty values", map[string]string{"part_size": "", "path_style": ""}, Config{}, ""},
		{"unknown key", map[string]string{"endpoint_url": "x"}, Config{}, "unknown setting"},
		{"bad bool", map[string]string{"path_style": "yes please"}, Config{}, "path_style"},
		{"bad size", map[string]string{"part_size": "big"}, Config{}, "part_size"},
		{"small part", map[string]string{"part_size": "1MiB"}, Config{}, "out of range"},
		{"half keys", map[string]string{"access_key_id": "AK"}, Config{}, "both"},
		{"bad endpoint", map[string]string{"endpoint": "s3.example.com"}, Config{}, "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromMap(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestMetadataEncoding(t *testing.T) {
	equal := make([]int64, 10000)
	for i := range equal {
		equal[i] = 16 << 20
	}
	equal[9999] = 123
	for _, tc := range []struct {
		name  string
		m     backends.Metadata
		spill bool
	}{
		{"empty", backends.Metadata{}, false},
		{"etag only", backends.Metadata{ETag: "d41d8cd98f00b204e9800998ecf8427e"}, false},
		{"full", backends.Metadata{
			ETag: "0123-3", ContentType: "text/plain", ContentEncoding: "gzip", ContentDisposition: `attachment; filename="a b"`,
			ContentLanguage: "id-ID", CacheControl: "no-cache, no-store", Expires: "not a date",
			User:      map[string]string{"color": "blue, green", "empty": "", "unicode": "ñandú ✓", "with space": "a  b", "Upper": "x", "raya": "mine", " lead": " v "},
			Checksums: map[string]string{"CRC32": "AAAAAA=="}, ChecksumType: "COMPOSITE",
			PartSizes: []int64{5 << 20, 5 << 20, 17},
		}, false},
		{"10000 equal parts", backends.Metadata{ETag: "x-10000", PartSizes: equal}, false},
		{"too large", backends.Metadata{User: map[string]string{"a": strings.Repeat("z", 2100)}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, spill := encodeMeta(tc.m)
			if spill != tc.spill {
				t.Fatalf("spill = %v, want %v", spill, tc.spill)
			}
			if spill {
				enc = encodeSpilled(tc.m, "ref")
				got, ref, err := decodeMeta(headers{user: enc.user})
				if err != nil || ref != "ref" || got.ETag != tc.m.ETag {
					t.Errorf("spilled decode = %+v, %q, %v", got, ref, err)
				}
				return
			}
			for k, v := range enc.user {
				if k != rayaMetaKey && (!nativeUserKey(k) || !nativeUserValue(v)) {
					t.Errorf("unsafe native header %q: %q", k, v)
				}
			}
			h := headers{
				etag: aws.String(`"upstream"`), contentType: enc.contentType, contentEncoding: enc.contentEncoding,
				contentDisposition: enc.contentDisposition, contentLanguage: enc.contentLanguage, cacheControl: enc.cacheControl,
				user: enc.user,
			}
			if h.contentType == nil { // what an upstream reports when none was set
				h.contentType = aws.String("binary/octet-stream")
			}
			got, ref, err := decodeMeta(h)
			if err != nil || ref != "" {
				t.Fatalf("decode: %q, %v", ref, err)
			}
			if !reflect.DeepEqual(got, tc.m) {
				t.Errorf("round trip\n got  %+v\n want %+v", got, tc.m)
			}
		})
	}
	// An object written by someone else.
	got, _, err := decodeMeta(headers{etag: aws.String(`"abc"`), user: map[string]string{"Color": "red"}})
	if err != nil || got.ETag != "abc" || got.User["color"] != "red" {
		t.Errorf("foreign object: %+v, %v", got, err)
	}
}

func TestUploadIDs(t *testing.T) {
	up, err := parseUpload("b", "k", "0123456789abcdef01234567."+"dXBzdHJlYW0")
	if err != nil || up.id != "upstream" || up.dir != uploadDir("b", "k", "0123456789abcdef01234567") {
		t.Errorf("parseUpload = %+v, %v", up, err)
	}
	for _, id := range []string{"", "no-such-upload", "0123.dXA", "0123456789abcdef0123456z.dXA", "0123456789abcdef01234567.", "0123456789abcdef01234567.!!"} {
		if _, err := parseUpload("b", "k", id); !errors.Is(err, backends.ErrUploadNotFound) {
			t.Errorf("parseUpload(%q) = %v, want ErrUploadNotFound", id, err)
		}
	}
	if uploadDir("b", "k", "t") == uploadDir("b", "k2", "t") || uploadDir("b", "k", "t") == uploadDir("b2", "k", "t") {
		t.Error("upload dirs of different keys or buckets collide")
	}
}

func TestTailReader(t *testing.T) {
	data := []byte("hello world")
	errBad := errors.New("bad")
	for _, tc := range []struct {
		name      string
		src       io.Reader
		size      int64
		finishErr error
		want      string // error substring, "" for success
	}{
		{"ok", bytes.NewReader(data), 11, nil, ""},
		{"finish fails", bytes.NewReader(data), 11, errBad, "bad"},
		{"short", bytes.NewReader(data), 12, nil, "body is"},
		{"long", bytes.NewReader(data), 10, nil, "longer"},
		{"reader fails", io.MultiReader(bytes.NewReader(data[:3]), &errReader{errBad}), 11, nil, "bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			finished := false
			tr := &tailReader{r: tc.src, remaining: tc.size - 1, size: tc.size, finish: func() error { finished = true; return tc.finishErr }}
			var got bytes.Buffer
			buf := make([]byte, 4)
			var err error
			for {
				var n int
				n, err = tr.Read(buf)
				got.Write(buf[:n])
				if finished && tc.finishErr == nil && got.Len() < int(tc.size) && err == nil && n > 0 && got.Len() < int(tc.size)-1 {
					t.Fatal("finish ran before the body was read")
				}
				if err != nil {
					break
				}
			}
			if tc.want == "" {
				if err != io.EOF || got.String() != string(data) || !finished {
					t.Errorf("got %q, %v, finished %v", got.String(), err, finished)
				}
				return
			}
			if err == nil || err == io.EOF || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if got.Len() >= int(tc.size) && tc.size <= int64(len(data)) {
				t.Errorf("the whole body (%d bytes) was released although the put failed", got.Len())
			}
		})
	}
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

func TestHelpers(t *testing.T) {
	if got := copySource("b", "a b/ü+%?"); got != "b/a%20b/%C3%BC%2B%25%3F" {
		t.Errorf("copySource = %q", got)
	}
	for _, tc := range []struct {
		r    backends.Range
		want string
	}{{backends.Range{Offset: 0, Length: 1}, "bytes=0-0"}, {backends.Range{Offset: 5, Length: -1}, "bytes=5-"}, {backends.Range{Offset: -10}, "bytes=-10"}} {
		if got := rangeHeader(tc.r); got != tc.want {
			t.Errorf("rangeHeader(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
	if n, ok := totalSize("bytes 0-0/1234"); !ok || n != 1234 {
		t.Errorf("totalSize = %d, %v", n, ok)
	}
	if runs := encodeParts([]int64{5, 5, 5, 2}); !reflect.DeepEqual(runs, [][2]int64{{5, 3}, {2, 1}}) {
		t.Errorf("encodeParts = %v", runs)
	}
}

// TestMultipartCopy exercises the UploadPartCopy path of copies above the
// CopyObject limit, with the limit lowered to 5 MiB.
func TestMultipartCopy(t *testing.T) {
	ctx := context.Background()
	b := newTestBackend(t)
	defer b.Close()
	b.copyLimit = 5 << 20
	bkt := fmt.Sprintf("mpcopy-%d", time.Now().UnixNano()%1e9)
	if err := b.CreateBucket(ctx, bkt); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (12<<20)/16+3)
	m := backends.Metadata{ETag: "big-3", ContentType: "application/x-big", PartSizes: []int64{5 << 20, 5 << 20, int64(len(data)) - 10<<20}}
	info, err := b.PutObject(ctx, bkt, "src", bytes.NewReader(data), &backends.PutOptions{Size: int64(len(data)),
		Finish: func() (backends.Metadata, error) { return m, nil }})
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.HeadObject(ctx, bkt, "src")
	if err != nil || !h.LastModified.Equal(info.LastModified) || !reflect.DeepEqual(h.Metadata, m) {
		t.Fatalf("head after put = %+v, %v; put info %+v", h, err, info)
	}
	cinfo, err := b.CopyObject(ctx, bkt, "src", bkt, "dst", backends.Metadata{ETag: "copied"})
	if err != nil {
		t.Fatal(err)
	}
	_, rc, err := b.GetObject(ctx, bkt, "dst", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy content differs: %d bytes, %v", len(got), err)
	}
	h, err = b.HeadObject(ctx, bkt, "dst")
	if err != nil || h.ETag != "copied" || !h.LastModified.Equal(cinfo.LastModified) {
		t.Errorf("head of copy = %+v, %v; copy info %+v", h, err, cinfo)
	}
}
