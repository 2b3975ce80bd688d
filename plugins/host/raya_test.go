package host_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/backendtest"
	"github.com/cloudraya/raya/plugins/host"
)

// TestRayaIsItsOwnPlugin runs the conformance suite against the local disk
// backend served by the real raya executable (`raya plugin serve-builtin
// local`), started the way `raya serve --backend-mode plugin` starts it.
func TestRayaIsItsOwnPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the raya command")
	}
	raya := filepath.Join(t.TempDir(), "raya")
	cmd := exec.Command("go", "build", "-o", raya, "github.com/cloudraya/raya/gateway/cmd/raya")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("building raya: %v", err)
	}
	d, err := host.Describe(context.Background(), raya, "plugin", "serve-builtin", "local")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "raya-local" {
		t.Errorf("raya's local plugin describes itself as %+v", d)
	}
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		cfg := host.BuiltinConfig(raya, "local", map[string]string{"root": t.TempDir()})
		cfg.Logger = testLogger(t)
		b, err := host.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, &backendtest.Options{Short: true})
}
