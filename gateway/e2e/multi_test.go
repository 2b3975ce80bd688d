package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// startRedisServer runs a real redis-server on a free loopback port for
// the test and returns its URL.
func startRedisServer(t *testing.T) string {
	t.Helper()
	bin := requireTool(t, "redis-server")
	port := freePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return "redis://" + addr + "/0"
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTwoInstancesShareRedis runs two raya processes on one Redis, with
// their objects in a shared upstream S3 (a third raya): what one instance
// does is seen by the other.
func TestTwoInstancesShareRedis(t *testing.T) {
	redisURL := startRedisServer(t)
	upstream := startServer(t, serverOpts{})
	cfg := fmt.Sprintf(`
default_backend: shared
backends:
  - name: shared
    type: s3
    options:
      endpoint: %s
      region: us-east-1
      access_key_id: %s
      secret_access_key: %s
      path_style: "true"
      bucket_prefix: "gw-"
`, upstream.URL, rootAccessKey, rootSecretKey)
	cfgPath := filepath.Join(t.TempDir(), "raya.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := serverOpts{
		Args: []string{"--config", cfgPath, "--meta", redisURL, "--key-cache-ttl", "2s"},
		Env:  []string{"RAYA_MASTER_KEY=" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
	}
	a := startServer(t, opts)
	b := startServer(t, opts)
	ctx := context.Background()
	rootA, _ := newSDKClient(t, a, sdkClientOpts{})

	bucket := uniqueBucket("multi")
	createBucket(t, rootA, bucket)
	key := a.CreateKey(t, bucket, "app")
	// A bucket and key created through A work at once on B.
	appB, _ := newSDKClient(t, b, sdkClientOpts{AccessKey: key.AccessKeyID, SecretKey: key.SecretAccessKey})
	putBytes(t, appB, bucket, "hello.txt", []byte("from B"))
	appA, _ := newSDKClient(t, a, sdkClientOpts{AccessKey: key.AccessKeyID, SecretKey: key.SecretAccessKey})
	if got, _ := getBytes(t, appA, bucket, "hello.txt"); string(got) != "from B" {
		t.Fatalf("A reads %q", got)
	}

	// A multipart upload started on A completes on B.
	part1, part2 := randomBytes(5<<20), randomBytes(1234)
	up, err := appA.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("big.bin")})
	mustOK(t, err, "CreateMultipartUpload on A")
	p1, err := appA.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("big.bin"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part1)})
	mustOK(t, err, "UploadPart 1 on A")
	p2, err := appB.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("big.bin"), UploadId: up.UploadId, PartNumber: aws.Int32(2), Body: bytes.NewReader(part2)})
	mustOK(t, err, "UploadPart 2 on B")
	lp, err := appB.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	mustOK(t, err, "ListMultipartUploads on B")
	if len(lp.Uploads) != 1 {
		t.Fatalf("B lists %d uploads", len(lp.Uploads))
	}
	done, err := appB.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String("big.bin"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.ETag, ChecksumCRC32: p1.ChecksumCRC32},
			{PartNumber: aws.Int32(2), ETag: p2.ETag, ChecksumCRC32: p2.ChecksumCRC32},
		}},
	})
	mustOK(t, err, "CompleteMultipartUpload on B")
	if aws.ToString(done.ETag) != multipartETag(part1, part2) {
		t.Errorf("ETag %s, want %s", aws.ToString(done.ETag), multipartETag(part1, part2))
	}
	got, _ := getBytes(t, appA, bucket, "big.bin")
	if !bytes.Equal(got, append(append([]byte{}, part1...), part2...)) {
		t.Fatal("object read on A differs from the parts uploaded on A and B")
	}

	// A public-read grant set through B is honoured by A for anonymous callers.
	_, err = appB.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String(bucket), Key: aws.String("hello.txt"), ACL: types.ObjectCannedACLPublicRead})
	mustOK(t, err, "PutObjectAcl on B")
	if code := anonGet(t, a, bucket, "hello.txt"); code != http.StatusOK {
		t.Errorf("anonymous GET of a public-read object on A: %d", code)
	}
	if code := anonGet(t, a, bucket, "big.bin"); code != http.StatusForbidden {
		t.Errorf("anonymous GET of a private object on A: %d", code)
	}

	// A key revoked on A is refused on B within the stated bound (the key
	// cache TTL, 2s; pub/sub usually makes it immediate).
	a.CLI(t, "key", "revoke", key.AccessKeyID)
	revoked := time.Now()
	for {
		out, err := appB.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("hello.txt")})
		if err == nil {
			out.Body.Close()
		} else {
			wantErr(t, err, "InvalidAccessKeyId", http.StatusForbidden)
			break
		}
		if time.Since(revoked) > 3*time.Second {
			t.Fatalf("revoked key still works on B after %v", time.Since(revoked))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("revocation applied on the other instance after %v", time.Since(revoked).Round(time.Millisecond))

	// Two instances racing for one bucket name: one winner.
	rootB, _ := newSDKClient(t, b, sdkClientOpts{})
	race := uniqueBucket("race")
	errs := make(chan error, 2)
	for _, c := range []*s3.Client{rootA, rootB} {
		go func(c *s3.Client) {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(race)})
			errs <- err
		}(c)
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("racing CreateBucket: %v / %v, want exactly one success", e1, e2)
	}
	loser := e1
	if loser == nil {
		loser = e2
	}
	wantErr(t, loser, "BucketAlreadyOwnedByYou", http.StatusConflict)
}

// anonGet fetches an object without credentials and returns the status.
func anonGet(t *testing.T, s *server, bucket, key string) int {
	t.Helper()
	resp, err := s.HTTPClient().Get(s.URL + "/" + bucket + "/" + key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
