package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/boltstore"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "raya-meta")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := boltstore.Open(filepath.Join(dir, "meta.db"), &boltstore.Options{Timeout: 2 * time.Second})
	if err != nil {
		log.Fatal(err) // e.g. "... is in use by another process ..."
	}
	defer store.Close()

	ctx := context.Background()
	b := meta.Bucket{Name: "photos", Owner: "owner-id", Backend: "local", CreatedAt: time.Now()}
	fmt.Println(store.CreateBucket(ctx, b))
	fmt.Println(errors.Is(store.CreateBucket(ctx, b), meta.ErrExists))
	// Output:
	// <nil>
	// true
}
