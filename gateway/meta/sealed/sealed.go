// Package sealed encrypts access key secrets at rest. New wraps any
// meta.Store so that the SecretAccessKey of every key is sealed with
// AES-256-GCM under a master key before it reaches the inner store, and
// opened again on the way out: a dump of Redis or of the embedded store
// reveals no secret. Nothing else changes; the decorator passes the
// metadata store conformance suite (metatest) like the store it wraps.
//
// A sealed value reads "raya:v1:<kid>:<base64(nonce|ciphertext)>": kid
// names the master key that sealed it, and the access key ID is the
// additional authenticated data, so a sealed secret copied onto another key
// does not open. A value without the prefix is a legacy plaintext secret and
// is returned as it is (Reseal seals it).
//
// # Master keys and their rotation
//
// The Keyring holds a primary master key, which seals, and previous keys,
// which only open. LoadKeyring reads them from RAYA_MASTER_KEY (or the file
// named by RAYA_MASTER_KEY_FILE) and RAYA_MASTER_KEY_PREVIOUS. To change the
// master key without downtime:
//
//  1. generate a new key (`openssl rand -base64 32`);
//  2. restart every instance with RAYA_MASTER_KEY=<new> and
//     RAYA_MASTER_KEY_PREVIOUS=<old> (instances still on the old key cannot
//     open secrets sealed with the new one, so finish this step before the
//     next; until then only writes of new keys risk this);
//  3. run `raya key reseal` (Reseal): every secret is re-sealed with the
//     primary; the report lists any key that could not be opened;
//  4. drop RAYA_MASTER_KEY_PREVIOUS on every instance.
//
// The composition root (gateway/app) imports this package; nothing else
// needs to.
package sealed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
)

// Store is the sealing decorator returned by New.
type Store struct {
	inner meta.Store
	kr    *Keyring
}

// Interface guard.
var _ meta.Store = (*Store)(nil)

// New returns a store that seals key secrets with keyring's primary key
// before they reach inner, and opens them when they are read. GetKey and
// ListKeys fail with an error wrapping ErrUnknownMasterKey or ErrOpen when a
// stored secret cannot be opened.
func New(inner meta.Store, keyring *Keyring) meta.Store {
	if inner == nil || keyring == nil {
		panic("sealed: New needs a store and a keyring")
	}
	return &Store{inner: inner, kr: keyring}
}

// Unwrap returns the inner store.
func (s *Store) Unwrap() meta.Store { return s.inner }

// Keyring returns the keyring the store seals with.
func (s *Store) Keyring() *Keyring { return s.kr }

func (s *Store) CreateAccount(ctx context.Context, a meta.Account) error {
	return s.inner.CreateAccount(ctx, a)
}

func (s *Store) GetAccount(ctx context.Context, id string) (*meta.Account, error) {
	return s.inner.GetAccount(ctx, id)
}

func (s *Store) ListAccounts(ctx context.Context) ([]meta.Account, error) {
	return s.inner.ListAccounts(ctx)
}

func (s *Store) CreateBucket(ctx context.Context, b meta.Bucket) error {
	return s.inner.CreateBucket(ctx, b)
}

func (s *Store) GetBucket(ctx context.Context, name string) (*meta.Bucket, error) {
	return s.inner.GetBucket(ctx, name)
}

func (s *Store) ListBuckets(ctx context.Context) ([]meta.Bucket, error) {
	return s.inner.ListBuckets(ctx)
}

func (s *Store) UpdateBucket(ctx context.Context, b meta.Bucket) error {
	return s.inner.UpdateBucket(ctx, b)
}

func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	return s.inner.DeleteBucket(ctx, name)
}

// PutKey seals k's secret and stores the key.
func (s *Store) PutKey(ctx context.Context, k meta.Key) error {
	v, err := s.kr.Seal(k.AccessKeyID, k.SecretAccessKey)
	if err != nil {
		return err
	}
	k.SecretAccessKey = v
	return s.inner.PutKey(ctx, k)
}

// GetKey returns the key with its secret opened.
func (s *Store) GetKey(ctx context.Context, accessKeyID string) (*meta.Key, error) {
	k, err := s.inner.GetKey(ctx, accessKeyID)
	if err != nil {
		return nil, err
	}
	if k.SecretAccessKey, err = s.kr.Open(k.AccessKeyID, k.SecretAccessKey); err != nil {
		return nil, err
	}
	return k, nil
}

