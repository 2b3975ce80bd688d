package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// childPIDs lists the processes whose parent is pid.
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ')'.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z") // a zombie is gone
}

// TestLocalDiskAsPlugin runs raya serve with the local-disk backend as a
// child plugin process, kills the plugin mid-run, and checks that later
// requests succeed and that no plugin outlives raya.
func TestLocalDiskAsPlugin(t *testing.T) {
	s := startServer(t, serverOpts{Args: []string{"--backend-mode", "plugin"}})
	c, _ := newSDKClient(t, s, sdkClientOpts{})
	ctx := context.Background()
	bucket := uniqueBucket("plugin")
	createBucket(t, c, bucket)
	body := randomBytes(3 << 20)
	putBytes(t, c, bucket, "before.bin", body)

	plugins := childPIDs(t, s.cmd.Process.Pid)
	if len(plugins) != 1 {
		t.Fatalf("raya has %d child processes, want 1 plugin: %v", len(plugins), plugins)
	}
	if err := syscall.Kill(plugins[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Calls in flight or just after the crash may fail with a 503; the
	// supervisor restarts the plugin and later calls succeed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("before.bin")})
		if err == nil {
			var buf bytes.Buffer
			_, err = buf.ReadFrom(out.Body)
			out.Body.Close()
			if err == nil && !bytes.Equal(buf.Bytes(), body) {
				t.Fatal("object read after the plugin restart differs")
			}
			if err == nil {
				break
			}
		}
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() != 503 {
			t.Fatalf("after the plugin crash: %v (want success or 503)", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests still fail 20s after the plugin crash: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	putBytes(t, c, bucket, "after.bin", []byte("written by the new plugin process"))
	restarted := childPIDs(t, s.cmd.Process.Pid)
	if len(restarted) != 1 || restarted[0] == plugins[0] {
		t.Fatalf("children after restart: %v (killed %d)", restarted, plugins[0])
	}

	s.Stop()
	deadline = time.Now().Add(10 * time.Second)
	for alive(restarted[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin process %d outlived raya", restarted[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
