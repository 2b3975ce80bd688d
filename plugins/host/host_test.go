package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/backendtest"
	"github.com/cloudraya/raya/plugins/host"
)

// testPlugin is the test plugin executable, built once in TestMain.
var testPlugin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if root := os.Getenv(hostHelperEnv); root != "" {
		testPlugin = os.Getenv("RAYA_TEST_PLUGIN")
		return hostHelper(root)
	}
	dir, err := os.MkdirTemp("", "raya-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testPlugin = filepath.Join(dir, "testplugin")
	cmd := exec.Command("go", "build", "-o", testPlugin, "./internal/testplugin")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test plugin:", err)
		return 1
	}
	return m.Run()
}

// testLogger sends plugin and host logs to the test log at warn level and
// above (the rest is noise in a passing run).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func localConfig(t testing.TB, root string) host.Config {
	cfg := host.BuiltinConfig(testPlugin, "local", map[string]string{"root": root, "nosync": "true"})
	cfg.Logger = testLogger(t)
	cfg.CallTimeout = 20 * time.Second
	return cfg
}

func startLocal(t testing.TB, root string) *host.Backend {
	t.Helper()
	b, err := host.Start(context.Background(), localConfig(t, root))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConformanceLocalPlugin runs the conformance suite against the local
// disk backend behind a real plugin process (one process per subtest).
func TestConformanceLocalPlugin(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return startLocal(t, t.TempDir()) }, nil)
}
