package e2e

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestGracefulShutdown sends SIGTERM while an upload is in flight: the upload
// finishes, then the process exits cleanly and stops accepting connections.
func TestGracefulShutdown(t *testing.T) {
	s := startServer(t, serverOpts{})
	sdk, _ := newSDKClient(t, s, sdkClientOpts{})
	b := uniqueBucket("shutdown")
	createBucket(t, sdk, b)

	payload := randomBytes(4 * mib)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", s.URL+"/"+b+"/inflight.bin", pr)
	req.ContentLength = int64(len(payload))
	signReq(t, req, "UNSIGNED-PAYLOAD", rootSecretKey)
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	done := make(chan result, 1)
	hc := s.HTTPClient()
	go func() {
		resp, err := hc.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp: resp, body: body}
	}()

	half := len(payload) / 2
	if _, err := pw.Write(payload[:half]); err != nil {
		t.Fatalf("writing first half: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // the handler is now reading the body
	mustOK(t, s.cmd.Process.Signal(syscall.SIGTERM), "SIGTERM")
	time.Sleep(500 * time.Millisecond)
	if _, err := pw.Write(payload[half:]); err != nil {
		t.Errorf("writing second half after SIGTERM: %v", err)
	}
	pw.Close()

	select {
	case r := <-done:
		if r.err != nil {
			t.Errorf("in-flight PUT during shutdown: %v", r.err)
		} else if r.resp.StatusCode != 200 || r.resp.Header.Get("ETag") != etagOf(payload) {
			t.Errorf("in-flight PUT during shutdown: %d ETag %q %s", r.resp.StatusCode, r.resp.Header.Get("ETag"), r.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("in-flight PUT did not finish within 30s of SIGTERM")
	}
	s.waitExit(15 * time.Second)

	// Gone: no new connections.
	c := &http.Client{Transport: s.Transport(), Timeout: 2 * time.Second}
	if resp, err := c.Get(s.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /healthz after shutdown answered %d", resp.StatusCode)
	}

	// The object written during shutdown is there after a restart.
	s2 := startServer(t, serverOpts{DataDir: s.DataDir})
	sdk2, _ := newSDKClient(t, s2, sdkClientOpts{})
	got, _ := getBytes(t, sdk2, b, "inflight.bin")
	equalBytes(t, "object uploaded during shutdown", got, payload)
	_, err := sdk2.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(b)})
	mustOK(t, err, "HeadBucket after restart")
}
