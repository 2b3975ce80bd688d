package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/cloudraya/raya/functions/lambdahttp"
	"github.com/cloudraya/raya/functions/lambdahttp/lambdatest"
)

// rieModule is the Lambda Runtime Interface Emulator, pinned. The module
// proxy serves it only as a pseudo-version.
const (
	rieModule  = "github.com/aws/aws-lambda-runtime-interface-emulator"
	rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

const (
	rieAccessKey = "AKIARAYARIETEST00001"
	rieSecretKey = "rie-test-secret-key-0123456789abcdefghij"
	riePublic    = "s3.raya.test"
)

// rieBinary returns aws-lambda-rie: from PATH, or built from the pinned
// module version into the user cache (once per machine).
func rieBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "raya-test", "aws-lambda-rie@"+rieVersion)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "rie-build-")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(dir), "rie-build-"); err != nil {
			t.Fatal(err)
		}
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", rieModule+"/cmd/aws-lambda-rie@"+rieVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building aws-lambda-rie %s: %v\n%s", rieVersion, err, out)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	return bin
}

// buildBootstrap builds this command as a Lambda bootstrap.
func buildBootstrap(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the bootstrap: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProcess runs cmd, in a process group of its own, until the test
// ends or the returned stop is called; stop ends the group (the emulator
// and the bootstrap it started).
func startProcess(t *testing.T, cmd *exec.Cmd, out io.Writer) (stop func()) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitListening(t *testing.T, addr string, out fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never listened; output:\n%s", addr, out)
}

// startRedis starts a private redis-server on loopback and returns its URL.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not on PATH: apt-get install redis-server")
	}
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	out := &lockedBuffer{}
	startProcess(t, exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir()), out)
	waitListening(t, addr, out)
	return "redis://" + addr + "/0"
}

// rie is one function instance under the emulator.
type rie struct {
	addr    string
	out     *lockedBuffer
	started time.Time
	mu      sync.Mutex
	took    []time.Duration // each invocation, as seen by the caller
	stop    func()
}

// startRIE starts one function instance. Successive instances share the
// metadata store and the data folder (the local-disk backend's objects),
// as instances of one function share Redis and a remote backend. The
// local-disk backend locks its folder: one instance at a time.
func startRIE(t *testing.T, rieBin, bootstrap, meta, data string, extraEnv ...string) *rie {
	t.Helper()
	r := &rie{addr: freePort(t), out: &lockedBuffer{}}
	cmd := exec.Command(rieBin,
		"--runtime-interface-emulator-address", r.addr,
		"--runtime-api-address", freePort(t),
		"--log-level", "warn",
		bootstrap)
	cmd.Env = append(os.Environ(),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=60",
		"AWS_LAMBDA_FUNCTION_NAME=raya-s3api",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		"RAYA_META="+meta,
		"RAYA_DATA="+data,
		"RAYA_ROOT_ACCESS_KEY="+rieAccessKey,
		"RAYA_ROOT_SECRET_KEY="+rieSecretKey,
		"RAYA_MASTER_KEY=cmF5YS1yaWUtdGVzdC1tYXN0ZXIta2V5LTMyYnl0ZXM=",
		"RAYA_PUBLIC_HOST="+riePublic,
		"RAYA_LOG_FORMAT=text",
		"RAYA_LOG_LEVEL=info",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	r.started = time.Now()
	r.stop = startProcess(t, cmd, r.out)
	waitListening(t, r.addr, r.out)
	return r
}

// invoker posts events to the emulator's invoke endpoint.
func (r *rie) invoker() lambdatest.Invoker {
	client := &http.Client{Timeout: 60 * time.Second}
	return func(ctx context.Context, event []byte) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.took = append(r.took, time.Since(t0))
		r.mu.Unlock()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return nil, fmt.Errorf("invoke: %s: %s", resp.Status, b)
		}
		return resp.Body, nil
	}
}

func (r *rie) client(src lambdahttp.Source, stream bool, host string) (*s3.Client, *lambdatest.Transport) {
	tr := &lambdatest.Transport{Source: src, Stream: stream, Host: host, Invoke: r.invoker()}
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("https://" + riePublic), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(rieAccessKey, rieSecretKey, ""),
		HTTPClient:  &http.Client{Transport: tr}, Retryer: aws.NopRetryer{},
	}), tr
}

var readyRE = regexp.MustCompile(`msg="raya lambda ready" init_ms=([0-9]+)`)

// coldStart returns the first invocation's round trip (the emulator starts
// the bootstrap on it: process start, Go runtime, configuration, store
// connection, then the request) and the bootstrap's own init time (from
// main to ready, as it logs it).
func (r *rie) coldStart(t *testing.T) (first time.Duration, initMS float64) {
	t.Helper()
	m := readyRE.FindStringSubmatch(r.out.String())
	if m == nil {
		t.Fatalf("the bootstrap did not log its init time:\n%s", r.out)
	}
	initMS, _ = strconv.ParseFloat(m[1], 64)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.took[0], initMS
}

