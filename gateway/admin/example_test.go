package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudraya/raya/gateway/admin"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/boltstore"
)

// The S3 handler mounts the admin handler behind authentication; a tool
// reaches it with a Client signed by the root key.
func Example() {
	dir, _ := os.MkdirTemp("", "raya-admin-example")
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "meta.db"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	ctx := context.Background()
	owner, _ := admin.NewAccountID()
	store.CreateAccount(ctx, meta.Account{ID: owner, DisplayName: "acme", CreatedAt: time.Now()})
	store.CreateBucket(ctx, meta.Bucket{Name: "reports", Owner: owner, Backend: "local", CreatedAt: time.Now()})

	adminHandler := admin.NewHandler(store, &admin.Options{Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	mux.Handle(admin.PathPrefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The real S3 handler verifies SigV4 and that the caller holds the
		// root key here.
		adminHandler.ServeHTTP(w, r.WithContext(admin.WithCaller(r.Context(), "RYROOTEXAMPLE0000000")))
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := admin.NewClient(srv.URL, "RYROOTEXAMPLE0000000", "root-secret", nil)
	k, err := c.CreateKey(ctx, admin.CreateKeyRequest{Bucket: "reports", Label: "nightly-export"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(k.Bucket, k.Label, k.Account == owner, len(k.AccessKeyID), len(k.SecretAccessKey))

	_, err = c.CreateKey(ctx, admin.CreateKeyRequest{Bucket: "missing"})
	fmt.Println(err)
	// Output:
	// reports nightly-export true 20 40
	// admin: NotFound: bucket "missing" does not exist (HTTP 404)
}
