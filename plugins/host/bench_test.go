package host_test

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/backendtest"
	"github.com/cloudraya/raya/backends/fsbackend"
	"github.com/cloudraya/raya/plugins/host"
)

// The same workloads against the local disk backend in process and behind
// a plugin process (fsync off on both, so the boundary is what differs):
//
//	go test -run '^$' -bench . -benchtime 3s ./plugins/host/
func BenchmarkLocal(b *testing.B) {
	modes := []struct {
		name string
		open func(b *testing.B) backends.Backend
	}{
		{"inprocess", func(b *testing.B) backends.Backend {
			be, err := fsbackend.New(context.Background(), b.TempDir(), &fsbackend.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			return be
		}},
		{"plugin", func(b *testing.B) backends.Backend { return startLocal(b, b.TempDir()) }},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) { benchWorkloads(b, m.open) })
	}
}

// BenchmarkChunkSize measures the plugin boundary alone for candidate chunk
// sizes: the probe plugin's "null" bucket discards what it is sent and
// streams zeros, so no disk is involved.
func BenchmarkChunkSize(b *testing.B) {
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			cfg := host.BuiltinConfig(testPlugin, "probe", map[string]string{"root": b.TempDir()})
			cfg.ChunkSize = size
			cfg.Logger = testLogger(b)
			be, err := host.Start(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			for _, n := range []int64{4 << 10, 64 << 20} {
				b.Run(fmt.Sprintf("Put%s", sizeName(n)), func(b *testing.B) {
					b.SetBytes(n)
					for b.Loop() {
						if _, err := be.PutObject(context.Background(), "null", "x", io.LimitReader(zeroReader{}, n), &backends.PutOptions{Size: n}); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(fmt.Sprintf("Get%s", sizeName(n)), func(b *testing.B) {
					b.SetBytes(n)
					buf := make([]byte, 32<<10)
					for b.Loop() {
						_, rc, err := be.GetObject(context.Background(), "null", strconv.FormatInt(n, 10), nil)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
							b.Fatal(err)
						}
						rc.Close()
					}
				})
			}
		})
	}
}

func sizeName(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func withBackend(b *testing.B, open func(*testing.B) backends.Backend, fn func(backends.Backend)) {
	be := open(b)
	defer be.Close()
	fn(be)
}

func benchWorkloads(b *testing.B, open func(*testing.B) backends.Backend) {
	b.Run("Put4KiB", func(b *testing.B) {
		withBackend(b, open, func(be backends.Backend) { backendtest.BenchPut(b, be, 4<<10) })
	})
	b.Run("Get4KiB", func(b *testing.B) {
		withBackend(b, open, func(be backends.Backend) { backendtest.BenchGet(b, be, 4<<10) })
	})
	b.Run("Head", func(b *testing.B) {
		withBackend(b, open, func(be backends.Backend) {
			ctx := context.Background()
			if err := be.CreateBucket(ctx, "bench-head"); err != nil {
				b.Fatal(err)
			}
			if _, err := be.PutObject(ctx, "bench-head", "k", strings.NewReader("x"), &backends.PutOptions{Size: 1}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := be.HeadObject(ctx, "bench-head", "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("Put64MiB", func(b *testing.B) {
		withBackend(b, open, func(be backends.Backend) { backendtest.BenchPut(b, be, 64<<20) })
	})
	b.Run("Get64MiB", func(b *testing.B) {
		withBackend(b, open, func(be backends.Backend) { backendtest.BenchGet(b, be, 64<<20) })
	})
	b.Run("List1000of10000", func(b *testing.B) {
		withBackend(b, open, func(be backends.Backend) {
			ctx := context.Background()
			if err := be.CreateBucket(ctx, "bench-list"); err != nil {
				b.Fatal(err)
			}
			for i := range 10000 {
				key := fmt.Sprintf("dir%02d/object-%05d", i%20, i)
				if _, err := be.PutObject(ctx, "bench-list", key, strings.NewReader("x"), &backends.PutOptions{Size: 1}); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				page, err := be.ListObjects(ctx, "bench-list", &backends.ListOptions{Prefix: "dir07/", MaxKeys: 1000})
				if err != nil || len(page.Objects) != 500 {
					b.Fatalf("list: %d objects, %v", len(page.Objects), err)
				}
				page, err = be.ListObjects(ctx, "bench-list", &backends.ListOptions{MaxKeys: 1000})
				if err != nil || len(page.Objects) != 1000 {
					b.Fatalf("list: %d objects, %v", len(page.Objects), err)
				}
			}
		})
	})
}
