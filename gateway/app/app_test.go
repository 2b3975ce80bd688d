package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudraya/raya/gateway/meta"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestRootPairKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := New(ctx, Config{DataDir: dir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	root := a.Root
	if !strings.HasPrefix(root.AccessKeyID, "RY") || len(root.SecretAccessKey) != 40 {
		t.Fatalf("generated root pair %q / %q", root.AccessKeyID, root.SecretAccessKey)
	}
	if err := a.Store.CreateBucket(ctx, meta.Bucket{Name: "kept", Owner: root.Account, Backend: LocalBackend}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	for _, f := range []string{"root.json", "master.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", f, err, st)
		}
	}
	// The secret is sealed at rest: the store file does not contain it.
	raw, err := os.ReadFile(filepath.Join(dir, "meta.db"))
	if err != nil || strings.Contains(string(raw), root.SecretAccessKey) {
		t.Errorf("meta.db holds the root secret in plain text (err %v)", err)
	}

	b, err := New(ctx, Config{DataDir: dir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if b.Root.AccessKeyID != root.AccessKeyID || b.Root.SecretAccessKey != root.SecretAccessKey {
		t.Errorf("root pair changed across restart")
	}
	if _, err := b.Store.GetBucket(ctx, "kept"); err != nil {
		t.Errorf("bucket lost across restart: %v", err)
	}
	b.Close()

	// A configured pair replaces the generated one, which stops working.
	c, err := New(ctx, Config{DataDir: dir, Logger: quiet(), RootAccessKey: "CONFIGUREDROOT000001", RootSecretKey: "configured-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Root.AccessKeyID != "CONFIGUREDROOT000001" || !c.Root.Root {
		t.Errorf("configured root not used: %+v", c.Root)
	}
	if _, err := c.Store.GetKey(ctx, root.AccessKeyID); err == nil {
		t.Errorf("the replaced root key still exists")
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]Config{
		"no data":           {},
		"half a root pair":  {DataDir: t.TempDir(), RootAccessKey: "X"},
		"redis, no master":  {DataDir: t.TempDir(), MetaURL: "redis://127.0.0.1:1/0"},
		"unknown meta form": {DataDir: t.TempDir(), MetaURL: "mysql://x"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("RAYA_MASTER_KEY", "")
			if a, err := New(ctx, cfg); err == nil {
				a.Close()
				t.Fatal("accepted")
			}
		})
	}
}

// Instances sharing a store with a configured root pair (and no root.json
// of their own, as on Lambda) reuse the root account.
func TestConfiguredRootReusesAccount(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Logger: quiet(), RootAccessKey: "SHAREDROOT0000000001", RootSecretKey: "s"}
	a, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := a.Root.Account
	a.Close()
	os.Remove(filepath.Join(dir, "root.json"))
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Root.Account != first {
		t.Errorf("root account changed: %s then %s", first, b.Root.Account)
	}
	accts, err := b.Store.ListAccounts(ctx)
	if err != nil || len(accts) != 1 {
		t.Errorf("accounts after two starts: %v %v", accts, err)
	}
}
