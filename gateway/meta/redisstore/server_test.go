package redisstore

// Real redis-server processes for the tests, on free loopback ports. The
// tests never skip: without redis-server they fail and say how to install it.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const startTimeout = 20 * time.Second

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found on PATH; the Redis store tests run against a real server: install it: apt-get install -y redis-server", name)
	}
	return p
}

var portMu sync.Mutex

// freePort returns a loopback port that is free, and whose cluster bus port
// (port+10000) is free too when bus is set.
func freePort(t *testing.T, bus bool) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !bus {
			return port
		}
		if port+10000 > 65535 {
			continue
		}
		lb, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		lb.Close()
		return port
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// redisServer is one redis-server process.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	args []string
	tls  *tls.Config // client TLS config when the server speaks only TLS
	// password the server requires (--requirepass)
	password string
	cmd      *exec.Cmd
	log      *bytes.Buffer
	done     chan struct{}
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// serverConfig shapes a test server.
type serverConfig struct {
	cluster bool
	// tls: the server listens with TLS only, with a certificate for
	// 127.0.0.1 signed by a fresh CA (see newTestTLS).
	tls *testTLS
	// sentinelOf makes the process a Sentinel watching that master as
	// "mymaster".
	sentinelOf *redisServer
	// password: --requirepass
	password string
}

// startRedis starts redis-server on a free port with no persistence. It is
// killed at cleanup. When another process takes the port between the check
// and the start, it tries again on another port.
func startRedis(t *testing.T, cfg serverConfig) *redisServer {
	t.Helper()
	bin := lookTool(t, "redis-server")
	for attempt := 1; ; attempt++ {
		s := &redisServer{t: t, port: freePort(t, cfg.cluster), dir: t.TempDir(), password: cfg.password}
		s.args = serverArgs(t, s, cfg)
		err := s.start(bin)
		if err == nil {
			t.Cleanup(s.stop)
			return s
		}
		s.stop()
		if attempt == 3 || !strings.Contains(s.log.String(), "in use") {
			t.Fatal(err)
		}
	}
}

func serverArgs(t *testing.T, s *redisServer, cfg serverConfig) []string {
	var args []string
	if m := cfg.sentinelOf; m != nil {
		conf := filepath.Join(s.dir, "sentinel.conf")
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 1\nsentinel down-after-milliseconds mymaster 5000\n", s.port, s.dir, m.port)
		if m.password != "" {
			text += fmt.Sprintf("sentinel auth-pass mymaster %q\n", m.password)
		}
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		args = []string{conf, "--sentinel"}
	} else {
		args = []string{
			"--port", strconv.Itoa(s.port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", s.dir,
		}
	}
	if cfg.password != "" {
		args = append(args, "--requirepass", cfg.password)
	}
	if cfg.tls != nil {
		args[1] = "0" // no plain-text port
		args = append(args,
			"--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", cfg.tls.certFile,
			"--tls-key-file", cfg.tls.keyFile,
			"--tls-ca-cert-file", cfg.tls.caFile,
			"--tls-auth-clients", "no")
		s.tls = cfg.tls.client
	}
	if cfg.cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(s.dir, fmt.Sprintf("nodes-%d.conf", s.port)),
			"--cluster-node-timeout", "5000")
	}
	return args
}

// start runs the process and waits until it answers. It checks the process
// ID in INFO, so a server of another test that took the port is never
// mistaken for this one.
func (s *redisServer) start(bin string) error {
	s.log = &bytes.Buffer{}
	s.cmd = exec.Command(bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %v", err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	c := redis.NewClient(&redis.Options{Addr: s.addr(), Password: s.password, MaxRetries: -1, DialTimeout: time.Second, TLSConfig: s.tls})
	defer c.Close()
	want := fmt.Sprintf("process_id:%d\r\n", s.cmd.Process.Pid)
	deadline := time.Now().Add(startTimeout)
	for {
		info, err := c.Info(context.Background(), "server").Result()
		if err == nil && strings.Contains(info, want) {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, s.log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d not answering after %s: %v\n%s", s.port, startTimeout, err, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the process and waits for it.
func (s *redisServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
	default:
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// restart starts the process again on the same port.
func (s *redisServer) restart() {
	s.t.Helper()
	s.stop()
	if err := s.start(lookTool(s.t, "redis-server")); err != nil {
		s.t.Fatal(err)
	}
}

// startCluster starts three masters and joins them with
// redis-cli --cluster create, then waits until every node reports
// cluster_state:ok.
func startCluster(t *testing.T) []*redisServer {
	t.Helper()
	cli := lookTool(t, "redis-cli")
	nodes := make([]*redisServer, 3)
	addrs := make([]string, 3)
	for i := range nodes {
		nodes[i] = startRedis(t, serverConfig{cluster: true})
		addrs[i] = nodes[i].addr()
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.addr()})
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("cluster node %s not ok after %s: %v\n%s", n.addr(), startTimeout, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return nodes
}

// waitSentinel waits until the sentinel knows its master's address.
func waitSentinel(t *testing.T, sen *redisServer) {
	t.Helper()
	c := redis.NewSentinelClient(&redis.Options{Addr: sen.addr()})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		addr, err := c.GetMasterAddrByName(context.Background(), "mymaster").Result()
		if err == nil && len(addr) == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel %s does not know mymaster after %s: %v\n%s", sen.addr(), startTimeout, err, sen.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testTLS is a CA and a server certificate for 127.0.0.1, in files for
// redis-server, and the client configuration that trusts the CA.
type testTLS struct {
	caFile, certFile, keyFile string
	client                    *tls.Config
}

func newTestTLS(t *testing.T) *testTLS {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "raya test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tt := &testTLS{
		caFile:   filepath.Join(dir, "ca.pem"),
		certFile: filepath.Join(dir, "cert.pem"),
		keyFile:  filepath.Join(dir, "key.pem"),
	}
	for file, block := range map[string]*pem.Block{
		tt.caFile:   {Type: "CERTIFICATE", Bytes: caDER},
		tt.certFile: {Type: "CERTIFICATE", Bytes: der},
		tt.keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	tt.client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tt
}
