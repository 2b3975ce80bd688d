// Package backendtest is the conformance suite for backends.Backend, in the
// spirit of Go CDK's blob/drivertest. Every backend — built in, in process,
// behind a plugin, or third party — runs it with one line:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backends.Backend { return newMyBackend(t) }, nil)
//	}
//
// The suite checks the contract documented in package backends: the bucket
// namespace, object put/get/head/delete with metadata, atomic puts (reader
// errors, Finish errors and cancelled contexts leave nothing visible),
// ranges, listing in byte order with prefixes, delimiters, StartAfter and
// pagination, multipart uploads, concurrent writers and large streaming
// objects.
//
// It also exports small benchmark helpers (BenchPut, BenchGet) so that every
// backend measures the same thing.
package backendtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudraya/raya/backends"
)

// Options tune the suite. The zero value (or nil) means defaults.
type Options struct {
	// Short reduces sizes and iteration counts (also implied by go test -short).
	Short bool
	// LargeObjectSize is the size of the streamed large object; default
	// 64 MiB, or 4 MiB when Short.
	LargeObjectSize int64
	// Writers is the number of goroutines that race to put one key;
	// default 8.
	Writers int
	// MaxKeyLen is the longest key the backend must accept; default 1024
	// (the S3 limit).
	MaxKeyLen int
	// MinPartSize is the smallest part, other than the last, that the
	// backend accepts in a completed upload (5 MiB for backends on Amazon
	// S3's native multipart). The suite pads such parts to this size.
	// Default 0: parts of any size, including empty ones.
	MinPartSize int
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if testing.Short() {
		r.Short = true
	}
	if r.LargeObjectSize <= 0 {
		r.LargeObjectSize = 64 << 20
		if r.Short {
			r.LargeObjectSize = 4 << 20
		}
	}
	if r.Writers <= 0 {
		r.Writers = 8
	}
	if r.MaxKeyLen <= 0 {
		r.MaxKeyLen = 1024
	}
	return r
}

// Run runs the conformance suite. newBackend is called once per subtest and
// must return a fresh, empty backend (no buckets); Run closes it when the
// subtest ends, so newBackend should not register its own Close.
func Run(t *testing.T, newBackend func(t *testing.T) backends.Backend, opts *Options) {
	o := opts.withDefaults()
	h := &harness{newBackend: newBackend, opts: o}
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Bucket/CreateDelete", testBucketCreateDelete},
		{"Bucket/CreateExisting", testBucketCreateExisting},
		{"Bucket/DeleteNotEmpty", testBucketDeleteNotEmpty},
		{"Bucket/DeleteUnknown", testBucketDeleteUnknown},
		{"Bucket/UnknownBucket", testBucketUnknown},
		{"Bucket/RecreateIsEmpty", testBucketRecreateIsEmpty},
		{"Bucket/DeleteDiscardsUploads", testBucketDeleteDiscardsUploads},
		{"Object/PutGetHeadDelete", testObjectPutGetHeadDelete},
		{"Object/Missing", testObjectMissing},
		{"Object/Empty", testObjectEmpty},
		{"Object/UnknownSize", testObjectUnknownSize},
		{"Object/Overwrite", testObjectOverwrite},
		{"Object/MetadataRoundTrip", testObjectMetadataRoundTrip},
		{"Object/NilFinish", testObjectNilFinish},
		{"Object/FinishOnceAfterEOF", testObjectFinishOnce},
		{"Object/FinishErrorAborts", testObjectFinishError},
		{"Object/ReaderErrorAborts", testObjectReaderError},
		{"Object/ContextCanceledAborts", testObjectContextCanceled},
		{"Object/KeysAreOpaque", testObjectKeysAreOpaque},
		{"Object/LongUTF8Keys", testObjectLongKeys},
		{"Object/GetSurvivesReplace", testObjectGetSurvivesReplace},
		{"Object/Copy", testObjectCopy},
		{"Range/Single", testRangeSingle},
		{"Range/Empty", testRangeEmpty},
		{"List/Order", testListOrder},
		{"List/Model", testListModel},
		{"List/Pagination", testListPagination},
		{"List/StartAfterCommonPrefix", testListStartAfterCommonPrefix},
		{"List/LongKeys", testListLongKeys},
		{"List/EmptyBucket", testListEmpty},
		{"Multipart/Complete", testMultipartComplete},
		{"Multipart/Abort", testMultipartAbort},
		{"Multipart/UnknownUpload", testMultipartUnknownUpload},
		{"Multipart/MissingPart", testMultipartMissingPart},
		{"Multipart/WrongKey", testMultipartWrongKey},
		{"Multipart/PartAbortKeepsPrevious", testMultipartPartAbort},
		{"Multipart/ReplacesObject", testMultipartReplacesObject},
		{"Multipart/ConcurrentUploads", testMultipartConcurrent},
		{"Concurrency/PutSameKey", testConcurrentPutSameKey},
		{"Large/Stream", testLargeStream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, h)
		})
	}
}

type harness struct {
	newBackend func(t *testing.T) backends.Backend
	opts       Options
}

// backend returns a fresh backend closed at the end of the test.
func (h *harness) backend(t *testing.T) backends.Backend {
	t.Helper()
	b := h.newBackend(t)
	if b == nil {
		t.Fatal("newBackend returned nil")
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

var bucketSeq atomic.Int64

// bucket creates a fresh bucket with a valid S3 name.
func bucket(t *testing.T, b backends.Backend) string {
	t.Helper()
	name := fmt.Sprintf("raya-bt-%d-%d", time.Now().UnixNano()%1e6, bucketSeq.Add(1))
	if err := b.CreateBucket(context.Background(), name); err != nil {
		t.Fatalf("CreateBucket(%q): %v", name, err)
	}
	return name
}

func finishWith(m backends.Metadata) *backends.PutOptions {
	return &backends.PutOptions{Size: -1, Finish: func() (backends.Metadata, error) { return m, nil }}
}

func put(t *testing.T, b backends.Backend, bkt, key string, data []byte, meta backends.Metadata) *backends.ObjectInfo {
	t.Helper()
	opts := finishWith(meta)
	opts.Size = int64(len(data))
	info, err := b.PutObject(context.Background(), bkt, key, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("PutObject(%q, %q): %v", bkt, key, err)
	}
	if info == nil {
		t.Fatalf("PutObject(%q, %q): nil info", bkt, key)
	}
	return info
}

func get(t *testing.T, b backends.Backend, bkt, key string, rng *backends.Range) ([]byte, *backends.ObjectInfo) {
	t.Helper()
	info, rc, err := b.GetObject(context.Background(), bkt, key, rng)
	if err != nil {
		t.Fatalf("GetObject(%q, %q, %v): %v", bkt, key, rng, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("GetObject(%q, %q): read: %v", bkt, key, err)
	}
	return data, info
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// payload returns n deterministic pseudo-random bytes.
func payload(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), 1})
	p := make([]byte, n)
	_, _ = r.Read(p)
	return p
}

// normMeta makes empty maps and slices nil so that round trips through
// encodings with omitempty compare equal.
func normMeta(m backends.Metadata) backends.Metadata {
	if len(m.User) == 0 {
		m.User = nil
	}
	if len(m.Checksums) == 0 {
		m.Checksums = nil
	}
	if len(m.PartSizes) == 0 {
		m.PartSizes = nil
	}
	return m
}

func checkMeta(t *testing.T, what string, got, want backends.Metadata) {
	t.Helper()
	if g, w := normMeta(got), normMeta(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s: metadata\n got  %+v\n want %+v", what, g, w)
	}
}

func checkGone(t *testing.T, b backends.Backend, bkt, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.HeadObject(ctx, bkt, key); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("HeadObject(%q) after abort: err = %v, want ErrNotFound", key, err)
	}
	page, err := b.ListObjects(ctx, bkt, &backends.ListOptions{Prefix: key})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	for _, o := range page.Objects {
		if o.Key == key {
			t.Errorf("ListObjects shows aborted key %q", key)
		}
	}
}

// ---- buckets ----

func testBucketCreateDelete(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	if _, err := b.ListObjects(ctx, bkt, nil); err != nil {
		t.Fatalf("ListObjects on new bucket: %v", err)
	}
	if err := b.DeleteBucket(ctx, bkt); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	_, err := b.ListObjects(ctx, bkt, nil)
	wantErr(t, "ListObjects after DeleteBucket", err, backends.ErrBucketNotFound)
}

