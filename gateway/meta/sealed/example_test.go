package sealed_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/boltstore"
	"github.com/cloudraya/raya/gateway/meta/sealed"
)

// The composition root wraps the store once; everything above it sees
// plaintext secrets, everything below it only sealed ones.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "sealed-example")
	defer os.RemoveAll(dir)
	inner, err := boltstore.Open(filepath.Join(dir, "meta.db"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// In production: sealed.LoadKeyring() reads RAYA_MASTER_KEY.
	kr, err := sealed.ParseKeyring("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
	if err != nil {
		fmt.Println(err)
		return
	}
	store := sealed.New(inner, kr)
	defer store.Close()

	ctx := context.Background()
	store.PutKey(ctx, meta.Key{AccessKeyID: "RYEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG", Status: meta.KeyActive, CreatedAt: time.Now()})
	k, _ := store.GetKey(ctx, "RYEXAMPLE")
	raw, _ := inner.GetKey(ctx, "RYEXAMPLE")
	fmt.Println(k.SecretAccessKey)
	fmt.Println(strings.HasPrefix(raw.SecretAccessKey, "raya:v1:"+kr.PrimaryID()+":"), strings.Contains(raw.SecretAccessKey, "wJalr"))
	// Output:
	// wJalrXUtnFEMI/K7MDENG
	// true false
}
