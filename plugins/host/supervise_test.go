package host_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/plugins/host"
	"github.com/cloudraya/raya/plugins/sdk"
)

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may contain spaces; the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// children returns the live child processes of this test process.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after %v", pid, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func requireProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
}

func TestCrashRestart(t *testing.T) {
	requireProc(t)
	ctx := context.Background()
	b := startLocal(t, t.TempDir())
	defer b.Close()
	if err := b.CreateBucket(ctx, "crash"); err != nil {
		t.Fatal(err)
	}
	small := []byte("survives the crash")
	if _, err := b.PutObject(ctx, "crash", "a", bytes.NewReader(small), &backends.PutOptions{Size: int64(len(small))}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	if _, err := b.PutObject(ctx, "crash", "big", bytes.NewReader(big), &backends.PutOptions{Size: int64(len(big))}); err != nil {
		t.Fatal(err)
	}
	oldPID := b.PID()
	if oldPID == 0 {
		t.Fatal("no plugin PID")
	}

	// A GET in flight: opened, one byte read.
	_, rc, err := b.GetObject(ctx, "crash", "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	// A PUT in flight: 1 MiB sent, more to come.
	pr, pw := io.Pipe()
	putErr := make(chan error, 1)
	go func() {
		_, err := b.PutObject(ctx, "crash", "partial", pr, &backends.PutOptions{Size: -1})
		putErr <- err
		pr.CloseWithError(errors.New("put returned"))
	}()
	if _, err := pw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	go func() { // keep the PUT fed until it gives up
		for {
			if _, err := pw.Write(make([]byte, 64<<10)); err != nil {
				return
			}
		}
	}()

	killed := time.Now()
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	if !errors.Is(err, backends.ErrUnavailable) {
		t.Errorf("GET in flight: err = %v, want ErrUnavailable", err)
	}
	select {
	case err := <-putErr:
		if !errors.Is(err, backends.ErrUnavailable) {
			t.Errorf("PUT in flight: err = %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("PUT in flight did not fail after the plugin was killed")
	}
	if d := time.Since(killed); d > 5*time.Second {
		t.Errorf("in-flight calls took %v to fail; want fast", d)
	}

	// The next calls restart the plugin and succeed.
	info, err := b.HeadObject(ctx, "crash", "a")
	if err != nil {
		t.Fatalf("HeadObject after the crash: %v", err)
	}
	if info.Size != int64(len(small)) {
		t.Errorf("HeadObject after the crash: %+v", info)
	}
	if _, err := b.HeadObject(ctx, "crash", "partial"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("the interrupted PUT is visible: err = %v", err)
	}
	newPID := b.PID()
	if newPID == 0 || newPID == oldPID {
		t.Errorf("PID after restart = %d (was %d)", newPID, oldPID)
	}
	waitGone(t, oldPID, 5*time.Second)

	// A crash between two requests costs no request: reads retry once.
	if err := syscall.Kill(newPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, newPID, 5*time.Second)
	_, rc2, err := b.GetObject(ctx, "crash", "a", nil)
	if err != nil {
		t.Fatalf("GetObject right after a crash: %v", err)
	}
	got, err := io.ReadAll(rc2)
	rc2.Close()
	if err != nil || !bytes.Equal(got, small) {
		t.Errorf("GetObject after restart: %q, %v", got, err)
	}
	if _, err := b.PutObject(ctx, "crash", "after", strings.NewReader("ok"), &backends.PutOptions{Size: 2}); err != nil {
		t.Errorf("PutObject after restart: %v", err)
	}
}

func TestCloseLeavesNoProcess(t *testing.T) {
	requireProc(t)
	b := startLocal(t, t.TempDir())
	pid := b.PID()
	if !alive(pid) {
		t.Fatalf("plugin %d not running", pid)
	}
	if err := b.CreateBucket(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("plugin %d still running after Close", pid)
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("child processes left after Close: %v", kids)
	}
	if err := b.CreateBucket(context.Background(), "y"); !errors.Is(err, host.ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
}

// hostHelperEnv makes the test binary a host process that starts a plugin,
// prints its PID and waits to be killed (see TestHostKilledLeavesNoPlugin).
const hostHelperEnv = "RAYA_HOST_TEST_HELPER_ROOT"

func hostHelper(root string) int {
	cfg := host.BuiltinConfig(testPlugin, "local", map[string]string{"root": root, "nosync": "true"})
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := host.Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(b.PID())
	select {}
}

func TestHostKilledLeavesNoPlugin(t *testing.T) {
	requireProc(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hostHelperEnv+"="+t.TempDir(), "RAYA_TEST_PLUGIN="+testPlugin)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !alive(pid) {
		t.Fatalf("helper printed %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	waitGone(t, pid, 5*time.Second)
}

func TestPinnedChecksum(t *testing.T) {
	data, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	cfg := localConfig(t, t.TempDir())
	cfg.SHA256 = hex.EncodeToString(sum[:])
	b, err := host.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("matching pin: %v", err)
	}
	b.Close()

	before := children(t)
	sum[0] ^= 0xff
	cfg.SHA256 = hex.EncodeToString(sum[:])
	if b, err := host.Start(context.Background(), cfg); err == nil {
		b.Close()
		t.Fatal("Start succeeded with a mismatching SHA-256 pin")
	} else if !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("mismatch error does not say why: %v", err)
	}
	if kids := children(t); len(kids) > len(before) {
		t.Errorf("a process was started despite the mismatch: %v", kids)
	}
	cfg.SHA256 = "not-hex"
	if _, err := host.Start(context.Background(), cfg); err == nil {
		t.Fatal("Start accepted a malformed pin")
	}
}

func startProbe(t *testing.T, timeout time.Duration, log *slog.Logger) *host.Backend {
	t.Helper()
	cfg := host.BuiltinConfig(testPlugin, "probe", map[string]string{"root": t.TempDir()})
	cfg.CallTimeout = timeout
	cfg.Logger = log
	if log == nil {
		cfg.Logger = testLogger(t)
	}
	b, err := host.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// lastContext polls the probe for how its last hanging call ended, until
// it is one of want.
func lastContext(t *testing.T, b *host.Backend, want ...string) {
	t.Helper()
	var got string
	for range 100 {
		info, err := b.HeadObject(context.Background(), "b", "last-context")
		if err != nil {
			t.Fatal(err)
		}
		if got = info.ETag; got != "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Contains(want, got) {
		t.Errorf("plugin saw its context end with %q, want one of %q", got, want)
	}
}

func TestCallTimeoutAndCancellation(t *testing.T) {
	// Long enough that ordinary calls never hit it, even under -race on a
	// busy machine.
	b := startProbe(t, time.Second, nil)
	start := time.Now()
	_, err := b.HeadObject(context.Background(), "b", "hang")
	if !errors.Is(err, backends.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung call: err = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hung call returned after %v, CallTimeout is 1s", d)
	}
	// The deadline crossed the boundary; when it expires, the plugin's own
	// timer and the host's cancellation race, so either ending is right.
	lastContext(t, b, "context deadline exceeded deadline=true", "context canceled deadline=true")

	// The caller's own deadline crosses the boundary.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err = b.HeadObject(ctx, "b", "hang")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, backends.ErrUnavailable) {
		t.Errorf("caller deadline: err = %v, want DeadlineExceeded only", err)
	}
	lastContext(t, b, "context deadline exceeded deadline=true", "context canceled deadline=true")

	// So does cancellation.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = b.HeadObject(ctx, "b", "hang")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("caller cancel: err = %v, want context.Canceled", err)
	}
	lastContext(t, b, "context canceled deadline=true")
}

// recordHandler keeps the records it handles.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) find(msg string) (slog.Record, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if strings.Contains(r.Message, msg) {
			return r, true
		}
	}
	return slog.Record{}, false
}

func TestPluginLogsForwarded(t *testing.T) {
	h := &recordHandler{}
	b := startProbe(t, 5*time.Second, slog.New(h))
	if _, err := b.HeadObject(context.Background(), "b", "log"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, ok := h.find("probe log record")
		if ok {
			if r.Level != slog.LevelWarn {
				t.Errorf("level = %v, want WARN", r.Level)
			}
			var answer string
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "answer" {
					answer = a.Value.String()
				}
				return true
			})
			if answer != "42" {
				t.Errorf("attribute answer = %q, want 42", answer)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the plugin's log record did not reach the host's logger")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDescribe(t *testing.T) {
	d, err := host.Describe(context.Background(), testPlugin, "plugin", "serve-builtin", "local")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.ProtocolVersions) != 1 || d.ProtocolVersions[0] != sdk.ProtocolVersion || d.Name != "raya-local" {
		t.Errorf("description = %+v", d)
	}
	if len(d.Capabilities) != 1 || d.Capabilities[0] != sdk.CapCopy {
		t.Errorf("capabilities = %v", d.Capabilities)
	}
}

func TestBadConfigRefused(t *testing.T) {
	cfg := host.BuiltinConfig(testPlugin, "local", map[string]string{"wrong": "x"})
	cfg.Logger = testLogger(t)
	if b, err := host.Start(context.Background(), cfg); err == nil {
		b.Close()
		t.Fatal("Start accepted a configuration the factory refuses")
	} else if !strings.Contains(err.Error(), "root") {
		t.Errorf("error does not name the problem: %v", err)
	}
}

// TestStreamsBoundedByInactivity: a stream may take longer than
// CallTimeout in total, but not wait for the plugin longer than that.
func TestStreamsBoundedByInactivity(t *testing.T) {
	const timeout = time.Second
	b := startProbe(t, timeout, nil)
	ctx := context.Background()

	// A slow consumer of a healthy stream is not the plugin's fault.
	_, rc, err := b.GetObject(ctx, "null", strconv.Itoa(8<<20), nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	var n int
	for {
		m, err := rc.Read(buf)
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("slow read failed after %v: %v", time.Since(start), err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	rc.Close()
	if n != 8<<20 || time.Since(start) < 2*timeout {
		t.Errorf("slow read: %d bytes in %v", n, time.Since(start))
	}

	// A plugin that stops sending fails the read.
	_, rc, err = b.GetObject(ctx, "null", "stall", nil)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, backends.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled GET: err = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("stalled GET failed after %v", d)
	}

	// A plugin that stops reading fails the upload.
	start = time.Now()
	_, err = b.PutObject(ctx, "null", "stall", io.LimitReader(zeroReader{}, 256<<20), &backends.PutOptions{Size: 256 << 20})
	if !errors.Is(err, backends.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled PUT: err = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("stalled PUT failed after %v", d)
	}
	// The plugin is still fine.
	if _, err := b.PutObject(ctx, "null", "x", strings.NewReader("ok"), &backends.PutOptions{Size: 2}); err != nil {
		t.Errorf("PUT after stalls: %v", err)
	}
}