// ListKeys returns the matching keys with their secrets opened; it fails if
// any secret cannot be opened.
func (s *Store) ListKeys(ctx context.Context, f meta.KeyFilter) ([]meta.Key, error) {
	ks, err := s.inner.ListKeys(ctx, f)
	if err != nil {
		return nil, err
	}
	for i := range ks {
		if ks[i].SecretAccessKey, err = s.kr.Open(ks[i].AccessKeyID, ks[i].SecretAccessKey); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

func (s *Store) DeleteKey(ctx context.Context, accessKeyID string) error {
	return s.inner.DeleteKey(ctx, accessKeyID)
}

// UpdateKey opens the secret for fn and seals it again.
func (s *Store) UpdateKey(ctx context.Context, accessKeyID string, fn func(*meta.Key) error) error {
	return s.inner.UpdateKey(ctx, accessKeyID, func(k *meta.Key) error {
		secret, err := s.kr.Open(k.AccessKeyID, k.SecretAccessKey)
		if err != nil {
			return err
		}
		k.SecretAccessKey = secret
		if err := fn(k); err != nil {
			return err
		}
		sealedSecret, err := s.kr.Seal(k.AccessKeyID, k.SecretAccessKey)
		if err != nil {
			return err
		}
		k.SecretAccessKey = sealedSecret
		return nil
	})
}

func (s *Store) TouchKey(ctx context.Context, accessKeyID string, at time.Time) error {
	return s.inner.TouchKey(ctx, accessKeyID, at)
}

func (s *Store) PutObjectACL(ctx context.Context, bucket, key string, a meta.ObjectACL) error {
	return s.inner.PutObjectACL(ctx, bucket, key, a)
}

func (s *Store) GetObjectACL(ctx context.Context, bucket, key string) (*meta.ObjectACL, error) {
	return s.inner.GetObjectACL(ctx, bucket, key)
}

func (s *Store) DeleteObjectACL(ctx context.Context, bucket, key string) error {
	return s.inner.DeleteObjectACL(ctx, bucket, key)
}

func (s *Store) CreateUpload(ctx context.Context, u meta.Upload) error {
	return s.inner.CreateUpload(ctx, u)
}

func (s *Store) GetUpload(ctx context.Context, bucket, uploadID string) (*meta.Upload, error) {
	return s.inner.GetUpload(ctx, bucket, uploadID)
}

func (s *Store) ListUploads(ctx context.Context, bucket string) ([]meta.Upload, error) {
	return s.inner.ListUploads(ctx, bucket)
}

func (s *Store) DeleteUpload(ctx context.Context, bucket, uploadID string) error {
	return s.inner.DeleteUpload(ctx, bucket, uploadID)
}

// Close closes the inner store.
func (s *Store) Close() error { return s.inner.Close() }

// ErrNotSealed is returned by Reseal for a store chain without a sealing
// decorator: secrets are stored as they are.
var ErrNotSealed = errors.New("sealed: the metadata store does not encrypt secrets (no master key configured: set " + EnvMasterKey + ")")

// errUnchanged ends an UpdateKey that has nothing to write.
var errUnchanged = errors.New("sealed: secret already sealed with the primary key")

// ResealResult reports what Reseal did.
type ResealResult struct {
	// PrimaryKeyID is the master key every secret is now sealed with.
	PrimaryKeyID string `json:"primaryKeyId"`
	// Total is the number of keys examined.
	Total int `json:"total"`
	// Resealed counts secrets re-sealed with the primary key, Plaintext
	// those among them that were stored in plaintext before.
	Resealed  int `json:"resealed"`
	Plaintext int `json:"plaintext"`
	// Current counts secrets already sealed with the primary key.
	Current int `json:"current"`
	// Failed lists the keys that could not be re-sealed.
	Failed []ResealFailure `json:"failed"`
}

// ResealFailure names a key Reseal could not re-seal, and why.
type ResealFailure struct {
	AccessKeyID string `json:"accessKeyId"`
	Error       string `json:"error"`
}

// unwrapper is implemented by store decorators (this package's Store,
// keycache.Cache) so Reseal can find the sealing layer in a chain.
type unwrapper interface{ Unwrap() meta.Store }

// Find returns the sealing decorator in a chain of decorators that
// implement Unwrap() meta.Store, or nil when there is none.
func Find(store meta.Store) *Store {
	for store != nil {
		if s, ok := store.(*Store); ok {
			return s
		}
		u, ok := store.(unwrapper)
		if !ok {
			return nil
		}
		store = u.Unwrap()
	}
	return nil
}

// Reseal re-seals every stored secret with the primary master key: secrets
// sealed with a previous key and legacy plaintext secrets. store is the
// sealing decorator or a decorator chain around it (see Find); ErrNotSealed
// when there is none. Keys that cannot be opened (their master key is not in
// the keyring) are listed in the result's Failed and left as they are; the
// error reports only failures to list the keys.
//
// Reseal is safe to run while the gateway serves requests: it changes only
// the stored form of secrets, never their value. Each key is re-read just
// before it is rewritten; a key deleted by another writer in that short
// window would be written back, so do not run Reseal while revoking keys.
// It is idempotent: run it again after a partial failure.
func Reseal(ctx context.Context, store meta.Store) (*ResealResult, error) {
	s := Find(store)
	if s == nil {
		return nil, ErrNotSealed
	}
	return s.Reseal(ctx)
}

// Reseal re-seals every stored secret with the primary key; see the
// package-level Reseal.
func (s *Store) Reseal(ctx context.Context) (*ResealResult, error) {
	ks, err := s.inner.ListKeys(ctx, meta.KeyFilter{})
	if err != nil {
		return nil, fmt.Errorf("sealed: reseal: listing keys: %w", err)
	}
	res := &ResealResult{PrimaryKeyID: s.kr.PrimaryID(), Failed: []ResealFailure{}}
	fail := func(id string, err error) {
		res.Failed = append(res.Failed, ResealFailure{AccessKeyID: id, Error: err.Error()})
	}
	for _, listed := range ks {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.Total++
		// Re-encrypt in place, atomically: a key changed or revoked
		// meanwhile is never written back over.
		var kid string
		current := false
		err := s.inner.UpdateKey(ctx, listed.AccessKeyID, func(k *meta.Key) error {
			secret, id, err := s.kr.open(k.AccessKeyID, k.SecretAccessKey)
			if err != nil {
				return err
			}
			kid, current = id, id == s.kr.PrimaryID()
			if current {
				return errUnchanged
			}
			k.SecretAccessKey, err = s.kr.Seal(k.AccessKeyID, secret)
			return err
		})
		switch {
		case errors.Is(err, meta.ErrNotFound):
			res.Total--
			continue
		case current:
			res.Current++
			continue
		case err != nil:
			fail(listed.AccessKeyID, err)
			continue
		}
		res.Resealed++
		if kid == "" {
			res.Plaintext++
		}
	}
	return res, nil
}
