package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// benchServer runs the whole gateway (embedded store, local disk) behind a
// real HTTP server on loopback, with an aws-sdk-go-v2 client.
func benchServer(b *testing.B) (*s3.Client, func()) {
	b.Helper()
	a, err := New(context.Background(), Config{
		DataDir: b.TempDir(), RootAccessKey: "BENCHROOTKEY00000001", RootSecretKey: "benchsecret",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	cl := s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.URL), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("BENCHROOTKEY00000001", "benchsecret", ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	})
	if _, err := cl.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	return cl, func() { srv.Close(); a.Close() }
}

func randomBytes(b *testing.B, n int) []byte {
	p := make([]byte, n)
	if _, err := rand.Read(p); err != nil {
		b.Fatal(err)
	}
	return p
}

func benchPut(b *testing.B, size int) {
	cl, stop := benchServer(b)
	defer stop()
	data := randomBytes(b, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	var mu sync.Mutex
	i := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			key := fmt.Sprintf("obj-%d", i%64)
			mu.Unlock()
			if _, err := cl.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String("bench"), Key: aws.String(key), Body: bytes.NewReader(data),
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchGet(b *testing.B, size int) {
	cl, stop := benchServer(b)
	defer stop()
	data := randomBytes(b, size)
	if _, err := cl.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bench"), Key: aws.String("obj"), Body: bytes.NewReader(data),
	}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj")})
			if err != nil {
				b.Error(err)
				return
			}
			n, err := io.Copy(io.Discard, out.Body)
			out.Body.Close()
			if err != nil || n != int64(size) {
				b.Errorf("read %d bytes: %v", n, err)
				return
			}
		}
	})
}

func BenchmarkPut4KiB(b *testing.B)  { benchPut(b, 4<<10) }
func BenchmarkGet4KiB(b *testing.B)  { benchGet(b, 4<<10) }
func BenchmarkPut64MiB(b *testing.B) { benchPut(b, 64<<20) }
func BenchmarkGet64MiB(b *testing.B) { benchGet(b, 64<<20) }

// BenchmarkListObjectsV2 lists a bucket of 10,000 keys, 1,000 per page.
func BenchmarkListObjectsV2(b *testing.B) {
	cl, stop := benchServer(b)
	defer stop()
	ctx := context.Background()
	const n = 10000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := cl.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("dir%02d/key-%05d", i%50, i)), Body: bytes.NewReader([]byte("x")),
			}); err != nil {
				b.Error(err)
			}
		}(i)
	}
	wg.Wait()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String("bench")})
		count := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			count += len(page.Contents)
		}
		if count != n {
			b.Fatalf("listed %d keys, want %d", count, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
