package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/backendtest"
	"github.com/cloudraya/raya/plugins/host"
)

// pluginPath is this plugin, built once by TestMain: the conformance suite
// runs against the real executable, through the same host raya uses.
var pluginPath string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "raya-example-plugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginPath = filepath.Join(dir, "raya-plugin-example")
	cmd := exec.Command("go", "build", "-o", pluginPath, ".")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the plugin:", err)
		return 1
	}
	return m.Run()
}

// TestConformance runs raya's backend conformance suite against the plugin
// process: one process per subtest, so every subtest starts empty.
func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		b, err := host.Start(context.Background(), host.Config{Path: pluginPath})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, &backendtest.Options{LargeObjectSize: 16 << 20})
}

// TestConformanceInProcess runs the same suite without the plugin boundary,
// which makes a failure easier to debug.
func TestConformanceInProcess(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return newMemory(0) }, &backendtest.Options{Short: true})
}

func TestDescribe(t *testing.T) {
	d, err := host.Describe(context.Background(), pluginPath)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "example-memory" || len(d.Capabilities) != 1 || d.Capabilities[0] != "copy" {
		t.Errorf("description = %+v", d)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		config map[string]string
		ok     bool
	}{
		{nil, true},
		{map[string]string{"max_bytes": "1048576"}, true},
		{map[string]string{"max_bytes": "-1"}, false},
		{map[string]string{"max_bytes": "lots"}, false},
		{map[string]string{"root": "/tmp"}, false},
	} {
		_, err := newFromConfig(context.Background(), tc.config)
		if (err == nil) != tc.ok {
			t.Errorf("config %v: err = %v, want ok=%v", tc.config, err, tc.ok)
		}
	}
	// Through the host, a refused configuration refuses to start.
	if b, err := host.Start(context.Background(), host.Config{Path: pluginPath, Config: map[string]string{"max_bytes": "lots"}}); err == nil {
		b.Close()
		t.Error("host.Start accepted a configuration the plugin refuses")
	}
}

func TestMaxBytes(t *testing.T) {
	ctx := context.Background()
	m := newMemory(10)
	if err := m.CreateBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	put := func(key, data string) error {
		_, err := m.PutObject(ctx, "b", key, strings.NewReader(data), &backends.PutOptions{Size: int64(len(data))})
		return err
	}
	if err := put("a", "12345678"); err != nil {
		t.Fatal(err)
	}
	if err := put("b", "123"); err == nil {
		t.Error("put over max_bytes succeeded")
	}
	if err := put("a", "1234567890"); err != nil {
		t.Errorf("replacing within max_bytes: %v", err)
	}
}