func testBucketCreateExisting(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	wantErr(t, "CreateBucket twice", b.CreateBucket(context.Background(), bkt), backends.ErrBucketExists)
}

func testBucketDeleteNotEmpty(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	put(t, b, bkt, "k", []byte("v"), backends.Metadata{})
	wantErr(t, "DeleteBucket non-empty", b.DeleteBucket(ctx, bkt), backends.ErrBucketNotEmpty)
	// Still usable.
	if got, _ := get(t, b, bkt, "k", nil); string(got) != "v" {
		t.Errorf("object after failed DeleteBucket = %q", got)
	}
	if err := b.DeleteObject(ctx, bkt, "k"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if err := b.DeleteBucket(ctx, bkt); err != nil {
		t.Fatalf("DeleteBucket after emptying: %v", err)
	}
}

func testBucketDeleteUnknown(t *testing.T, h *harness) {
	b := h.backend(t)
	wantErr(t, "DeleteBucket unknown", b.DeleteBucket(context.Background(), "raya-no-such-bucket"), backends.ErrBucketNotFound)
}

func testBucketUnknown(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	const bkt = "raya-no-such-bucket"
	_, err := b.PutObject(ctx, bkt, "k", strings.NewReader("x"), &backends.PutOptions{Size: 1})
	wantErr(t, "PutObject", err, backends.ErrBucketNotFound)
	_, _, err = b.GetObject(ctx, bkt, "k", nil)
	wantErr(t, "GetObject", err, backends.ErrBucketNotFound)
	_, err = b.HeadObject(ctx, bkt, "k")
	wantErr(t, "HeadObject", err, backends.ErrBucketNotFound)
	wantErr(t, "DeleteObject", b.DeleteObject(ctx, bkt, "k"), backends.ErrBucketNotFound)
	_, err = b.ListObjects(ctx, bkt, nil)
	wantErr(t, "ListObjects", err, backends.ErrBucketNotFound)
	_, err = b.CreateMultipartUpload(ctx, bkt, "k")
	wantErr(t, "CreateMultipartUpload", err, backends.ErrBucketNotFound)
}

func testBucketRecreateIsEmpty(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	put(t, b, bkt, "k", []byte("v"), backends.Metadata{})
	if err := b.DeleteObject(ctx, bkt, "k"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBucket(ctx, bkt); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx, bkt); err != nil {
		t.Fatalf("re-CreateBucket: %v", err)
	}
	page, err := b.ListObjects(ctx, bkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects)+len(page.CommonPrefixes) != 0 {
		t.Errorf("recreated bucket not empty: %+v", page)
	}
}

func testBucketDeleteDiscardsUploads(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	id, err := b.CreateMultipartUpload(ctx, bkt, "mp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(ctx, bkt, "mp", id, 1, strings.NewReader("part"), &backends.PutOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBucket(ctx, bkt); err != nil {
		t.Fatalf("DeleteBucket with an unfinished upload: %v", err)
	}
	if _, err := b.ListParts(ctx, bkt, "mp", id); !errors.Is(err, backends.ErrBucketNotFound) && !errors.Is(err, backends.ErrUploadNotFound) {
		t.Errorf("ListParts after DeleteBucket: %v, want ErrBucketNotFound or ErrUploadNotFound", err)
	}
	if err := b.CreateBucket(ctx, bkt); err != nil {
		t.Fatal(err)
	}
	_, err = b.ListParts(ctx, bkt, "mp", id)
	wantErr(t, "ListParts after DeleteBucket+CreateBucket", err, backends.ErrUploadNotFound)
	_, err = b.CompleteMultipartUpload(ctx, bkt, "mp", id, []int{1}, backends.Metadata{})
	wantErr(t, "CompleteMultipartUpload after DeleteBucket+CreateBucket", err, backends.ErrUploadNotFound)
}

// ---- objects ----

func testObjectPutGetHeadDelete(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	data := payload(1, 100_000)
	before := time.Now().Add(-2 * time.Second)
	info := put(t, b, bkt, "dir/obj.bin", data, backends.Metadata{ETag: "e1", ContentType: "application/x-test"})
	after := time.Now().Add(2 * time.Second)
	if info.Key != "dir/obj.bin" || info.Size != int64(len(data)) || info.ETag != "e1" {
		t.Errorf("PutObject info = %+v", info)
	}
	if info.LastModified.Before(before) || info.LastModified.After(after) {
		t.Errorf("LastModified %v not within [%v, %v]", info.LastModified, before, after)
	}
	got, ginfo := get(t, b, bkt, "dir/obj.bin", nil)
	if !bytes.Equal(got, data) {
		t.Errorf("GetObject content differs (len %d, want %d)", len(got), len(data))
	}
	if ginfo.Size != int64(len(data)) || ginfo.Key != "dir/obj.bin" || ginfo.ContentType != "application/x-test" {
		t.Errorf("GetObject info = %+v", ginfo)
	}
	hinfo, err := b.HeadObject(ctx, bkt, "dir/obj.bin")
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if hinfo.Size != int64(len(data)) || hinfo.ETag != "e1" || !hinfo.LastModified.Equal(ginfo.LastModified) {
		t.Errorf("HeadObject info = %+v, GetObject info = %+v", hinfo, ginfo)
	}
	if err := b.DeleteObject(ctx, bkt, "dir/obj.bin"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	_, err = b.HeadObject(ctx, bkt, "dir/obj.bin")
	wantErr(t, "HeadObject after delete", err, backends.ErrNotFound)
	_, _, err = b.GetObject(ctx, bkt, "dir/obj.bin", nil)
	wantErr(t, "GetObject after delete", err, backends.ErrNotFound)
}

func testObjectMissing(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	put(t, b, bkt, "a/b", []byte("x"), backends.Metadata{})
	for _, key := range []string{"missing", "a", "a/", "a/b/", "A/B"} {
		_, _, err := b.GetObject(ctx, bkt, key, nil)
		wantErr(t, "GetObject "+key, err, backends.ErrNotFound)
		_, _, err = b.GetObject(ctx, bkt, key, &backends.Range{Offset: 0, Length: 1})
		wantErr(t, "GetObject range "+key, err, backends.ErrNotFound)
		_, err = b.HeadObject(ctx, bkt, key)
		wantErr(t, "HeadObject "+key, err, backends.ErrNotFound)
		wantErr(t, "DeleteObject "+key, b.DeleteObject(ctx, bkt, key), backends.ErrNotFound)
	}
	if err := b.DeleteObject(ctx, bkt, "a/b"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteObject twice", b.DeleteObject(ctx, bkt, "a/b"), backends.ErrNotFound)
}

func testObjectEmpty(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	info := put(t, b, bkt, "empty", nil, backends.Metadata{ETag: "d41d8cd98f00b204e9800998ecf8427e"})
	if info.Size != 0 {
		t.Errorf("Size = %d", info.Size)
	}
	got, ginfo := get(t, b, bkt, "empty", nil)
	if len(got) != 0 || ginfo.Size != 0 || ginfo.ETag != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("GetObject = %q, %+v", got, ginfo)
	}
}

func testObjectUnknownSize(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	data := payload(2, 3<<20+17)
	// A reader that hides its length and returns short reads.
	r := &chunkReader{r: bytes.NewReader(data), max: 7000}
	info, err := b.PutObject(context.Background(), bkt, "unknown", r, &backends.PutOptions{Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Size = %d, want %d", info.Size, len(data))
	}
	if got, _ := get(t, b, bkt, "unknown", nil); !bytes.Equal(got, data) {
		t.Error("content differs")
	}
}

type chunkReader struct {
	r   io.Reader
	max int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.max {
		p = p[:c.max]
	}
	return c.r.Read(p)
}

func testObjectOverwrite(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	put(t, b, bkt, "k", payload(3, 5000), backends.Metadata{ETag: "one", User: map[string]string{"v": "1"}})
	want := payload(4, 100)
	put(t, b, bkt, "k", want, backends.Metadata{ETag: "two"})
	got, info := get(t, b, bkt, "k", nil)
	if !bytes.Equal(got, want) || info.Size != 100 {
		t.Errorf("after overwrite: %d bytes, info %+v", len(got), info)
	}
	checkMeta(t, "overwrite replaces metadata", info.Metadata, backends.Metadata{ETag: "two"})
	page, err := b.ListObjects(context.Background(), bkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 1 || page.Objects[0].Size != 100 {
		t.Errorf("listing after overwrite = %+v", page.Objects)
	}
}

func fullMeta() backends.Metadata {
	return backends.Metadata{
		ETag:               "0123456789abcdef0123456789abcdef-3",
		ContentType:        "text/plain; charset=utf-8",
		ContentEncoding:    "gzip",
		ContentDisposition: `attachment; filename="r\u00e9sum\u00e9.txt"`,
		ContentLanguage:    "id-ID",
		CacheControl:       "no-cache, no-store",
		Expires:            "Thu, 01 Dec 2094 16:00:00 GMT",
		User:               map[string]string{"color": "blue, green", "empty": "", "unicode": "ñandú ✓", "with space": "a  b"},
		Checksums:          map[string]string{"CRC32": "AAAAAA==", "SHA256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		ChecksumType:       "COMPOSITE",
		PartSizes:          []int64{5 << 20, 5 << 20, 17},
	}
}

func testObjectMetadataRoundTrip(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	m := fullMeta()
	info := put(t, b, bkt, "meta", []byte("hello"), m)
	checkMeta(t, "PutObject", info.Metadata, m)
	_, ginfo := get(t, b, bkt, "meta", nil)
	checkMeta(t, "GetObject", ginfo.Metadata, m)
	_, rinfo := get(t, b, bkt, "meta", &backends.Range{Offset: 1, Length: 2})
	checkMeta(t, "GetObject range", rinfo.Metadata, m)
	if rinfo.Size != 5 {
		t.Errorf("GetObject range info.Size = %d, want whole size 5", rinfo.Size)
	}
	hinfo, err := b.HeadObject(ctx, bkt, "meta")
	if err != nil {
		t.Fatal(err)
	}
	checkMeta(t, "HeadObject", hinfo.Metadata, m)
	page, err := b.ListObjects(ctx, bkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 1 || page.Objects[0].ETag != m.ETag || page.Objects[0].Size != 5 {
		t.Errorf("ListObjects = %+v", page.Objects)
	}
	// The backend must not keep aliases to the caller's maps.
	m.User["color"] = "changed"
	hinfo2, _ := b.HeadObject(ctx, bkt, "meta")
	if hinfo2 != nil && hinfo2.User["color"] != "blue, green" {
		t.Errorf("backend aliases the caller's User map")
	}
}

func testObjectNilFinish(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	for _, opts := range []*backends.PutOptions{nil, {Size: 3}} {
		info, err := b.PutObject(context.Background(), bkt, "k", strings.NewReader("abc"), opts)
		if err != nil {
			t.Fatalf("PutObject(opts=%v): %v", opts, err)
		}
		checkMeta(t, "nil Finish", info.Metadata, backends.Metadata{})
		got, ginfo := get(t, b, bkt, "k", nil)
		if string(got) != "abc" || ginfo.Size != 3 {
			t.Errorf("got %q %+v", got, ginfo)
		}
	}
}

// eofTracker records whether its reader has returned io.EOF.
type eofTracker struct {
	r   io.Reader
	eof atomic.Bool
}

func (e *eofTracker) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof.Store(true)
	}
	return n, err
}

func testObjectFinishOnce(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	data := payload(5, 1<<20)
	r := &eofTracker{r: bytes.NewReader(data)}
	var calls atomic.Int32
	var visibleDuringFinish atomic.Bool
	opts := &backends.PutOptions{Size: int64(len(data)), Finish: func() (backends.Metadata, error) {
		calls.Add(1)
		if !r.eof.Load() {
			t.Error("Finish called before the reader returned io.EOF")
		}
		if _, err := b.HeadObject(context.Background(), bkt, "k"); err == nil {
			visibleDuringFinish.Store(true)
		}
		return backends.Metadata{ETag: "late"}, nil
	}}
	info, err := b.PutObject(context.Background(), bkt, "k", r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Finish called %d times, want 1", n)
	}
	if visibleDuringFinish.Load() {
		t.Error("object visible before Finish returned")
	}
	if info.ETag != "late" {
		t.Errorf("ETag = %q, want the one Finish returned", info.ETag)
	}
	// Same for a part.
	ctx := context.Background()
	id, err := b.CreateMultipartUpload(ctx, bkt, "mp")
	if err != nil {
		t.Fatal(err)
	}
	calls.Store(0)
	pr := &eofTracker{r: bytes.NewReader(data)}
	pinfo, err := b.UploadPart(ctx, bkt, "mp", id, 1, pr, &backends.PutOptions{Size: -1, Finish: func() (backends.Metadata, error) {
		calls.Add(1)
		if !pr.eof.Load() {
			t.Error("part Finish called before io.EOF")
		}
		return backends.Metadata{ETag: "p1", Checksums: map[string]string{"CRC32C": "abcd"}}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("part Finish called %d times, want 1", n)
	}
	if pinfo.ETag != "p1" || pinfo.PartNumber != 1 || pinfo.Size != int64(len(data)) || pinfo.Checksums["CRC32C"] != "abcd" {
		t.Errorf("UploadPart info = %+v", pinfo)
	}
}

func testObjectFinishError(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	ctx := context.Background()
	errBad := errors.New("checksum mismatch")
	// New key: nothing visible.
	_, err := b.PutObject(ctx, bkt, "k", bytes.NewReader(payload(6, 70000)), &backends.PutOptions{Size: 70000,
		Finish: func() (backends.Metadata, error) { return backends.Metadata{ETag: "bad"}, errBad }})
	if err == nil {
		t.Fatal("PutObject succeeded although Finish failed")
	}
	if !errors.Is(err, errBad) {
		t.Logf("note: PutObject error %v does not wrap Finish's error", err)
	}
	checkGone(t, b, bkt, "k")
	// Existing key: earlier version intact.
	old := payload(7, 1000)
	put(t, b, bkt, "k", old, backends.Metadata{ETag: "old"})
	_, err = b.PutObject(ctx, bkt, "k", bytes.NewReader(payload(8, 2000)), &backends.PutOptions{Size: 2000,
		Finish: func() (backends.Metadata, error) { return backends.Metadata{}, errBad }})
	if err == nil {
		t.Fatal("PutObject succeeded although Finish failed")
	}
	got, info := get(t, b, bkt, "k", nil)
	if !bytes.Equal(got, old) || info.ETag != "old" {
		t.Errorf("earlier version damaged: %d bytes, etag %q", len(got), info.ETag)
	}
}

// failingReader yields n bytes then fails with err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testObjectReaderError(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	ctx := context.Background()
	errClient := errors.New("client went away")
	var finished atomic.Bool
	opts := func() *backends.PutOptions {
		return &backends.PutOptions{Size: -1, Finish: func() (backends.Metadata, error) {
			finished.Store(true)
			return backends.Metadata{}, nil
		}}
	}
	_, err := b.PutObject(ctx, bkt, "k", &failingReader{r: bytes.NewReader(payload(9, 300_000)), err: errClient}, opts())
	if err == nil {
		t.Fatal("PutObject succeeded although the reader failed")
	}
	if !errors.Is(err, errClient) {
		t.Logf("note: PutObject error %v does not wrap the reader's error", err)
	}
	if finished.Load() {
		t.Error("Finish called although the reader failed")
	}
	checkGone(t, b, bkt, "k")

	old := payload(10, 4000)
	put(t, b, bkt, "k", old, backends.Metadata{ETag: "old"})
	// Fail immediately, and fail after data.
	for _, r := range []io.Reader{
		&failingReader{r: bytes.NewReader(nil), err: errClient},
		&failingReader{r: bytes.NewReader(payload(11, 2<<20)), err: errClient},
	} {
		if _, err := b.PutObject(ctx, bkt, "k", r, opts()); err == nil {
			t.Fatal("PutObject succeeded although the reader failed")
		}
		got, info := get(t, b, bkt, "k", nil)
		if !bytes.Equal(got, old) || info.ETag != "old" {
			t.Errorf("earlier version damaged: %d bytes, etag %q", len(got), info.ETag)
		}
	}
	if finished.Load() {
		t.Error("Finish called although the reader failed")
	}
}

// cancelReader cancels the context after cancelAt bytes and then keeps
// yielding data up to total bytes.
type cancelReader struct {
	r        io.Reader
	n        int64
	cancelAt int64
	cancel   context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n >= c.cancelAt {
		c.cancel()
	}
	return n, err
}

func testObjectContextCanceled(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	old := payload(12, 100)
	put(t, b, bkt, "old", old, backends.Metadata{ETag: "old"})
	for _, key := range []string{"new", "old"} {
		ctx, cancel := context.WithCancel(context.Background())
		const total = 8 << 20
		r := &cancelReader{r: bytes.NewReader(payload(13, total)), cancelAt: 1 << 20, cancel: cancel}
		_, err := b.PutObject(ctx, bkt, key, r, &backends.PutOptions{Size: total, Finish: func() (backends.Metadata, error) {
			return backends.Metadata{ETag: "canceled"}, nil
		}})
		cancel()
		if err == nil {
			t.Fatalf("PutObject(%q) succeeded although its context was canceled mid-stream", key)
		}
		if !errors.Is(err, context.Canceled) {
			t.Logf("note: PutObject error %v does not wrap context.Canceled", err)
		}
	}
	checkGone(t, b, bkt, "new")
	got, info := get(t, b, bkt, "old", nil)
	if !bytes.Equal(got, old) || info.ETag != "old" {
		t.Errorf("earlier version damaged: %d bytes, etag %q", len(got), info.ETag)
	}
	// A part too.
	ctx := context.Background()
	id, err := b.CreateMultipartUpload(ctx, bkt, "mp")
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	r := &cancelReader{r: bytes.NewReader(payload(14, 4<<20)), cancelAt: 1 << 20, cancel: cancel}
	if _, err := b.UploadPart(cctx, bkt, "mp", id, 1, r, &backends.PutOptions{Size: -1}); err == nil {
		t.Error("UploadPart succeeded although its context was canceled mid-stream")
	}
	cancel()
	parts, err := b.ListParts(ctx, bkt, "mp", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 0 {
		t.Errorf("canceled part is listed: %+v", parts)
	}
}

// trickyKeys are keys that break naive key-to-path mappings.
var trickyKeys = []string{
	"a", "a/", "a/b", "a//b", "a/b/", "a/b/c", "//", "/", "/leading", "./", "../", "a/../b", "a/./b",
	"..", ".", "%", "%2F", "a%2Fb", "+", "a+b", "sp ace", " ", "tab\tkey", "trailing ", "ü", "日本/語",
	"\x7f", "\u00ff", "\U0001F600", "a-", "a.", "a0", "A", "ab", "a\x01", "CON", "nul", "x:y", "x\\y",
	"a\nb", "'quote\"", "*?<>|",
}

func testObjectKeysAreOpaque(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	for i, key := range trickyKeys {
		put(t, b, bkt, key, []byte(fmt.Sprintf("%d:%s", i, key)), backends.Metadata{ETag: fmt.Sprint(i)})
	}
	for i, key := range trickyKeys {
		got, info := get(t, b, bkt, key, nil)
		if want := fmt.Sprintf("%d:%s", i, key); string(got) != want || info.Key != key {
			t.Errorf("key %q: got %q (info.Key %q), want %q", key, got, info.Key, want)
		}
	}
	page, err := b.ListObjects(context.Background(), bkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(trickyKeys)
	slices.Sort(want)
	if got := objectKeys(page); !slices.Equal(got, want) {
		t.Errorf("listing\n got  %q\n want %q", got, want)
	}
}

// longKeys returns UTF-8 keys up to maxLen bytes with long segments.
func longKeys(maxLen int) []string {
	seg := strings.Repeat("s", 1000)
	if maxLen < 1010 {
		seg = strings.Repeat("s", maxLen-10)
	}
	utf := strings.Repeat("é", (maxLen-2)/2) // 2 bytes each
	mixed := strings.Repeat("日本語/", maxLen/10)
	keys := []string{
		seg,
		"p/" + seg,
		"p/" + seg + "/x",
		"p/" + utf[:len(utf)-2] + "é", // still valid UTF-8
		mixed,
		strings.Repeat("/", maxLen),
		strings.Repeat("a/", maxLen/2),
		strings.Repeat("z", maxLen),
	}
	for i, k := range keys {
		if len(k) > maxLen {
			// Trim to maxLen bytes on a rune boundary.
			for len(k) > maxLen {
				_, size := lastRune(k)
				k = k[:len(k)-size]
			}
			keys[i] = k
		}
	}
	return keys
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, 1
}

func testObjectLongKeys(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	keys := longKeys(h.opts.MaxKeyLen)
	for i, key := range keys {
		put(t, b, bkt, key, []byte(fmt.Sprint(i)), backends.Metadata{})
	}
	for i, key := range keys {
		got, info := get(t, b, bkt, key, nil)
		if string(got) != fmt.Sprint(i) || info.Key != key {
			t.Errorf("long key #%d (%d bytes): got %q", i, len(key), got)
		}
	}
}

func testObjectGetSurvivesReplace(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	old := payload(15, 3<<20)
	// A multipart object too, so that readers cross segment boundaries.
	id, err := b.CreateMultipartUpload(ctx, bkt, "mp")
	if err != nil {
		t.Fatal(err)
	}
	var oldMP []byte
	mpSize := max(100_000, h.opts.MinPartSize)
	for i := 1; i <= 3; i++ {
		p := payload(uint64(150+i), mpSize)
		oldMP = append(oldMP, p...)
		uploadPart(t, b, bkt, "mp", id, i, p)
	}
	if _, err := b.CompleteMultipartUpload(ctx, bkt, "mp", id, []int{1, 2, 3}, backends.Metadata{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key      string
		want     []byte
		readHead int // bytes read before the replacement
		rng      *backends.Range
	}{
		{"k", old, 0, nil},
		{"k", old, 1000, nil},
		{"k", old, 0, &backends.Range{Offset: 10, Length: 1 << 20}},
		{"mp", oldMP, 0, nil},
		{"mp", oldMP, mpSize / 2, nil},
		{"mp", oldMP, 0, &backends.Range{Offset: int64(mpSize + mpSize/2), Length: -1}},
	} {
		if tc.key == "k" {
			put(t, b, bkt, "k", old, backends.Metadata{ETag: "old"})
		} else if _, err := b.HeadObject(ctx, bkt, "mp"); err != nil {
			// Recreate the multipart object after it was deleted.
			id, err := b.CreateMultipartUpload(ctx, bkt, "mp")
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				uploadPart(t, b, bkt, "mp", id, i, oldMP[(i-1)*mpSize:i*mpSize])
			}
			if _, err := b.CompleteMultipartUpload(ctx, bkt, "mp", id, []int{1, 2, 3}, backends.Metadata{}); err != nil {
				t.Fatal(err)
			}
		}
		want := tc.want
		if tc.rng != nil {
			off, n, _ := tc.rng.Resolve(int64(len(want)))
			want = want[off : off+n]
		}
		_, rc, err := b.GetObject(ctx, bkt, tc.key, tc.rng)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, tc.readHead)
		if _, err := io.ReadFull(rc, head); err != nil {
			t.Fatal(err)
		}
		// Replace, then delete, while the reader is open.
		put(t, b, bkt, tc.key, payload(16, 10), backends.Metadata{ETag: "new"})
		if err := b.DeleteObject(ctx, bkt, tc.key); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s (read %d first): reading an object replaced while open: %v", tc.key, tc.readHead, err)
		}
		if !bytes.Equal(append(head, rest...), want) {
			t.Errorf("%s (read %d first): an open reader did not stream the version it opened", tc.key, tc.readHead)
		}
	}
}

func testObjectCopy(t *testing.T, h *harness) {
	b := h.backend(t)
	c, ok := b.(backends.Copier)
	if !ok {
		t.Skip("backend does not implement backends.Copier")
	}
	ctx := context.Background()
	src, dst := bucket(t, b), bucket(t, b)
	data := payload(17, 200_000)
	put(t, b, src, "s", data, backends.Metadata{ETag: "src"})
	m := fullMeta()
	info, err := c.CopyObject(ctx, src, "s", dst, "d", m)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.Key != "d" {
		t.Errorf("CopyObject info = %+v", info)
	}
	checkMeta(t, "CopyObject", info.Metadata, m)
	// Source unaffected by deleting/overwriting the copy and vice versa.
	if err := b.DeleteObject(ctx, src, "s"); err != nil {
		t.Fatal(err)
	}
	got, ginfo := get(t, b, dst, "d", nil)
	if !bytes.Equal(got, data) {
		t.Error("copy content differs")
	}
	checkMeta(t, "GetObject of copy", ginfo.Metadata, m)
	// Copy onto itself replaces metadata.
	if _, err := c.CopyObject(ctx, dst, "d", dst, "d", backends.Metadata{ETag: "self"}); err != nil {
		t.Fatal(err)
	}
	got, ginfo = get(t, b, dst, "d", nil)
	if !bytes.Equal(got, data) || ginfo.ETag != "self" {
		t.Errorf("self copy: %d bytes etag %q", len(got), ginfo.ETag)
	}
	_, err = c.CopyObject(ctx, src, "s", dst, "x", backends.Metadata{})
	wantErr(t, "CopyObject of missing source", err, backends.ErrNotFound)
	_, err = c.CopyObject(ctx, dst, "d", "raya-no-such-bucket", "x", backends.Metadata{})
	wantErr(t, "CopyObject to missing bucket", err, backends.ErrBucketNotFound)
}

// ---- ranges ----

func rangeCases() []backends.Range {
	return []backends.Range{
		{Offset: 0, Length: 1}, {Offset: 0, Length: -1}, {Offset: 0, Length: 1000}, {Offset: 0, Length: 5000},
		{Offset: 10, Length: 20}, {Offset: 999, Length: 1}, {Offset: 999, Length: -1}, {Offset: 990, Length: 100},
		{Offset: 500, Length: -1}, {Offset: -1}, {Offset: -10, Length: 3}, {Offset: -1000}, {Offset: -2000},
		{Offset: 1000, Length: 1}, {Offset: 1000, Length: -1}, {Offset: 5000, Length: 10}, {Offset: 0, Length: 0},
	}
}

func checkRanges(t *testing.T, b backends.Backend, bkt, key string, data []byte, cases []backends.Range) {
	t.Helper()
	ctx := context.Background()
	size := int64(len(data))
	for _, rng := range cases {
		off, n, rerr := rng.Resolve(size)
		info, rc, err := b.GetObject(ctx, bkt, key, &rng)
		if rerr != nil {
			if !errors.Is(err, backends.ErrInvalidRange) {
				t.Errorf("range %+v of %d bytes: err = %v, want ErrInvalidRange", rng, size, err)
			}
			if err == nil {
				rc.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("range %+v: %v", rng, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Errorf("range %+v: read: %v", rng, err)
			continue
		}
		if info.Size != size {
			t.Errorf("range %+v: info.Size = %d, want whole size %d", rng, info.Size, size)
		}
		// Length 0 with a valid offset selects nothing but is not an
		// error under Resolve; accept either empty or not-an-error.
		if want := data[off : off+n]; !bytes.Equal(got, want) {
			t.Errorf("range %+v of %d bytes: got %d bytes, want [%d,+%d)", rng, size, len(got), off, n)
		}
	}
}

func testRangeSingle(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	data := payload(20, 1000)
	put(t, b, bkt, "r", data, backends.Metadata{})
	checkRanges(t, b, bkt, "r", data, rangeCases())
}

func testRangeEmpty(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	put(t, b, bkt, "e", nil, backends.Metadata{})
	checkRanges(t, b, bkt, "e", nil, []backends.Range{{Offset: 0, Length: 1}, {Offset: 0, Length: -1}, {Offset: -1}, {Offset: 1, Length: 1}})
	// No range on an empty object is fine.
	if got, _ := get(t, b, bkt, "e", nil); len(got) != 0 {
		t.Errorf("got %d bytes", len(got))
	}
}

// ---- listing ----

func objectKeys(p *backends.ListPage) []string {
	keys := make([]string, 0, len(p.Objects))
	for _, o := range p.Objects {
		keys = append(keys, o.Key)
	}
	return keys
}

// listKeys are the keys of the listing tests: separators, dots, percent,
// plus, spaces, bytes above 0x7f, and keys that prefix other keys.
var listKeys = []string{
	"a", "a/", "a/b", "a/b/", "a/b/c", "a/c", "a//", "a//b", "a-b", "a.b", "a0", "ab", "b", "b/x", "b/y/z",
	"/", "//", "//x", "/x", "./", "./x", "../", "../x", "..", ".", "%", "%/a", "%2F", "+", "+/a", " ", " /a",
	"sp ace/x", "sp ace/y", "z", "~", "\x7f", "\x7f/a", "é", "é/a", "é/b/c", "日本/a", "日本/b", "\U0001F600/x",
	"x-1-y", "x-2", "x-2-z", "x/-/y", "dir/", "dir/file", "dir/sub/", "dir/sub/file", "dir/sub/file2", "dir//",
}

// entry is one item of a listing in the model: a key or a common prefix.
type entry struct {
	name   string
	prefix bool
}

func (e entry) String() string {
	if e.prefix {
		return fmt.Sprintf("P%q", e.name)
	}
	return fmt.Sprintf("%q", e.name)
}

func fmtOpts(o backends.ListOptions) string {
	return fmt.Sprintf("{Prefix:%q Delimiter:%q StartAfter:%q MaxKeys:%d}", o.Prefix, o.Delimiter, o.StartAfter, o.MaxKeys)
}

// model computes the full expected listing for opts (ignoring MaxKeys).
func model(keys []string, opts backends.ListOptions) []entry {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	var out []entry
	for _, k := range sorted {
		if !strings.HasPrefix(k, opts.Prefix) {
			continue
		}
		e := entry{name: k}
		if opts.Delimiter != "" {
			if i := strings.Index(k[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				e = entry{name: k[:len(opts.Prefix)+i+len(opts.Delimiter)], prefix: true}
			}
		}
		if e.name <= opts.StartAfter {
			continue
		}
		if n := len(out); n > 0 && out[n-1] == e {
			continue
		}
		out = append(out, e)
	}
	return out
}

// pageEntries merges a page's objects and common prefixes in order.
func pageEntries(t *testing.T, p *backends.ListPage) []entry {
	t.Helper()
	var out []entry
	for _, o := range p.Objects {
		out = append(out, entry{name: o.Key})
	}
	for _, cp := range p.CommonPrefixes {
		out = append(out, entry{name: cp, prefix: true})
	}
	slices.SortStableFunc(out, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	if !slices.IsSortedFunc(p.Objects, func(a, b backends.ObjectInfo) int { return strings.Compare(a.Key, b.Key) }) {
		t.Errorf("Objects not in byte order: %q", objectKeys(p))
	}
	if !slices.IsSorted(p.CommonPrefixes) {
		t.Errorf("CommonPrefixes not in byte order: %q", p.CommonPrefixes)
	}
	return out
}

func putKeys(t *testing.T, b backends.Backend, bkt string, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(keys))
	sem := make(chan struct{}, 8)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data := []byte("v:" + k)
			_, err := b.PutObject(context.Background(), bkt, k, bytes.NewReader(data), &backends.PutOptions{Size: int64(len(data)),
				Finish: func() (backends.Metadata, error) { return backends.Metadata{ETag: "etag-" + k}, nil }})
			if err != nil {
				errs <- fmt.Errorf("PutObject(%q): %w", k, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testListOrder(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	putKeys(t, b, bkt, listKeys)
	page, err := b.ListObjects(context.Background(), bkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(listKeys)
	slices.Sort(want)
	if got := objectKeys(page); !slices.Equal(got, want) {
		t.Errorf("full listing in byte order\n got  %q\n want %q", got, want)
	}
	if page.IsTruncated || len(page.CommonPrefixes) != 0 {
		t.Errorf("IsTruncated=%v CommonPrefixes=%q", page.IsTruncated, page.CommonPrefixes)
	}
	for _, o := range page.Objects {
		if o.Size != int64(len("v:"+o.Key)) || o.ETag != "etag-"+o.Key || o.LastModified.IsZero() {
			t.Errorf("listed object %+v", o)
		}
	}
}

func listOptionSets() []backends.ListOptions {
	prefixes := []string{"", "a", "a/", "a/b", "dir/", "dir/sub/", "/", ".", "%", "é", "x-", "nope", "\x7f"}
	delims := []string{"", "/", "-", "//", "b", "é"}
	starts := []string{"", "a", "a/", "a/b", "a/b/", "b/", "dir/", "dir/sub/", "x-2", "~", "é", "\U0001F600", "zzzz"}
	var out []backends.ListOptions
	for _, p := range prefixes {
		for _, d := range delims {
			for _, s := range starts {
				out = append(out, backends.ListOptions{Prefix: p, Delimiter: d, StartAfter: s})
			}
		}
	}
	return out
}

func testListModel(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	putKeys(t, b, bkt, listKeys)
	sets := listOptionSets()
	if h.opts.Short {
		sets = sets[:len(sets)/3]
	}
	maxes := []int{0, 1, 3, 1000}
	failures := 0
	for _, base := range sets {
		full := model(listKeys, base)
		for _, mk := range maxes {
			opts := base
			opts.MaxKeys = mk
			page, err := b.ListObjects(ctx, bkt, &opts)
			if err != nil {
				t.Fatalf("ListObjects(%+v): %v", opts, err)
			}
			limit := mk
			if limit <= 0 {
				limit = 1000
			}
			want := full
			truncated := false
			if len(want) > limit {
				want, truncated = want[:limit], true
			}
			got := pageEntries(t, page)
			ok := slices.Equal(got, want) && page.IsTruncated == truncated
			if ok && truncated && page.NextStartAfter != want[len(want)-1].name {
				ok = false
			}
			if !ok {
				failures++
				t.Errorf("ListObjects(%s)\n got  %q truncated=%v next=%q\n want %q truncated=%v",
					fmtOpts(opts), got, page.IsTruncated, page.NextStartAfter, want, truncated)
				if failures > 10 {
					t.Fatal("too many failures")
				}
			}
		}
	}
}

func testListPagination(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	putKeys(t, b, bkt, listKeys)
	for _, base := range []backends.ListOptions{
		{}, {Delimiter: "/"}, {Prefix: "a", Delimiter: "/"}, {Prefix: "dir/", Delimiter: "/"}, {Delimiter: "-"},
		{Prefix: "x", Delimiter: "-"}, {Prefix: "a/", Delimiter: "b"}, {StartAfter: "a/b", Delimiter: "/"},
	} {
		full := model(listKeys, base)
		for _, mk := range []int{1, 2, 3, 7} {
			opts := base
			opts.MaxKeys = mk
			var got []entry
			for pages := 0; ; pages++ {
				if pages > len(listKeys)+2 {
					t.Fatalf("pagination of %s does not end", fmtOpts(base))
				}
				page, err := b.ListObjects(ctx, bkt, &opts)
				if err != nil {
					t.Fatal(err)
				}
				es := pageEntries(t, page)
				if len(es) > mk {
					t.Errorf("page of %d entries with MaxKeys %d", len(es), mk)
				}
				got = append(got, es...)
				if !page.IsTruncated {
					break
				}
				if len(es) == 0 {
					t.Fatalf("truncated empty page for %s", fmtOpts(opts))
				}
				opts.StartAfter = page.NextStartAfter
			}
			if !slices.Equal(got, full) {
				t.Errorf("paginated %s with MaxKeys %d\n got  %q\n want %q", fmtOpts(base), mk, got, full)
			}
		}
	}
}

func testListStartAfterCommonPrefix(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	putKeys(t, b, bkt, []string{"a/1", "a/2", "a/3", "b", "c/1", "c/2", "d"})
	page, err := b.ListObjects(context.Background(), bkt, &backends.ListOptions{Delimiter: "/", StartAfter: "a/"})
	if err != nil {
		t.Fatal(err)
	}
	got := pageEntries(t, page)
	want := []entry{{name: "b"}, {name: "c/", prefix: true}, {name: "d"}}
	if !slices.Equal(got, want) {
		t.Errorf("StartAfter a common prefix: got %q, want %q", got, want)
	}
	page, err = b.ListObjects(context.Background(), bkt, &backends.ListOptions{Delimiter: "/", StartAfter: "a/2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := pageEntries(t, page); !slices.Equal(got, want) {
		t.Errorf("StartAfter inside a common prefix: got %q, want %q", got, want)
	}
	page, err = b.ListObjects(context.Background(), bkt, &backends.ListOptions{Delimiter: "/", MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := pageEntries(t, page); !slices.Equal(got, []entry{{"a/", true}, {"b", false}}) || !page.IsTruncated || page.NextStartAfter != "b" {
		t.Errorf("MaxKeys 2 merged: got %q truncated=%v next=%q", got, page.IsTruncated, page.NextStartAfter)
	}
}

func testListLongKeys(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	keys := longKeys(h.opts.MaxKeyLen)
	putKeys(t, b, bkt, keys)
	ctx := context.Background()
	for _, base := range []backends.ListOptions{{}, {Delimiter: "/"}, {Prefix: "p/", Delimiter: "/"}, {Prefix: "日本語/", Delimiter: "/"}, {Prefix: "/", Delimiter: "//"}} {
		for _, mk := range []int{0, 1} {
			opts := base
			opts.MaxKeys = mk
			var got []entry
			for i := 0; i < 100; i++ {
				page, err := b.ListObjects(ctx, bkt, &opts)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, pageEntries(t, page)...)
				if !page.IsTruncated {
					break
				}
				opts.StartAfter = page.NextStartAfter
			}
			if want := model(keys, base); !slices.Equal(got, want) {
				t.Errorf("long keys %s: got %d entries, want %d", fmtOpts(base), len(got), len(want))
			}
		}
	}
}

func testListEmpty(t *testing.T, h *harness) {
	b := h.backend(t)
	bkt := bucket(t, b)
	for _, opts := range []*backends.ListOptions{nil, {}, {Prefix: "x", Delimiter: "/", StartAfter: "a", MaxKeys: 1}} {
		page, err := b.ListObjects(context.Background(), bkt, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Objects) != 0 || len(page.CommonPrefixes) != 0 || page.IsTruncated {
			t.Errorf("empty bucket listing = %+v", page)
		}
	}
}

// ---- multipart ----

func uploadPart(t *testing.T, b backends.Backend, bkt, key, id string, n int, data []byte) *backends.PartInfo {
	t.Helper()
	etag := fmt.Sprintf("etag-%d-%x", n, sha256.Sum256(data))[:24]
	info, err := b.UploadPart(context.Background(), bkt, key, id, n, bytes.NewReader(data), &backends.PutOptions{
		Size:   int64(len(data)),
		Finish: func() (backends.Metadata, error) { return backends.Metadata{ETag: etag}, nil },
	})
	if err != nil {
		t.Fatalf("UploadPart(%d): %v", n, err)
	}
	if info.PartNumber != n || info.Size != int64(len(data)) || info.ETag != etag {
		t.Errorf("UploadPart info = %+v", info)
	}
	return info
}

func testMultipartComplete(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	const key = "mp/object"
	id, err := b.CreateMultipartUpload(ctx, bkt, key)
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Fatal("empty upload ID")
	}
	id2, err := b.CreateMultipartUpload(ctx, bkt, key)
	if err != nil {
		t.Fatal(err)
	}
	if id2 == id {
		t.Fatal("two uploads got the same ID")
	}
	// The upload is not an object.
	_, err = b.HeadObject(ctx, bkt, key)
	wantErr(t, "HeadObject during upload", err, backends.ErrNotFound)

	mps := h.opts.MinPartSize
	parts := map[int][]byte{
		1:     payload(31, 300_001+mps),
		2:     payload(32, 100),
		3:     payload(33, 5000+mps),
		5:     payload(35, 0+mps),
		7:     payload(37, 200_000+mps),
		10000: payload(39, 10),
	}
	for _, n := range []int{3, 10000, 1, 7, 2, 5} {
		uploadPart(t, b, bkt, key, id, n, payload(uint64(100+n), 1234)) // first version
	}
	// Replace some parts.
	for _, n := range []int{2, 1, 3, 7, 5, 10000} {
		uploadPart(t, b, bkt, key, id, n, parts[n])
	}
	list, err := b.ListParts(ctx, bkt, key, id)
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, p := range list {
		nums = append(nums, p.PartNumber)
		if p.Size != int64(len(parts[p.PartNumber])) {
			t.Errorf("part %d: listed size %d, want %d (replacement)", p.PartNumber, p.Size, len(parts[p.PartNumber]))
		}
		if want := fmt.Sprintf("etag-%d-%x", p.PartNumber, sha256.Sum256(parts[p.PartNumber]))[:24]; p.ETag != want {
			t.Errorf("part %d: ETag %q, want %q", p.PartNumber, p.ETag, want)
		}
		if p.LastModified.IsZero() {
			t.Errorf("part %d: zero LastModified", p.PartNumber)
		}
	}
	if !slices.Equal(nums, []int{1, 2, 3, 5, 7, 10000}) {
		t.Errorf("ListParts order = %v", nums)
	}
	// The other upload is independent.
	if l2, err := b.ListParts(ctx, bkt, key, id2); err != nil || len(l2) != 0 {
		t.Errorf("ListParts of second upload = %v, %v", l2, err)
	}

	chosen := []int{1, 3, 5, 7, 10000}
	var want []byte
	var sizes []int64
	for _, n := range chosen {
		want = append(want, parts[n]...)
		sizes = append(sizes, int64(len(parts[n])))
	}
	meta := fullMeta()
	meta.PartSizes = sizes
	info, err := b.CompleteMultipartUpload(ctx, bkt, key, id, chosen, meta)
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if info.Size != int64(len(want)) || info.Key != key {
		t.Errorf("Complete info = %+v", info)
	}
	checkMeta(t, "Complete", info.Metadata, meta)
	got, ginfo := get(t, b, bkt, key, nil)
	if !bytes.Equal(got, want) {
		t.Errorf("completed object content differs: %d bytes, want %d", len(got), len(want))
	}
	checkMeta(t, "GetObject of multipart object", ginfo.Metadata, meta)

	// Ranges across part boundaries.
	b1 := int64(len(parts[1]))
	b2 := b1 + int64(len(parts[3]))
	cases := rangeCases()
	for _, r := range [][2]int64{{b1 - 1, 2}, {b1, 1}, {b1 - 10, 5020}, {b2 - 1, 2}, {b2, -1}, {0, b2 + 1}, {b1 + 1, 0}} {
		cases = append(cases, backends.Range{Offset: r[0], Length: r[1]})
	}
	cases = append(cases, backends.Range{Offset: -(int64(len(parts[7])) + 11)}, backends.Range{Offset: int64(len(want)), Length: 1})
	checkRanges(t, b, bkt, key, want, cases)

	// The upload is gone.
	_, err = b.ListParts(ctx, bkt, key, id)
	wantErr(t, "ListParts after complete", err, backends.ErrUploadNotFound)
	_, err = b.UploadPart(ctx, bkt, key, id, 1, strings.NewReader("x"), &backends.PutOptions{Size: 1})
	wantErr(t, "UploadPart after complete", err, backends.ErrUploadNotFound)
	_, err = b.CompleteMultipartUpload(ctx, bkt, key, id, chosen, meta)
	wantErr(t, "Complete twice", err, backends.ErrUploadNotFound)
	wantErr(t, "Abort after complete", b.AbortMultipartUpload(ctx, bkt, key, id), backends.ErrUploadNotFound)
	// The object survives the removal of the other upload.
	if err := b.AbortMultipartUpload(ctx, bkt, key, id2); err != nil {
		t.Fatal(err)
	}
	if got, _ := get(t, b, bkt, key, nil); !bytes.Equal(got, want) {
		t.Error("object changed after aborting another upload")
	}
	// And it deletes like any object.
	if err := b.DeleteObject(ctx, bkt, key); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBucket(ctx, bkt); err != nil {
		t.Fatalf("DeleteBucket after everything: %v", err)
	}
}

func testMultipartAbort(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	id, err := b.CreateMultipartUpload(ctx, bkt, "k")
	if err != nil {
		t.Fatal(err)
	}
	uploadPart(t, b, bkt, "k", id, 1, payload(40, 1000))
	uploadPart(t, b, bkt, "k", id, 2, payload(41, 1000))
	if err := b.AbortMultipartUpload(ctx, bkt, "k", id); err != nil {
		t.Fatal(err)
	}
	_, err = b.ListParts(ctx, bkt, "k", id)
	wantErr(t, "ListParts after abort", err, backends.ErrUploadNotFound)
	_, err = b.UploadPart(ctx, bkt, "k", id, 3, strings.NewReader("x"), &backends.PutOptions{Size: 1})
	wantErr(t, "UploadPart after abort", err, backends.ErrUploadNotFound)
	_, err = b.CompleteMultipartUpload(ctx, bkt, "k", id, []int{1, 2}, backends.Metadata{})
	wantErr(t, "Complete after abort", err, backends.ErrUploadNotFound)
	wantErr(t, "Abort twice", b.AbortMultipartUpload(ctx, bkt, "k", id), backends.ErrUploadNotFound)
	checkGone(t, b, bkt, "k")
	if err := b.DeleteBucket(ctx, bkt); err != nil {
		t.Fatalf("DeleteBucket after abort: %v", err)
	}
}

func testMultipartUnknownUpload(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	const id = "no-such-upload"
	_, err := b.UploadPart(ctx, bkt, "k", id, 1, strings.NewReader("x"), &backends.PutOptions{Size: 1})
	wantErr(t, "UploadPart", err, backends.ErrUploadNotFound)
	_, err = b.ListParts(ctx, bkt, "k", id)
	wantErr(t, "ListParts", err, backends.ErrUploadNotFound)
	_, err = b.CompleteMultipartUpload(ctx, bkt, "k", id, []int{1}, backends.Metadata{})
	wantErr(t, "Complete", err, backends.ErrUploadNotFound)
	wantErr(t, "Abort", b.AbortMultipartUpload(ctx, bkt, "k", id), backends.ErrUploadNotFound)
}

func testMultipartMissingPart(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	id, err := b.CreateMultipartUpload(ctx, bkt, "k")
	if err != nil {
		t.Fatal(err)
	}
	first := payload(42, max(10, h.opts.MinPartSize))
	uploadPart(t, b, bkt, "k", id, 1, first)
	_, err = b.CompleteMultipartUpload(ctx, bkt, "k", id, []int{1, 2}, backends.Metadata{})
	wantErr(t, "Complete with a missing part", err, backends.ErrPartNotFound)
	// The upload is still usable.
	uploadPart(t, b, bkt, "k", id, 2, payload(43, 10))
	if _, err := b.CompleteMultipartUpload(ctx, bkt, "k", id, []int{1, 2}, backends.Metadata{}); err != nil {
		t.Fatalf("Complete after uploading the missing part: %v", err)
	}
	if got, _ := get(t, b, bkt, "k", nil); !bytes.Equal(got, append(first, payload(43, 10)...)) {
		t.Error("content differs")
	}
}

func testMultipartWrongKey(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt, other := bucket(t, b), bucket(t, b)
	id, err := b.CreateMultipartUpload(ctx, bkt, "k")
	if err != nil {
		t.Fatal(err)
	}
	uploadPart(t, b, bkt, "k", id, 1, payload(44, 10))
	for _, bk := range [][2]string{{bkt, "other"}, {other, "k"}} {
		_, err = b.ListParts(ctx, bk[0], bk[1], id)
		wantErr(t, "ListParts with another key/bucket", err, backends.ErrUploadNotFound)
		_, err = b.UploadPart(ctx, bk[0], bk[1], id, 2, strings.NewReader("x"), &backends.PutOptions{Size: 1})
		wantErr(t, "UploadPart with another key/bucket", err, backends.ErrUploadNotFound)
		_, err = b.CompleteMultipartUpload(ctx, bk[0], bk[1], id, []int{1}, backends.Metadata{})
		wantErr(t, "Complete with another key/bucket", err, backends.ErrUploadNotFound)
		wantErr(t, "Abort with another key/bucket", b.AbortMultipartUpload(ctx, bk[0], bk[1], id), backends.ErrUploadNotFound)
	}
	if parts, err := b.ListParts(ctx, bkt, "k", id); err != nil || len(parts) != 1 {
		t.Errorf("upload damaged by calls with another key: %v, %v", parts, err)
	}
}

func testMultipartPartAbort(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	id, err := b.CreateMultipartUpload(ctx, bkt, "k")
	if err != nil {
		t.Fatal(err)
	}
	first := payload(45, 3000)
	uploadPart(t, b, bkt, "k", id, 1, first)
	errBad := errors.New("bad")
	_, err = b.UploadPart(ctx, bkt, "k", id, 1, &failingReader{r: bytes.NewReader(payload(46, 5000)), err: errBad}, &backends.PutOptions{Size: -1})
	if err == nil {
		t.Error("UploadPart succeeded although the reader failed")
	}
	_, err = b.UploadPart(ctx, bkt, "k", id, 1, bytes.NewReader(payload(47, 5000)), &backends.PutOptions{Size: 5000,
		Finish: func() (backends.Metadata, error) { return backends.Metadata{}, errBad }})
	if err == nil {
		t.Error("UploadPart succeeded although Finish failed")
	}
	_, err = b.UploadPart(ctx, bkt, "k", id, 2, bytes.NewReader(payload(48, 5000)), &backends.PutOptions{Size: 5000,
		Finish: func() (backends.Metadata, error) { return backends.Metadata{}, errBad }})
	if err == nil {
		t.Error("UploadPart succeeded although Finish failed")
	}
	parts, err := b.ListParts(ctx, bkt, "k", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || parts[0].Size != 3000 {
		t.Fatalf("parts after failed uploads = %+v", parts)
	}
	if _, err := b.CompleteMultipartUpload(ctx, bkt, "k", id, []int{1}, backends.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := get(t, b, bkt, "k", nil); !bytes.Equal(got, first) {
		t.Error("failed part replacement damaged the earlier part")
	}
}

func testMultipartReplacesObject(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	put(t, b, bkt, "k", payload(50, 1000), backends.Metadata{ETag: "single"})
	id, err := b.CreateMultipartUpload(ctx, bkt, "k")
	if err != nil {
		t.Fatal(err)
	}
	// The old object stays readable during the upload.
	uploadPart(t, b, bkt, "k", id, 1, payload(51, 100))
	if got, _ := get(t, b, bkt, "k", nil); !bytes.Equal(got, payload(50, 1000)) {
		t.Error("object changed by an unfinished upload")
	}
	if _, err := b.CompleteMultipartUpload(ctx, bkt, "k", id, []int{1}, backends.Metadata{ETag: "multi-1", PartSizes: []int64{100}}); err != nil {
		t.Fatal(err)
	}
	got, info := get(t, b, bkt, "k", nil)
	if !bytes.Equal(got, payload(51, 100)) || info.ETag != "multi-1" || !slices.Equal(info.PartSizes, []int64{100}) {
		t.Errorf("after complete: %d bytes, %+v", len(got), info)
	}
	// A single put replaces a multipart object.
	put(t, b, bkt, "k", []byte("plain"), backends.Metadata{ETag: "plain"})
	got, info = get(t, b, bkt, "k", nil)
	if string(got) != "plain" || info.PartSizes != nil {
		t.Errorf("after put: %q, %+v", got, info)
	}
}

func testMultipartConcurrent(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	id, err := b.CreateMultipartUpload(ctx, bkt, "k")
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := payload(uint64(60+i), 10_000+i+h.opts.MinPartSize)
			if _, err := b.UploadPart(ctx, bkt, "k", id, i, bytes.NewReader(data), &backends.PutOptions{Size: int64(len(data))}); err != nil {
				t.Errorf("UploadPart(%d): %v", i, err)
			}
		}()
	}
	wg.Wait()
	var all []int
	var want []byte
	for i := 1; i <= n; i++ {
		all = append(all, i)
		want = append(want, payload(uint64(60+i), 10_000+i+h.opts.MinPartSize)...)
	}
	if _, err := b.CompleteMultipartUpload(ctx, bkt, "k", id, all, backends.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := get(t, b, bkt, "k", nil); !bytes.Equal(got, want) {
		t.Error("content differs")
	}
}

// ---- concurrency ----

func testConcurrentPutSameKey(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	writers := h.opts.Writers
	size := 1 << 20
	rounds := 4
	if h.opts.Short {
		size, rounds = 256<<10, 2
	}
	payloads := make([][]byte, writers)
	sums := map[[32]byte]int{}
	for i := range payloads {
		payloads[i] = payload(uint64(70+i), size+i)
		sums[sha256.Sum256(payloads[i])] = i
	}
	put(t, b, bkt, "k", payloads[0], backends.Metadata{ETag: "0"})
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				info, rc, err := b.GetObject(ctx, bkt, "k", nil)
				if err != nil {
					t.Errorf("GetObject during concurrent puts: %v", err)
					return
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Errorf("reading during concurrent puts: %v", err)
					return
				}
				i, ok := sums[sha256.Sum256(data)]
				if !ok {
					t.Errorf("torn read: %d bytes match no writer's payload", len(data))
					return
				}
				if info.ETag != fmt.Sprint(i) || info.Size != int64(len(data)) {
					t.Errorf("info %+v does not match the content of writer %d", info, i)
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				_, err := b.PutObject(ctx, bkt, "k", bytes.NewReader(payloads[w]), &backends.PutOptions{Size: int64(len(payloads[w])),
					Finish: func() (backends.Metadata, error) { return backends.Metadata{ETag: fmt.Sprint(w)}, nil }})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	got, info := get(t, b, bkt, "k", nil)
	i, ok := sums[sha256.Sum256(got)]
	if !ok || info.ETag != fmt.Sprint(i) {
		t.Errorf("final object (%d bytes, etag %q) is not one writer's payload", len(got), info.ETag)
	}
	page, err := b.ListObjects(ctx, bkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 1 || page.Objects[0].Size != int64(len(got)) {
		t.Errorf("listing after concurrent puts = %+v", page.Objects)
	}
}

// ---- large objects ----

// genReader yields n deterministic pseudo-random bytes without buffering them.
type genReader struct {
	src *rand.ChaCha8
	n   int64
}

func newGenReader(seed uint64, n int64) *genReader {
	return &genReader{src: rand.NewChaCha8([32]byte{byte(seed), 0xAA, byte(seed >> 8)}), n: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	n, _ := g.src.Read(p)
	g.n -= int64(n)
	return n, nil
}

func hashOf(r io.Reader) ([32]byte, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s, n, err
}

func testLargeStream(t *testing.T, h *harness) {
	b := h.backend(t)
	ctx := context.Background()
	bkt := bucket(t, b)
	size := h.opts.LargeObjectSize
	want, _, _ := hashOf(newGenReader(1, size))
	info, err := b.PutObject(ctx, bkt, "large", newGenReader(1, size), &backends.PutOptions{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size {
		t.Errorf("Size = %d, want %d", info.Size, size)
	}
	_, rc, err := b.GetObject(ctx, bkt, "large", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, n, err := hashOf(rc)
	rc.Close()
	if err != nil || n != size || got != want {
		t.Errorf("large object read back: %d bytes, err %v, hash match %v", n, err, got == want)
	}
	// A range in the middle.
	off, length := size/3, size/4
	_, rc, err = b.GetObject(ctx, bkt, "large", &backends.Range{Offset: off, Length: length})
	if err != nil {
		t.Fatal(err)
	}
	gotR, n, err := hashOf(rc)
	rc.Close()
	g := newGenReader(1, size)
	if _, err := io.CopyN(io.Discard, g, off); err != nil {
		t.Fatal(err)
	}
	wantR, _, _ := hashOf(io.LimitReader(g, length))
	if err != nil || n != length || gotR != wantR {
		t.Errorf("large range read back: %d bytes, err %v, hash match %v", n, err, gotR == wantR)
	}
	// Multipart with large parts and unknown sizes.
	id, err := b.CreateMultipartUpload(ctx, bkt, "large-mp")
	if err != nil {
		t.Fatal(err)
	}
	half := max(size/2, int64(h.opts.MinPartSize))
	rest := max(size-size/2, 1)
	for i, n := range []int64{half, rest} {
		if _, err := b.UploadPart(ctx, bkt, "large-mp", id, i+1, newGenReader(uint64(10+i), n), &backends.PutOptions{Size: -1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.CompleteMultipartUpload(ctx, bkt, "large-mp", id, []int{1, 2}, backends.Metadata{PartSizes: []int64{half, rest}}); err != nil {
		t.Fatal(err)
	}
	wantMP, _, _ := hashOf(io.MultiReader(newGenReader(10, half), newGenReader(11, rest)))
	_, rc, err = b.GetObject(ctx, bkt, "large-mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	gotMP, n, err := hashOf(rc)
	rc.Close()
	if err != nil || n != half+rest || gotMP != wantMP {
		t.Errorf("large multipart object read back: %d bytes, err %v, hash match %v", n, err, gotMP == wantMP)
	}
}

// ---- benchmarks ----

// BenchPut measures PutObject of size-byte objects into a fresh bucket,
// cycling over a small set of keys.
func BenchPut(b *testing.B, be backends.Backend, size int64) {
	ctx := context.Background()
	bkt := fmt.Sprintf("raya-bench-put-%d", bucketSeq.Add(1))
	if err := be.CreateBucket(ctx, bkt); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("obj-%d", i%64)
		i++
		if _, err := be.PutObject(ctx, bkt, key, newGenReader(uint64(i), size), &backends.PutOptions{Size: size}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchGet measures reading a whole size-byte object.
func BenchGet(b *testing.B, be backends.Backend, size int64) {
	ctx := context.Background()
	bkt := fmt.Sprintf("raya-bench-get-%d", bucketSeq.Add(1))
	if err := be.CreateBucket(ctx, bkt); err != nil {
		b.Fatal(err)
	}
	if _, err := be.PutObject(ctx, bkt, "obj", newGenReader(1, size), &backends.PutOptions{Size: size}); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		_, rc, err := be.GetObject(ctx, bkt, "obj", nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}
