package gcsbackend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/cloudraya/raya/backends"
)

func setup(t *testing.T, chunk int) (*Backend, string) {
	t.Helper()
	b := newTest(t, chunk)
	t.Cleanup(func() { b.Close() })
	if err := b.CreateBucket(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	return b, "bkt"
}

// rawNames lists every object name in the GCS bucket, hidden ones included.
func rawNames(t *testing.T, b *Backend, bkt string) []string {
	t.Helper()
	names, err := b.listNames(context.Background(), b.bucket(bkt), "")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

// TestNoHiddenLeftovers checks that failed and successful puts, parts,
// completions and aborts leave no hidden objects behind.
func TestNoHiddenLeftovers(t *testing.T) {
	b, bkt := setup(t, 256<<10)
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), 1<<20+5) // more than one chunk: temporary-object path
	fail := errors.New("fail")
	for _, small := range []bool{true, false} {
		data := big
		if small {
			data = big[:1000]
		}
		if _, err := b.PutObject(ctx, bkt, "k", &errAfter{bytes.NewReader(data), fail}, nil); !errors.Is(err, fail) {
			t.Errorf("reader error: %v", err)
		}
		_, err := b.PutObject(ctx, bkt, "k", bytes.NewReader(data), &backends.PutOptions{Size: -1,
			Finish: func() (backends.Metadata, error) { return backends.Metadata{}, fail }})
		if !errors.Is(err, fail) {
			t.Errorf("Finish error: %v", err)
		}
		if _, err := b.PutObject(ctx, bkt, "k", bytes.NewReader(data), &backends.PutOptions{Size: int64(len(data)) + 1}); err == nil {
			t.Error("short body accepted")
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := b.PutObject(cctx, bkt, "k", bytes.NewReader(data), nil); !errors.Is(err, context.Canceled) {
			t.Errorf("canceled: %v", err)
		}
	}
	if got := rawNames(t, b, bkt); len(got) != 0 {
		t.Fatalf("after failed puts: %q", got)
	}
	if _, err := b.PutObject(ctx, bkt, "k", bytes.NewReader(big), nil); err != nil {
		t.Fatal(err)
	}
	if got := rawNames(t, b, bkt); !slices.Equal(got, []string{"k"}) {
		t.Fatalf("after a large put: %q", got)
	}
	id, err := b.CreateMultipartUpload(ctx, bkt, "mp")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := b.UploadPart(ctx, bkt, "mp", id, i, bytes.NewReader(big[:100*i]), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.CompleteMultipartUpload(ctx, bkt, "mp", id, []int{1, 3}, backends.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if got := rawNames(t, b, bkt); !slices.Equal(got, []string{"k", "mp"}) {
		t.Fatalf("after complete: %q", got)
	}
	id, err = b.CreateMultipartUpload(ctx, bkt, "mp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(ctx, bkt, "mp", id, 1, bytes.NewReader(big), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.AbortMultipartUpload(ctx, bkt, "mp", id); err != nil {
		t.Fatal(err)
	}
	if got := rawNames(t, b, bkt); !slices.Equal(got, []string{"k", "mp"}) {
		t.Fatalf("after abort: %q", got)
	}
}

// TestComposeHierarchy completes an upload of more parts than one compose
// call takes.
func TestComposeHierarchy(t *testing.T) {
	b, bkt := setup(t, 256<<10)
	ctx := context.Background()
	id, err := b.CreateMultipartUpload(ctx, bkt, "many")
	if err != nil {
		t.Fatal(err)
	}
	const n = 2*maxComposeSources + 5 // three groups, then the final compose
	var want []byte
	var nums []int
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("<%d>", i)...)
		nums = append(nums, i)
	}
	err = forEach(nums, func(i int) error {
		_, err := b.UploadPart(ctx, bkt, "many", id, i, strings.NewReader(fmt.Sprintf("<%d>", i)), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sizes := make([]int64, n)
	for i := range sizes {
		sizes[i] = int64(len(fmt.Sprintf("<%d>", i+1)))
	}
	info, err := b.CompleteMultipartUpload(ctx, bkt, "many", id, nums, backends.Metadata{ETag: "m-69", PartSizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(want)) || !slices.Equal(info.PartSizes, sizes) {
		t.Errorf("info = size %d, %d part sizes", info.Size, len(info.PartSizes))
	}
	_, rc, err := b.GetObject(ctx, bkt, "many", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, want) {
		t.Errorf("content differs: %.80q…", got)
	}
	if names := rawNames(t, b, bkt); !slices.Equal(names, []string{"many"}) {
		t.Errorf("left behind: %d objects", len(names))
	}
}

// TestListSkipsHidden lists around the hidden namespace with small pages,
// which sorts between keys starting with control bytes and the rest.
func TestListSkipsHidden(t *testing.T) {
	b, bkt := setup(t, 256<<10)
	ctx := context.Background()
	keys := []string{"\x00a", "\x0db", "\x1e", "\x1f", "b", "u/x"}
	for _, k := range keys {
		if _, err := b.PutObject(ctx, bkt, k, strings.NewReader(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	id, err := b.CreateMultipartUpload(ctx, bkt, "mp")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 7; i++ {
		if _, err := b.UploadPart(ctx, bkt, "mp", id, i, strings.NewReader("p"), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range []backends.ListOptions{{MaxKeys: 1}, {MaxKeys: 2}, {Delimiter: "/", MaxKeys: 1}, {Delimiter: "\x1e", MaxKeys: 1}, {}} {
		var got []string
		o := opts
		for range 20 {
			page, err := b.ListObjects(ctx, bkt, &o)
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range page.Objects {
				got = append(got, obj.Key)
			}
			got = append(got, page.CommonPrefixes...)
			if !page.IsTruncated {
				break
			}
			o.StartAfter = page.NextStartAfter
		}
		slices.Sort(got)
		want := keys
		if opts.Delimiter == "/" {
			want = []string{"\x00a", "\x0db", "\x1e", "\x1f", "b", "u/"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: got %q, want %q", opts, got, want)
		}
	}
	// Hidden objects do not make a bucket non-empty, and go with it.
	for _, k := range keys {
		if err := b.DeleteObject(ctx, bkt, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.DeleteBucket(ctx, bkt); err != nil {
		t.Fatal(err)
	}
}

// TestStoredBytesVerbatim checks that an object stored with
// Content-Encoding: gzip is served as stored (never decompressed).
func TestStoredBytesVerbatim(t *testing.T) {
	b, bkt := setup(t, 256<<10)
	ctx := context.Background()
	var gz bytes.Buffer
	gz.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}) // a gzip header, then garbage
	gz.WriteString("not really gzip")
	m := backends.Metadata{ContentEncoding: "gzip", ContentType: "text/plain"}
	if _, err := b.PutObject(ctx, bkt, "gz", bytes.NewReader(gz.Bytes()), &backends.PutOptions{Size: -1,
		Finish: func() (backends.Metadata, error) { return m, nil }}); err != nil {
		t.Fatal(err)
	}
	for _, rng := range []*backends.Range{nil, {Offset: 2, Length: 5}} {
		_, rc, err := b.GetObject(ctx, bkt, "gz", rng)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		want := gz.Bytes()
		if rng != nil {
			want = want[2:7]
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("range %v: got %q, %v; want %q", rng, got, err, want)
		}
	}
}

// TestCopyReplacesMetadata checks that a copy onto itself drops fields the
// new metadata does not have.
func TestCopyReplacesMetadata(t *testing.T) {
	b, bkt := setup(t, 256<<10)
	ctx := context.Background()
	full := backends.Metadata{ETag: "a", ContentType: "text/plain", CacheControl: "no-cache",
		User: map[string]string{"x": "1"}, Checksums: map[string]string{"CRC32": "AAAAAA=="}, PartSizes: []int64{1, 1}}
	if _, err := b.PutObject(ctx, bkt, "k", strings.NewReader("ab"), &backends.PutOptions{Size: 2,
		Finish: func() (backends.Metadata, error) { return full, nil }}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CopyObject(ctx, bkt, "k", bkt, "k", backends.Metadata{ETag: "b"}); err != nil {
		t.Fatal(err)
	}
	info, err := b.HeadObject(ctx, bkt, "k")
	if err != nil {
		t.Fatal(err)
	}
	if want := (backends.Metadata{ETag: "b"}); !reflectEqualMeta(info.Metadata, want) {
		t.Errorf("after self copy: %+v, want %+v", info.Metadata, want)
	}
}

func reflectEqualMeta(a, b backends.Metadata) bool {
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}

// TestAwkwardKeysStoredValidly checks the names that reach GCS.
func TestAwkwardKeysStoredValidly(t *testing.T) {
	b, bkt := setup(t, 256<<10)
	ctx := context.Background()
	for _, k := range []string{".", "..", "a\nb", "c\rd"} {
		if _, err := b.PutObject(ctx, bkt, k, strings.NewReader(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range rawNames(t, b, bkt) {
		if n == "." || n == ".." || strings.ContainsAny(n, "\r\n") {
			t.Errorf("GCS name %q is not valid on GCS", n)
		}
	}
	if _, err := b.PutObject(ctx, bkt, ".well-known/acme-challenge/x", strings.NewReader("x"), nil); !errors.Is(err, backends.ErrInvalidKey) {
		t.Errorf("reserved GCS prefix: %v", err)
	}
}
