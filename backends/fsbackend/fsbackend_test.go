package fsbackend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/backendtest"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return newTest(t, t.TempDir(), nil) }, nil)
}

// TestConformanceSynced runs a short pass with fsync enabled.
func TestConformanceSynced(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		b, err := New(context.Background(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, &backendtest.Options{Short: true})
}

func newTest(t testing.TB, root string, opts *Options) *Backend {
	t.Helper()
	if opts == nil {
		opts = &Options{NoSync: true}
	}
	b, err := New(context.Background(), root, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dataFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(root, "data"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, d.Name())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tmpFiles(t *testing.T, root string) []os.DirEntry {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(root, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

type errReader struct{ n int }

func (e *errReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, errors.New("boom")
	}
	n := min(len(p), e.n)
	e.n -= n
	return n, nil
}

func TestFailedPutLeavesNoFiles(t *testing.T) {
	root := t.TempDir()
	b := newTest(t, root, &Options{NoSync: true, NoOrphanScan: true})
	defer b.Close()
	ctx := context.Background()
	if err := b.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(ctx, "bkt", "k", &errReader{n: 3 << 20}, nil); err == nil {
		t.Fatal("put succeeded")
	}
	if _, err := b.PutObject(ctx, "bkt", "k", strings.NewReader("abc"), &backends.PutOptions{Size: 3,
		Finish: func() (backends.Metadata, error) { return backends.Metadata{}, errors.New("bad checksum") }}); err == nil {
		t.Fatal("put succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.PutObject(cctx, "bkt", "k", strings.NewReader("abc"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("put with canceled ctx: %v", err)
	}
	id, err := b.CreateMultipartUpload(ctx, "bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(ctx, "bkt", "k", id, 1, &errReader{n: 10}, nil); err == nil {
		t.Fatal("part succeeded")
	}
	// Size mismatch is a failure too.
	if _, err := b.PutObject(ctx, "bkt", "k", strings.NewReader("abc"), &backends.PutOptions{Size: 4}); err == nil {
		t.Fatal("short put succeeded")
	}
	if es := tmpFiles(t, root); len(es) != 0 {
		t.Errorf("tmp not clean: %v", es)
	}
	if fs := dataFiles(t, root); len(fs) != 0 {
		t.Errorf("data files left: %v", fs)
	}
	// Successful put, then replacements and deletes leave exactly the live files.
	for i := 0; i < 3; i++ {
		if _, err := b.PutObject(ctx, "bkt", "k", strings.NewReader("abc"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if fs := dataFiles(t, root); len(fs) != 1 {
		t.Errorf("after 3 puts to one key: %d data files", len(fs))
	}
	if err := b.DeleteObject(ctx, "bkt", "k"); err != nil {
		t.Fatal(err)
	}
	if fs := dataFiles(t, root); len(fs) != 0 {
		t.Errorf("after delete: %d data files", len(fs))
	}
}

func TestRestartKeepsObjects(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	b := newTest(t, root, nil)
	if err := b.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	meta := backends.Metadata{ETag: "e", User: map[string]string{"a": "b"}}
	if _, err := b.PutObject(ctx, "bkt", "a/b", strings.NewReader("hello"), &backends.PutOptions{Size: 5,
		Finish: func() (backends.Metadata, error) { return meta, nil }}); err != nil {
		t.Fatal(err)
	}
	id, err := b.CreateMultipartUpload(ctx, "bkt", "mp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(ctx, "bkt", "mp", id, 1, strings.NewReader("part1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = newTest(t, root, nil)
	defer b.Close()
	info, rc, err := b.GetObject(ctx, "bkt", "a/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "hello" || info.ETag != "e" || info.User["a"] != "b" {
		t.Errorf("after restart: %q %+v", got, info)
	}
	if _, err := b.UploadPart(ctx, "bkt", "mp", id, 2, strings.NewReader("part2"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompleteMultipartUpload(ctx, "bkt", "mp", id, []int{1, 2}, backends.Metadata{}); err != nil {
		t.Fatal(err)
	}
	_, rc, err = b.GetObject(ctx, "bkt", "mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(rc)
	rc.Close()
	if string(got) != "part1part2" {
		t.Errorf("multipart across restart: %q", got)
	}
}

func TestSecondProcessFailsClearly(t *testing.T) {
	root := t.TempDir()
	b := newTest(t, root, nil)
	defer b.Close()
	start := time.Now()
	_, err := New(context.Background(), root, &Options{LockTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second New: %v, want an 'in use' error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second New took %v", d)
	}
}

func TestOrphanCleanup(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	b := newTest(t, root, &Options{NoSync: true, NoOrphanScan: true})
	if err := b.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(ctx, "bkt", "keep", strings.NewReader("keep"), nil); err != nil {
		t.Fatal(err)
	}
	id, err := b.CreateMultipartUpload(ctx, "bkt", "mp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(ctx, "bkt", "mp", id, 1, strings.NewReader("part"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	live := dataFiles(t, root)
	if len(live) != 2 {
		t.Fatalf("live files = %v", live)
	}
	// Simulate a crash: an orphan data file, a leftover temp file, and a
	// file that is not ours (left alone).
	orphan := newID()
	for _, d := range []string{orphan[:2], "00"} {
		if err := os.MkdirAll(filepath.Join(root, "data", d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "data", orphan[:2], orphan), []byte("orphan"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tmp", newID()), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(root, "data", "00", "README")
	if err := os.WriteFile(foreign, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	b = newTest(t, root, &Options{NoSync: true}) // background scan
	defer b.Close()
	if es := tmpFiles(t, root); len(es) != 0 {
		t.Errorf("tmp not cleaned at New: %v", es)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(root, "data", orphan[:2], orphan)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("orphan not removed by the background scan")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("foreign file removed: %v", err)
	}
	// An explicit pass finds nothing more, and live files are intact.
	if n, err := b.CollectGarbage(ctx); err != nil || n != 0 {
		t.Errorf("CollectGarbage = %d, %v", n, err)
	}
	if got := dataFiles(t, root); len(got) != 3 { // 2 live + README
		t.Errorf("data files after scan = %v", got)
	}
	if _, err := b.CompleteMultipartUpload(ctx, "bkt", "mp", id, []int{1}, backends.Metadata{}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"keep", "mp"} {
		_, rc, err := b.GetObject(ctx, "bkt", k, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if len(got) != 4 {
			t.Errorf("%s = %q", k, got)
		}
	}
}

// TestGCWhileServing runs CollectGarbage in a loop while objects are put,
// replaced and read: it must never remove a live or pinned file.
func TestGCWhileServing(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	b := newTest(t, root, &Options{NoSync: true, NoOrphanScan: true})
	defer b.Close()
	if err := b.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := b.CollectGarbage(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	data := bytes.Repeat([]byte("x"), 100_000)
	for i := 0; i < 200; i++ {
		if _, err := b.PutObject(ctx, "bkt", "k", bytes.NewReader(data), nil); err != nil {
			t.Fatal(err)
		}
		_, rc, err := b.GetObject(ctx, "bkt", "k", nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || len(got) != len(data) {
			t.Fatalf("read %d bytes: %v", len(got), err)
		}
	}
	close(stop)
	<-gcDone
	if fs := dataFiles(t, root); len(fs) != 1 {
		t.Errorf("data files = %d, want 1", len(fs))
	}
}

// TestReaderCancel checks that GetObject's reader stops when its context ends.
func TestReaderCancel(t *testing.T) {
	ctx := context.Background()
	b := newTest(t, t.TempDir(), nil)
	defer b.Close()
	if err := b.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(ctx, "bkt", "k", bytes.NewReader(make([]byte, 1<<20)), nil); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	_, rc, err := b.GetObject(cctx, "bkt", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
}

// TestWriteToFile checks the sendfile/copy_file_range path across segments.
func TestWriteToFile(t *testing.T) {
	ctx := context.Background()
	b := newTest(t, t.TempDir(), nil)
	defer b.Close()
	if err := b.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	id, err := b.CreateMultipartUpload(ctx, "bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := 1; i <= 3; i++ {
		p := bytes.Repeat([]byte{byte('a' + i)}, 1000*i)
		want = append(want, p...)
		if _, err := b.UploadPart(ctx, "bkt", "k", id, i, bytes.NewReader(p), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.CompleteMultipartUpload(ctx, "bkt", "k", id, []int{1, 2, 3}, backends.Metadata{}); err != nil {
		t.Fatal(err)
	}
	for _, rng := range []*backends.Range{nil, {Offset: 999, Length: 2002}, {Offset: -1500}} {
		_, rc, err := b.GetObject(ctx, "bkt", "k", rng)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(f, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		got, _ := os.ReadFile(f.Name())
		off, length := int64(0), int64(len(want))
		if rng != nil {
			off, length, _ = rng.Resolve(int64(len(want)))
		}
		if n != length || !bytes.Equal(got, want[off:off+length]) {
			t.Errorf("range %v: wrote %d bytes, content match %v", rng, n, bytes.Equal(got, want[off:off+length]))
		}
	}
}

func benchBackend(b *testing.B, sync bool) *Backend {
	be, err := New(context.Background(), b.TempDir(), &Options{NoSync: !sync, NoOrphanScan: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	return be
}

func BenchmarkPut4K(b *testing.B) {
	b.Run("sync", func(b *testing.B) { backendtest.BenchPut(b, benchBackend(b, true), 4<<10) })
	b.Run("nosync", func(b *testing.B) { backendtest.BenchPut(b, benchBackend(b, false), 4<<10) })
}

func BenchmarkGet4K(b *testing.B) {
	backendtest.BenchGet(b, benchBackend(b, true), 4<<10)
}

func BenchmarkPut64M(b *testing.B) {
	b.Run("sync", func(b *testing.B) { backendtest.BenchPut(b, benchBackend(b, true), 64<<20) })
	b.Run("nosync", func(b *testing.B) { backendtest.BenchPut(b, benchBackend(b, false), 64<<20) })
}

func BenchmarkGet64M(b *testing.B) {
	backendtest.BenchGet(b, benchBackend(b, true), 64<<20)
}

func TestSuccessor(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"a/", "a0", true}, {"a", "b", true}, {"a\xff", "b", true}, {"a\xff\xff", "b", true},
		{"\xff", "", false}, {"", "", false}, {"é/", "é0", true},
	} {
		got, ok := successor([]byte(tc.in))
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("successor(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
