package e2e

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestConcurrentOverwrite overwrites one key from several writers while
// readers read it: a put is visible whole or not at all, so every read
// returns exactly one of the written bodies, with its own ETag.
func TestConcurrentOverwrite(t *testing.T) {
	s := startServer(t, serverOpts{})
	c, _ := newSDKClient(t, s, sdkClientOpts{})
	b := uniqueBucket("concurrent")
	createBucket(t, c, b)
	ctx := context.Background()

	const writers, rounds, readers = 4, 4, 4
	bodies := map[string][]byte{} // etag -> body
	var all [][]byte
	for i := 0; i < writers*rounds; i++ {
		body := randomBytes(512*1024 + i)
		bodies[etagOf(body)] = body
		all = append(all, body)
	}
	putBytes(t, c, b, "hot", all[0])

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("hot"), Body: bytes.NewReader(all[w*rounds+r])})
				if err != nil {
					t.Errorf("concurrent PutObject: %v", err)
				}
			}
		}(w)
	}
	var rg sync.WaitGroup
	var mu sync.Mutex
	reads := 0
	for r := 0; r < readers; r++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("hot")})
				if err != nil {
					t.Errorf("concurrent GetObject: %v", err)
					return
				}
				data, err := io.ReadAll(out.Body)
				out.Body.Close()
				if err != nil {
					t.Errorf("concurrent GetObject read: %v", err)
					return
				}
				want, ok := bodies[aws.ToString(out.ETag)]
				if !ok || !bytes.Equal(data, want) || aws.ToInt64(out.ContentLength) != int64(len(data)) {
					t.Errorf("concurrent GetObject: ETag %s (known %v), %d bytes, Content-Length %d: a torn or mismatched object",
						aws.ToString(out.ETag), ok, len(data), aws.ToInt64(out.ContentLength))
					return
				}
				mu.Lock()
				reads++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	rg.Wait()
	t.Logf("%d consistent reads during %d overwrites", reads, writers*rounds)
	data, _ := getBytes(t, c, b, "hot")
	if _, ok := bodies[etagOf(data)]; !ok {
		t.Errorf("final object is none of the written bodies (%d bytes)", len(data))
	}
}
