package boltstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/metatest"
)

func TestConformance(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store { return open(t, filepath.Join(t.TempDir(), "meta.db"), nil) })
}

func open(t *testing.T, path string, opts *Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	expires := created.Add(time.Hour)
	acct := meta.Account{ID: strings.Repeat("a", 64), DisplayName: "Alice", CreatedAt: created}
	bkt := meta.Bucket{Name: "photos", Owner: acct.ID, Backend: "local", CreatedAt: created}
	key := meta.Key{AccessKeyID: "AKIA1", SecretAccessKey: "s", Account: acct.ID, Bucket: "photos",
		Status: meta.KeyActive, CreatedAt: created, ExpiresAt: &expires}
	up := meta.Upload{UploadID: "u1", Bucket: "photos", Key: "a.jpg", Initiated: created, Owner: acct.ID,
		Metadata: backends.Metadata{ContentType: "image/jpeg", User: map[string]string{"k": "v"}}}

	s := open(t, path, nil)
	for _, err := range []error{
		s.CreateAccount(ctx, acct),
		s.CreateBucket(ctx, bkt),
		s.PutKey(ctx, key),
		s.CreateUpload(ctx, up),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode = %o, want 600", mode)
	}

	s = open(t, path, nil)
	defer s.Close()
	if a, err := s.GetAccount(ctx, acct.ID); err != nil || a.DisplayName != "Alice" || !a.CreatedAt.Equal(created) {
		t.Errorf("GetAccount after reopen = %+v, %v", a, err)
	}
	if b, err := s.GetBucket(ctx, "photos"); err != nil || !reflect.DeepEqual(*b, bkt) {
		t.Errorf("GetBucket after reopen = %+v, %v; want %+v", b, err, bkt)
	}
	if k, err := s.GetKey(ctx, "AKIA1"); err != nil || k.Bucket != "photos" || k.ExpiresAt == nil ||
		!k.ExpiresAt.Equal(expires) || k.LastUsedAt != nil {
		t.Errorf("GetKey after reopen = %+v, %v", k, err)
	}
	if u, err := s.GetUpload(ctx, "photos", "u1"); err != nil || u.Key != "a.jpg" || u.Metadata.User["k"] != "v" {
		t.Errorf("GetUpload after reopen = %+v, %v", u, err)
	}
	// Uniqueness survives too.
	if err := s.CreateBucket(ctx, bkt); !errors.Is(err, meta.ErrExists) {
		t.Errorf("CreateBucket after reopen: err = %v, want %v", err, meta.ErrExists)
	}
	if err := s.CreateUpload(ctx, up); !errors.Is(err, meta.ErrExists) {
		t.Errorf("CreateUpload after reopen: err = %v, want %v", err, meta.ErrExists)
	}
}

func TestLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	first := open(t, path, nil)

	for _, timeout := range []time.Duration{100 * time.Millisecond, -1} {
		done := make(chan error, 1)
		go func() {
			s, err := Open(path, &Options{Timeout: timeout})
			if err == nil {
				s.Close()
			}
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("Open with Timeout %v on a locked file hangs", timeout)
		}
		if err == nil {
			t.Fatalf("second Open with Timeout %v succeeded on a locked file", timeout)
		}
		if !errors.Is(err, ErrInUse) {
			t.Errorf("err = %v, want one wrapping ErrInUse", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "in use by another process") || !strings.Contains(msg, path) {
			t.Errorf("err = %q, want it to name %s and say it is in use by another process", msg, path)
		}
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := open(t, path, &Options{Timeout: 100 * time.Millisecond})
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	t.Run("MissingDirectory", func(t *testing.T) {
		path := filepath.Join(dir, "nope", "meta.db")
		if _, err := Open(path, nil); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Open in a missing directory: err = %v, want an error naming %s", err, path)
		}
	})
	t.Run("NewerSchema", func(t *testing.T) {
		path := filepath.Join(dir, "future.db")
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bktSchema)
			if err != nil {
				return err
			}
			return b.Put(keyVersion, []byte("99"))
		})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path, nil); err == nil || !strings.Contains(err.Error(), "schema version") {
			t.Errorf("Open of a newer schema: err = %v, want a schema version error", err)
		}
		// The failed Open released the file.
		if _, err := Open(path, &Options{Timeout: -1}); err == nil || errors.Is(err, ErrInUse) {
			t.Errorf("Open again: err = %v, want the schema error, not a lock error", err)
		}
	})
}

func TestCanceledContext(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "meta.db"), nil)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.CreateBucket(ctx, meta.Bucket{Name: "b"}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateBucket with canceled ctx: err = %v, want %v", err, context.Canceled)
	}
	if _, err := s.GetBucket(context.Background(), "b"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("bucket created despite canceled ctx: err = %v", err)
	}
}

func TestUseAfterClose(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "meta.db"), nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListBuckets(context.Background()); err == nil {
		t.Error("ListBuckets after Close succeeded")
	}
}