func (r *rie) warmMedian() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := append([]time.Duration(nil), r.took[1:]...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	if len(d) == 0 {
		return 0
	}
	return d[len(d)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestBootstrapUnderRIE runs the real bootstrap under the Lambda Runtime
// Interface Emulator with a real Redis and the local-disk backend, and
// drives it with events built from aws-sdk-go-v2-signed requests.
func TestBootstrapUnderRIE(t *testing.T) {
	rieBin := rieBinary(t)
	bootstrap := buildBootstrap(t)
	meta := startRedis(t)

	data := t.TempDir()
	r := startRIE(t, rieBin, bootstrap, meta, data)
	ctx := context.Background()
	furl, _ := r.client(lambdahttp.FunctionURL, true, lambdatest.FunctionURLDomain)
	httpAPI, _ := r.client(lambdahttp.HTTPAPI, false, lambdatest.APIDomain)

	// Cold start: the first invocation initializes the function.
	if _, err := httpAPI.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("rie")}); err != nil {
		t.Fatalf("CreateBucket: %v\n%s", err, r.out)
	}

	// PUT with a checksum (aws-chunked with a trailing CRC32 over https),
	// a signed header with ", " in its value, and a key with '%'.
	keys := []string{"report 100%.csv", "a+b/c d?e#f", "plain"}
	payload := make([]byte, 300<<10)
	_, _ = rand.Read(payload)
	for _, k := range keys {
		_, err := furl.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("rie"), Key: aws.String(k), Body: bytes.NewReader(payload),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			Metadata:          map[string]string{"note": "hello, world"},
			CacheControl:      aws.String("no-cache, no-store"),
		})
		if err != nil {
			t.Fatalf("PutObject %q: %v\n%s", k, err, r.out)
		}
	}
	// GET, streamed (Function URL) and buffered (HTTP API).
	for name, c := range map[string]*s3.Client{"streamed": furl, "buffered": httpAPI} {
		k := "report 100%.csv"
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("rie"), Key: aws.String(k), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("%s GetObject: %v", name, err)
		}
		got, _ := io.ReadAll(out.Body)
		if !bytes.Equal(got, payload) || out.Metadata["note"] != "hello, world" || aws.ToString(out.CacheControl) != "no-cache, no-store" {
			t.Fatalf("%s GetObject: %d bytes, metadata %v, cache-control %q", name, len(got), out.Metadata, aws.ToString(out.CacheControl))
		}
	}
	// A presigned GET through the Function URL.
	ps, err := s3.NewPresignClient(furl).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("rie"), Key: aws.String("a+b/c d?e#f")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, ps.URL, nil)
	_, tr := r.client(lambdahttp.FunctionURL, true, lambdatest.FunctionURLDomain)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, payload) {
		t.Fatalf("presigned GET: %d, %d bytes", resp.StatusCode, len(body))
	}
	lo, err := httpAPI.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("rie")})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range lo.Contents {
		listed = append(listed, aws.ToString(o.Key))
	}
	sort.Strings(keys)
	if strings.Join(listed, "|") != strings.Join(keys, "|") {
		t.Fatalf("listed %q, want %q", listed, keys)
	}
	// An over-limit body: a clear S3 error from the handler. The emulator
	// cuts events at 6 MB, so this uses the ALB's lower limit (1 MB).
	alb, _ := r.client(lambdahttp.ALB, false, "")
	big := make([]byte, lambdahttp.RequestBodyLimit(lambdahttp.ALB)+1)
	_, err = alb.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rie"), Key: aws.String("big"), Body: bytes.NewReader(big)})
	if apiCode(err) != "EntityTooLarge" {
		t.Fatalf("over-limit PUT: want EntityTooLarge, got %v", err)
	}
	// A wrong signature is still refused.
	bad := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("https://" + riePublic), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(rieAccessKey, "not-the-secret", ""),
		HTTPClient:  &http.Client{Transport: tr}, Retryer: aws.NopRetryer{},
	})
	if _, err := bad.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rie"), Key: aws.String("plain")}); err == nil {
		t.Fatal("a wrong secret was accepted")
	}

	// More cold starts, against the same store: state survives instances.
	type sample struct{ first, init float64 }
	first, initMS := r.coldStart(t)
	samples := []sample{{ms(first), initMS}}
	warm := r.warmMedian()
	r.stop()
	for i := 0; i < 2; i++ {
		r2 := startRIE(t, rieBin, bootstrap, meta, data)
		c, _ := r2.client(lambdahttp.HTTPAPI, false, lambdatest.APIDomain)
		out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rie"), Key: aws.String("report 100%.csv")})
		if err != nil || aws.ToInt64(out.ContentLength) != int64(len(payload)) {
			t.Fatalf("HeadObject on a new instance: %v\n%s", err, r2.out)
		}
		f, i := r2.coldStart(t)
		samples = append(samples, sample{ms(f), i})
		r2.stop()
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i].first < samples[j].first })
	med := samples[len(samples)/2]
	t.Logf("cold start under the RIE (%d instances, Redis metadata store): first invocation %.1f / %.1f / %.1f ms (min/median/max), "+
		"of which bootstrap init (main to ready) %.0f ms at the median; warm invocation median %.1f ms",
		len(samples), samples[0].first, med.first, samples[len(samples)-1].first, med.init, ms(warm))
	for _, line := range strings.Split(r.out.String(), "\n") {
		if strings.Contains(line, "ERROR") || strings.Contains(line, "panic") {
			t.Errorf("emulator output: %s", line)
		}
	}
}
