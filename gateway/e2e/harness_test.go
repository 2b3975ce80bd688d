package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Root credentials every test server starts with (RAYA_ROOT_ACCESS_KEY /
// RAYA_ROOT_SECRET_KEY are only read on first start of a data folder).
const (
	rootAccessKey = "RAYAE2EROOT000000001"
	rootSecretKey = "e2eRootSecretKey/0123456789abcdefghijklmn"
	testRegion    = "us-east-1"
	vhostDomain   = "s3.localhost"
)

// rayaBin is the server binary built once by TestMain.
var rayaBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if bin := os.Getenv("RAYA_E2E_BIN"); bin != "" { // test a prebuilt binary instead
		abs, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: RAYA_E2E_BIN:", err)
			return 1
		}
		rayaBin = abs
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "raya-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go env GOMOD:", err)
		return 1
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		fmt.Fprintln(os.Stderr, "e2e: not inside a Go module")
		return 1
	}
	rayaBin = filepath.Join(tmp, "raya")
	args := []string{"build", "-o", rayaBin}
	if os.Getenv("RAYA_E2E_RACE") == "1" { // opt in: server built with the race detector
		args = append(args, "-race")
	}
	args = append(args, "./gateway/cmd/raya")
	build := exec.Command("go", args...)
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building raya failed: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// serverOpts selects how a test server is started.
type serverOpts struct {
	TLS     bool     // serve HTTPS with a fresh self-signed certificate
	Domain  string   // --domain for virtual-hosted-style requests
	DataDir string   // reuse a data folder (restart tests); empty means a new temp dir
	Port    int      // reuse a port; 0 picks a free one
	Args    []string // more flags for raya serve
	Env     []string // more environment for raya serve
	certDir string
}

// server is a running `raya serve` process.
type server struct {
	t       testing.TB
	opts    serverOpts
	Addr    string // 127.0.0.1:PORT
	URL     string // http(s)://127.0.0.1:PORT
	DataDir string
	CAFile  string // PEM of the self-signed certificate (TLS only)
	CAPool  *x509.CertPool
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	waitErr error
	stopped bool
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer starts raya and waits until /healthz answers 200. The process is
// stopped with SIGTERM when the test ends; its output is logged if the test failed.
func startServer(t testing.TB, opts serverOpts) *server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(t.TempDir(), "data")
	}
	if opts.Port == 0 {
		opts.Port = freePort(t)
	}
	s := &server{t: t, opts: opts, DataDir: opts.DataDir, Addr: fmt.Sprintf("127.0.0.1:%d", opts.Port)}
	args := []string{"serve", "--listen", s.Addr, "--data", opts.DataDir}
	if opts.Domain != "" {
		args = append(args, "--domain", opts.Domain)
	}
	scheme := "http"
	if opts.TLS {
		scheme = "https"
		if opts.certDir == "" {
			opts.certDir = t.TempDir()
			writeSelfSignedCert(t, opts.certDir)
			s.opts.certDir = opts.certDir
		}
		s.CAFile = filepath.Join(opts.certDir, "cert.pem")
		pemBytes, err := os.ReadFile(s.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		s.CAPool = x509.NewCertPool()
		s.CAPool.AppendCertsFromPEM(pemBytes)
		args = append(args, "--tls-cert", s.CAFile, "--tls-key", filepath.Join(opts.certDir, "key.pem"))
	}
	s.URL = scheme + "://" + s.Addr
	s.out = &syncBuffer{}
	args = append(args, opts.Args...)
	s.cmd = exec.Command(rayaBin, args...)
	s.cmd.Env = append(os.Environ(),
		"RAYA_ROOT_ACCESS_KEY="+rootAccessKey,
		"RAYA_ROOT_SECRET_KEY="+rootSecretKey,
	)
	s.cmd.Env = append(s.cmd.Env, opts.Env...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start raya: %v", err)
	}
	s.done = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("raya %s output:\n%s", strings.Join(args, " "), s.out.String())
		}
	})
	s.waitHealthy()
	return s
}

