package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/redisstore"
)

// Open takes one URL for every deployment shape:
//
//	redis://:PASSWORD@127.0.0.1:6379/0                      one server
//	rediss://USER:PASSWORD@redis.example.com:6380/0         one server over TLS
//	redis+sentinel://PASSWORD@s1:26379,s2:26379/mymaster/0  Sentinel
//	redis+cluster://n1:7000,n2:7000,n3:7000                 Redis Cluster seed nodes
func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	store, err := redisstore.Open(ctx, "redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000",
		&redisstore.Options{KeyPrefix: "raya-prod", DialTimeout: 2 * time.Second})
	if err != nil {
		log.Fatal(err) // invalid URL, or no node answered
	}
	defer store.Close()

	b := meta.Bucket{Name: "photos", Owner: "owner-id", Backend: "gcs", CreatedAt: time.Now()}
	switch err := store.CreateBucket(ctx, b); {
	case errors.Is(err, meta.ErrExists):
		fmt.Println("another instance has it: BucketAlreadyExists")
	case err != nil:
		fmt.Println("Redis unavailable: answer 503 and let the client retry")
	}
}
