// Package boltstore is the embedded, durable metadata store: a meta.Store in
// one bbolt file, the default for `raya serve` on a single machine. A
// restart loses nothing: every write is committed and fsynced before the call
// returns.
//
// The file is locked for the life of the Store, so only one process can use
// it at a time; for several gateway processes use the Redis store instead.
// Only the composition root (gateway/app) should import this package.
//
// Layout: records are JSON values in top-level bbolt buckets — "accounts"
// (by ID), "buckets" (by name), "keys" (by access key ID) and "uploads" (by
// bucket name, a NUL byte, upload ID) — plus "schema", which holds the layout
// version.
package boltstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/cloudraya/raya/gateway/meta"
)

// DefaultTimeout is how long Open waits for another process to release the
// file when Options.Timeout is zero.
const DefaultTimeout = time.Second

// ErrInUse is returned (wrapped) by Open when another process holds the file.
var ErrInUse = errors.New("metadata store is in use by another process")

// schemaVersion is the layout version this package reads and writes.
const schemaVersion = 1

var (
	bktSchema   = []byte("schema")
	bktAccounts = []byte("accounts")
	bktBuckets  = []byte("buckets")
	bktKeys     = []byte("keys")
	bktUploads  = []byte("uploads")
	bktObjACLs  = []byte("objectacls")

	keyVersion = []byte("version")
)

// Options configure Open. The zero value (or nil) means defaults.
type Options struct {
	// Timeout bounds the wait for the file lock held by another process.
	// Zero means DefaultTimeout; a negative value means fail at once.
	Timeout time.Duration
}

// Store is a meta.Store in a bbolt file. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
}

// Interface guards.
var _ meta.Store = (*Store)(nil)

// Open opens the store at path, creating the file (mode 0600) when it does
// not exist. The directory must exist. When another process holds the file,
// Open fails after opts.Timeout with an error wrapping ErrInUse.
func Open(path string, opts *Options) (*Store, error) {
	timeout := DefaultTimeout
	if opts != nil && opts.Timeout != 0 {
		timeout = opts.Timeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: metadata store %s is in use by another process (lock not acquired within %s): %w",
			path, max(timeout, 0), ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open metadata store %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: metadata store %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// initSchema creates the buckets of a new file and checks the version of an
// existing one.
func initSchema(tx *bolt.Tx) error {
	sb, err := tx.CreateBucketIfNotExists(bktSchema)
	if err != nil {
		return err
	}
	if v := sb.Get(keyVersion); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n != schemaVersion {
			return fmt.Errorf("unsupported schema version %q (this build reads version %d)", v, schemaVersion)
		}
	} else if err := sb.Put(keyVersion, []byte(strconv.Itoa(schemaVersion))); err != nil {
		return err
	}
	for _, name := range [][]byte{bktAccounts, bktBuckets, bktKeys, bktUploads, bktObjACLs} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// Close releases the file. Calls after Close fail.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// Record helpers.

func get[T any](tx *bolt.Tx, bkt, key []byte, what string) (*T, error) {
	v := tx.Bucket(bkt).Get(key)
	if v == nil {
		return nil, fmt.Errorf("%s %s: %w", what, label(key), meta.ErrNotFound)
	}
	var rec T
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("boltstore: decode %s %s: %w", what, label(key), err)
	}
	return &rec, nil
}

// create stores rec under key unless the key is taken.
func create(tx *bolt.Tx, bkt, key []byte, what string, rec any) error {
	b := tx.Bucket(bkt)
	if b.Get(key) != nil {
		return fmt.Errorf("%s %s: %w", what, label(key), meta.ErrExists)
	}
	return put(b, key, rec)
}

func put(b *bolt.Bucket, key []byte, rec any) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("boltstore: encode %s: %w", label(key), err)
	}
	return b.Put(key, v)
}

func remove(tx *bolt.Tx, bkt, key []byte, what string) error {
	b := tx.Bucket(bkt)
	if b.Get(key) == nil {
		return fmt.Errorf("%s %s: %w", what, label(key), meta.ErrNotFound)
	}
	return b.Delete(key)
}

// list decodes every record whose key starts with prefix, in key order, and
// keeps those for which keep (when not nil) returns true.
func list[T any](tx *bolt.Tx, bkt, prefix []byte, what string, keep func(*T) bool) ([]T, error) {
	var out []T
	c := tx.Bucket(bkt).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var rec T
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, fmt.Errorf("boltstore: decode %s %s: %w", what, label(k), err)
		}
		if keep == nil || keep(&rec) {
			out = append(out, rec)
		}
	}
	return out, nil
}

