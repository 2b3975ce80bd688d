package gcsbackend

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/backendtest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
)

var (
	fakeOnce sync.Once
	fakeURL  string
	fakeSrv  *fakestorage.Server
	fakeErr  error
	prefixes atomic.Int64
)

// emulator starts fake-gcs-server in process on a loopback port, once.
func emulator(t testing.TB) string {
	t.Helper()
	fakeOnce.Do(func() {
		fakeSrv, fakeErr = fakestorage.NewServerWithOptions(fakestorage.Options{
			Scheme:     "http",
			Host:       "127.0.0.1",
			Port:       0,
			PublicHost: "127.0.0.1",
			Writer:     io.Discard,
		})
		if fakeErr == nil {
			fakeURL = fakeSrv.URL() + "/storage/v1/"
		}
	})
	if fakeErr != nil {
		t.Fatalf("fake-gcs-server: %v", fakeErr)
	}
	return fakeURL
}

// newTest returns a backend on the emulator with a fresh bucket prefix, so
// it starts with no buckets.
func newTest(t testing.TB, chunk int) *Backend {
	t.Helper()
	cfg, err := ConfigFromMap(map[string]string{
		"project":       "raya-test",
		"endpoint":      emulator(t),
		"bucket_prefix": fmt.Sprintf("t%d-", prefixes.Add(1)),
		"chunk_size":    fmt.Sprint(chunk),
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	// A 256 KiB chunk sends most of the suite's objects through the
	// temporary-object path and the small ones through the one-request path.
	backendtest.Run(t, func(t *testing.T) backends.Backend { return newTest(t, 256<<10) },
		&backendtest.Options{LargeObjectSize: 12 << 20})
}

// TestConformanceLargeChunk runs the suite with the default chunk size, so
// every object but the large ones is uploaded in one request.
func TestConformanceLargeChunk(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	backendtest.Run(t, func(t *testing.T) backends.Backend { return newTest(t, 0) },
		&backendtest.Options{Short: true, LargeObjectSize: 20 << 20})
}