func (s *server) waitHealthy() {
	t := s.t
	t.Helper()
	client := s.HTTPClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("raya exited before becoming healthy: %v\n%s", s.waitErr, s.out.String())
		default:
		}
		resp, err := client.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("raya not healthy after 30s (last err %v)\n%s", err, s.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop sends SIGTERM and requires a clean exit within 15s (killing it otherwise).
func (s *server) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitExit(15 * time.Second)
}

// waitExit waits for the process to end after a SIGTERM, requiring a clean
// exit, and kills it after timeout.
func (s *server) waitExit(timeout time.Duration) {
	t := s.t
	s.stopped = true
	select {
	case <-s.done:
		if s.waitErr != nil {
			t.Errorf("raya did not exit cleanly after SIGTERM: %v", s.waitErr)
		}
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("raya did not exit within %v of SIGTERM; killed", timeout)
	}
}

// Output returns what the server has logged so far.
func (s *server) Output() string { return s.out.String() }

// Transport returns a transport that trusts the server's certificate and
// dials the server for every host name (so BUCKET.s3.localhost needs no DNS).
func (s *server) Transport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, s.Addr)
		},
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: 5 * time.Second,
	}
	if s.CAPool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.CAPool}
	}
	return tr
}

// HTTPClient returns a plain client for the server (no redirects followed).
func (s *server) HTTPClient() *http.Client {
	return &http.Client{
		Transport: s.Transport(),
		Timeout:   2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// CLI runs `raya ARGS...` as an admin client of this server with the root key.
func (s *server) CLI(t testing.TB, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rayaBin, args...)
	cmd.Env = append(os.Environ(),
		"RAYA_ENDPOINT="+s.URL,
		"RAYA_ACCESS_KEY="+rootAccessKey,
		"RAYA_SECRET_KEY="+rootSecretKey,
	)
	if s.CAFile != "" {
		cmd.Env = append(cmd.Env, "RAYA_CA_BUNDLE="+s.CAFile)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("raya %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// keyPair is a bucket-scoped access key made by `raya key create`.
type keyPair struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

func (s *server) CreateKey(t testing.TB, bucket, label string) keyPair {
	t.Helper()
	out := s.CLI(t, "key", "create", "--bucket", bucket, "--label", label, "--json")
	var k keyPair
	if err := json.Unmarshal(out, &k); err != nil {
		t.Fatalf("raya key create --json printed non-JSON %q: %v", out, err)
	}
	if k.AccessKeyID == "" || k.SecretAccessKey == "" {
		t.Fatalf("raya key create --json: missing accessKeyId/secretAccessKey in %s", out)
	}
	return k
}

// eachScheme runs fn against a fresh HTTP server and a fresh HTTPS server.
func eachScheme(t *testing.T, opts serverOpts, fn func(t *testing.T, s *server)) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			o := opts
			o.TLS = scheme == "https"
			fn(t, startServer(t, o))
		})
	}
}

// uniqueBucket returns a valid, test-unique bucket name.
func uniqueBucket(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.ToLower(prefix) + "-" + hex.EncodeToString(b)
	if len(name) > 63 {
		name = name[len(name)-63:]
	}
	return name
}

// randomBytes returns n pseudo-random bytes (fast; not for secrets).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	seed := make([]byte, 4096)
	_, _ = rand.Read(seed)
	for i := 0; i < n; i += len(seed) {
		copy(b[i:], seed)
		seed[0]++
		seed[len(seed)/2] ^= byte(i >> 12)
		seed[len(seed)-1] += byte(i >> 20)
		for j := 1; j < len(seed); j += 97 {
			seed[j] ^= byte(i >> 12)
		}
	}
	return b
}

func writeSelfSignedCert(t testing.TB, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "raya e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost", vhostDomain, "*." + vhostDomain},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cert.pem", "CERTIFICATE", der)
	write("key.pem", "EC PRIVATE KEY", keyDER)
}

// requireTool fails (never skips) when an external client is missing.
func requireTool(t *testing.T, name string, check ...string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found on PATH: the e2e suite needs it; install with `python3 -m pip install boto3 'awscli<2'`", name)
	}
	if len(check) > 0 {
		if out, err := exec.Command(p, check...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s failed (%v): %s\ninstall with `python3 -m pip install boto3 'awscli<2'`", name, strings.Join(check, " "), err, out)
		}
	}
	return p
}

var errNoRequestID = errors.New("response without x-amz-request-id")