// label quotes a record key for an error message, showing an upload's
// bucket\x00uploadID as bucket/uploadID.
func label(key []byte) string {
	return strconv.Quote(string(bytes.ReplaceAll(key, []byte{0}, []byte{'/'})))
}

func required(what, v string) error {
	if v == "" {
		return fmt.Errorf("boltstore: empty %s", what)
	}
	return nil
}

// Accounts.

// CreateAccount implements meta.Store.
func (s *Store) CreateAccount(ctx context.Context, a meta.Account) error {
	if err := required("account ID", a.ID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return create(tx, bktAccounts, []byte(a.ID), "account", a)
	})
}

// GetAccount implements meta.Store.
func (s *Store) GetAccount(ctx context.Context, id string) (*meta.Account, error) {
	var a *meta.Account
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		a, err = get[meta.Account](tx, bktAccounts, []byte(id), "account")
		return err
	})
	return a, err
}

// ListAccounts implements meta.Store.
func (s *Store) ListAccounts(ctx context.Context) ([]meta.Account, error) {
	var as []meta.Account
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		as, err = list[meta.Account](tx, bktAccounts, nil, "account", nil)
		return err
	})
	return as, err
}

// Buckets.

// CreateBucket implements meta.Store. bbolt serializes writers, so the
// check and the claim are atomic.
func (s *Store) CreateBucket(ctx context.Context, b meta.Bucket) error {
	if err := required("bucket name", b.Name); err != nil {
		return err
	}
	if strings.IndexByte(b.Name, 0) >= 0 {
		return fmt.Errorf("boltstore: bucket name %q contains a NUL byte", b.Name)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return create(tx, bktBuckets, []byte(b.Name), "bucket", b)
	})
}

// GetBucket implements meta.Store.
func (s *Store) GetBucket(ctx context.Context, name string) (*meta.Bucket, error) {
	var b *meta.Bucket
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		b, err = get[meta.Bucket](tx, bktBuckets, []byte(name), "bucket")
		return err
	})
	return b, err
}

// ListBuckets implements meta.Store.
func (s *Store) ListBuckets(ctx context.Context) ([]meta.Bucket, error) {
	var bs []meta.Bucket
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		bs, err = list[meta.Bucket](tx, bktBuckets, nil, "bucket", nil)
		return err
	})
	return bs, err
}

// UpdateBucket implements meta.Store.
func (s *Store) UpdateBucket(ctx context.Context, b meta.Bucket) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktBuckets)
		if bk.Get([]byte(b.Name)) == nil {
			return fmt.Errorf("bucket %s: %w", label([]byte(b.Name)), meta.ErrNotFound)
		}
		return put(bk, []byte(b.Name), b)
	})
}

