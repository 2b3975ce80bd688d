package host_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkServer runs the same S3 workloads through the real server
// (`raya serve`, aws-sdk-go-v2 client on loopback) with the local disk
// backend in process and as a plugin (--backend-mode plugin):
//
//	go test -run '^$' -bench BenchmarkServer -benchtime 3s ./plugins/host/
func BenchmarkServer(b *testing.B) {
	raya := buildRaya(b)
	for _, mode := range []string{"inprocess", "plugin"} {
		b.Run(mode, func(b *testing.B) {
			c := startServe(b, raya, mode)
			ctx := context.Background()
			bucket := "bench-" + mode
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
				b.Fatal(err)
			}
			for _, size := range []int64{4 << 10, 64 << 20} {
				body := bytes.Repeat([]byte{'x'}, int(size))
				b.Run("Put"+sizeName(size), func(b *testing.B) {
					b.SetBytes(size)
					i := 0
					for b.Loop() {
						i++
						_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("put-%d", i%16)), Body: bytes.NewReader(body)})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("Get"+sizeName(size), func(b *testing.B) {
					key := "get-" + sizeName(size)
					if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
						b.Fatal(err)
					}
					b.SetBytes(size)
					buf := make([]byte, 256<<10)
					for b.Loop() {
						out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
						if err != nil {
							b.Fatal(err)
						}
						if _, err := io.CopyBuffer(io.Discard, out.Body, buf); err != nil {
							b.Fatal(err)
						}
						out.Body.Close()
					}
				})
			}
			lb := bucket + "-list"
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(lb)}); err != nil {
				b.Fatal(err)
			}
			for i := range 1000 {
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(lb), Key: aws.String(fmt.Sprintf("k/%04d", i)), Body: bytes.NewReader([]byte("x"))}); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("List1000", func(b *testing.B) {
				for b.Loop() {
					out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(lb)})
					if err != nil || len(out.Contents) != 1000 {
						b.Fatalf("list: %v", err)
					}
				}
			})
		})
	}
}

var (
	rayaOnce sync.Once
	rayaPath string
	rayaErr  error
)

// buildRaya builds the raya command once per test binary.
func buildRaya(tb testing.TB) string {
	rayaOnce.Do(func() {
		dir, err := os.MkdirTemp("", "raya-bench-")
		if err != nil {
			rayaErr = err
			return
		}
		rayaPath = filepath.Join(dir, "raya")
		out, err := exec.Command("go", "build", "-o", rayaPath, "github.com/cloudraya/raya/gateway/cmd/raya").CombinedOutput()
		if err != nil {
			rayaErr = fmt.Errorf("building raya: %v\n%s", err, out)
		}
	})
	if rayaErr != nil {
		tb.Fatal(rayaErr)
	}
	return rayaPath
}

const (
	benchAccessKey = "RAYABENCHROOT0000001"
	benchSecretKey = "benchRootSecretKey/0123456789abcdefghijk"
)

// startServe runs `raya serve` on a loopback port and returns a client.
func startServe(b *testing.B, raya, mode string) *s3.Client {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(raya, "serve", "--listen", addr, "--data", filepath.Join(b.TempDir(), "data"), "--backend-mode", mode)
	cmd.Env = append(os.Environ(), "RAYA_ROOT_ACCESS_KEY="+benchAccessKey, "RAYA_ROOT_SECRET_KEY="+benchSecretKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if b.Failed() {
			b.Logf("raya output:\n%s", out.String())
		}
	})
	url := "http://" + addr
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 20*time.Second {
			b.Fatalf("raya did not become healthy: %v\n%s", err, out.String())
		}
	}
	return s3.New(s3.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(benchAccessKey, benchSecretKey, ""),
		BaseEndpoint:     aws.String(url),
		UsePathStyle:     true,
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
	})
}