// DeleteBucket implements meta.Store: the bucket, its upload records and the
// keys scoped to it go in one transaction.
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		if err := remove(tx, bktBuckets, []byte(name), "bucket"); err != nil {
			return err
		}
		// Collect first, delete after: deleting under a bbolt cursor can
		// skip the next entry.
		var doomed [][]byte
		prefix := uploadPrefix(name)
		c := tx.Bucket(bktUploads).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			doomed = append(doomed, bytes.Clone(k))
		}
		for _, k := range doomed {
			if err := tx.Bucket(bktUploads).Delete(k); err != nil {
				return err
			}
		}

		doomed = doomed[:0]
		c = tx.Bucket(bktObjACLs).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			doomed = append(doomed, bytes.Clone(k))
		}
		for _, k := range doomed {
			if err := tx.Bucket(bktObjACLs).Delete(k); err != nil {
				return err
			}
		}

		// Keys are few and scanned: no secondary index to keep in step.
		doomed = doomed[:0]
		err := tx.Bucket(bktKeys).ForEach(func(k, v []byte) error {
			var rec struct {
				Bucket string `json:"bucket"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("boltstore: decode key %q: %w", k, err)
			}
			if rec.Bucket == name {
				doomed = append(doomed, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range doomed {
			if err := tx.Bucket(bktKeys).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Keys.

// PutKey implements meta.Store.
func (s *Store) PutKey(ctx context.Context, k meta.Key) error {
	if err := required("access key ID", k.AccessKeyID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return put(tx.Bucket(bktKeys), []byte(k.AccessKeyID), k)
	})
}

// GetKey implements meta.Store.
func (s *Store) GetKey(ctx context.Context, accessKeyID string) (*meta.Key, error) {
	var k *meta.Key
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		k, err = get[meta.Key](tx, bktKeys, []byte(accessKeyID), "key")
		return err
	})
	return k, err
}

// ListKeys implements meta.Store.
func (s *Store) ListKeys(ctx context.Context, f meta.KeyFilter) ([]meta.Key, error) {
	keep := func(k *meta.Key) bool {
		return (f.Bucket == "" || k.Bucket == f.Bucket) && (f.Account == "" || k.Account == f.Account)
	}
	var ks []meta.Key
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		ks, err = list(tx, bktKeys, nil, "key", keep)
		return err
	})
	return ks, err
}

// DeleteKey implements meta.Store (meta.ErrNotFound when absent).
func (s *Store) DeleteKey(ctx context.Context, accessKeyID string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return remove(tx, bktKeys, []byte(accessKeyID), "key")
	})
}

// UpdateKey implements meta.Store in one transaction.
func (s *Store) UpdateKey(ctx context.Context, accessKeyID string, fn func(*meta.Key) error) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		k, err := get[meta.Key](tx, bktKeys, []byte(accessKeyID), "key")
		if err != nil {
			return err
		}
		id, bucket, account := k.AccessKeyID, k.Bucket, k.Account
		if err := fn(k); err != nil {
			return err
		}
		if k.AccessKeyID != id || k.Bucket != bucket || k.Account != account {
			return meta.ErrImmutable
		}
		return put(tx.Bucket(bktKeys), []byte(accessKeyID), k)
	})
}

// TouchKey implements meta.Store.
func (s *Store) TouchKey(ctx context.Context, accessKeyID string, at time.Time) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		k, err := get[meta.Key](tx, bktKeys, []byte(accessKeyID), "key")
		if err != nil {
			return err
		}
		at = at.UTC()
		k.LastUsedAt = &at
		return put(tx.Bucket(bktKeys), []byte(accessKeyID), k)
	})
}

// Object ACLs, keyed by bucket, NUL, object key.

// PutObjectACL implements meta.Store.
func (s *Store) PutObjectACL(ctx context.Context, bucket, key string, a meta.ObjectACL) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return put(tx.Bucket(bktObjACLs), uploadKey(bucket, key), a)
	})
}

// GetObjectACL implements meta.Store.
func (s *Store) GetObjectACL(ctx context.Context, bucket, key string) (*meta.ObjectACL, error) {
	var a *meta.ObjectACL
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		a, err = get[meta.ObjectACL](tx, bktObjACLs, uploadKey(bucket, key), "object ACL")
		return err
	})
	return a, err
}

// DeleteObjectACL implements meta.Store.
func (s *Store) DeleteObjectACL(ctx context.Context, bucket, key string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bktObjACLs).Delete(uploadKey(bucket, key))
	})
}

// Uploads.

// uploadPrefix is the key prefix of a bucket's upload records. Bucket names
// never contain NUL, so "app" never matches the records of "app-logs".
func uploadPrefix(bucket string) []byte {
	return append([]byte(bucket), 0)
}

func uploadKey(bucket, uploadID string) []byte {
	return append(uploadPrefix(bucket), uploadID...)
}

// CreateUpload implements meta.Store.
func (s *Store) CreateUpload(ctx context.Context, u meta.Upload) error {
	if err := required("upload bucket", u.Bucket); err != nil {
		return err
	}
	if err := required("upload ID", u.UploadID); err != nil {
		return err
	}
	if strings.IndexByte(u.Bucket, 0) >= 0 {
		return fmt.Errorf("boltstore: bucket name %q contains a NUL byte", u.Bucket)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return create(tx, bktUploads, uploadKey(u.Bucket, u.UploadID), "upload", u)
	})
}

// GetUpload implements meta.Store.
func (s *Store) GetUpload(ctx context.Context, bucket, uploadID string) (*meta.Upload, error) {
	var u *meta.Upload
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		u, err = get[meta.Upload](tx, bktUploads, uploadKey(bucket, uploadID), "upload")
		return err
	})
	return u, err
}

// ListUploads implements meta.Store: ordered by key, then initiation time,
// then upload ID.
func (s *Store) ListUploads(ctx context.Context, bucket string) ([]meta.Upload, error) {
	if strings.IndexByte(bucket, 0) >= 0 {
		return nil, nil // no bucket has such a name
	}
	var us []meta.Upload
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		us, err = list[meta.Upload](tx, bktUploads, uploadPrefix(bucket), "upload", nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(us, func(a, b meta.Upload) int {
		return cmp.Or(
			strings.Compare(a.Key, b.Key),
			a.Initiated.Compare(b.Initiated),
			strings.Compare(a.UploadID, b.UploadID),
		)
	})
	return us, nil
}

// DeleteUpload implements meta.Store (meta.ErrNotFound when absent).
func (s *Store) DeleteUpload(ctx context.Context, bucket, uploadID string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return remove(tx, bktUploads, uploadKey(bucket, uploadID), "upload")
	})
}
