// Package redisstore is the shared metadata store: a meta.Store in Redis,
// for every deployment with more than one gateway process (several
// `raya serve` instances, Lambda functions). It talks to a single Redis
// server, to a Sentinel-managed master, or to a Redis Cluster, all through
// go-redis v9's UniversalClient. Only the composition root (gateway/app)
// should import this package.
//
// # URL forms
//
// Open takes one URL:
//
//	redis://[[user]:pass@]host[:port][/db]          one server (port 6379, db 0 by default)
//	rediss://[[user]:pass@]host[:port][/db]         the same over TLS
//	redis+sentinel://[[user]:pass@]host[:port][,host[:port]...]/mastername[/db]
//	                                                Sentinel: the hosts are sentinels (port 26379
//	                                                by default), the master is looked up by name
//	redis+cluster://[[user]:pass@]host[:port][,host[:port]...]
//	                                                Redis Cluster: the hosts are seed nodes; the
//	                                                client discovers the others (db must be 0)
//	rediss+sentinel://..., rediss+cluster://...     Sentinel and Cluster over TLS
//
// A user info without a colon is a password ("redis://s3cret@host"), as in
// Redis before ACLs; the credentials are those of the data nodes. Sentinels
// that need their own credentials take them from the query parameters
// sentinel_username and sentinel_password. Other query parameters:
// dial_timeout, read_timeout, write_timeout, pool_timeout (a Go duration such
// as "500ms", or whole seconds), pool_size, max_retries, client_name, and
// skip_verify=true (TLS forms only; for tests). Unknown parameters are an
// error. Options.TLSConfig, when set, replaces the TLS settings of a TLS form
// (for instance to trust a private CA).
//
// # Key layout
//
// Every key of a store carries one hash tag, the key prefix in braces
// (Options.KeyPrefix, "raya" by default):
//
//	{raya}:account:ID            account record (JSON)
//	{raya}:accounts              sorted set of account IDs (all scores 0: byte order)
//	{raya}:bucket:NAME           bucket record (JSON)
//	{raya}:buckets               sorted set of bucket names
//	{raya}:key:ACCESSKEYID       access key record (JSON)
//	{raya}:keys                  sorted set of every access key ID
//	{raya}:keys:bucket:NAME      sorted set of the key IDs scoped to bucket NAME
//	{raya}:keys:account:ID       sorted set of the key IDs of account ID
//	{raya}:upload:BUCKET:ID      multipart upload record (JSON)
//	{raya}:uploads:BUCKET        sorted set of BUCKET's upload IDs
//	{raya}:objacls:BUCKET        hash: object key -> object ACL record (JSON)
//	{raya}:op:RANDOM             a create call's mark for 60s, so a create that go-redis
//	                             retries after a lost reply knows its own record
//
// One hash tag puts the whole namespace in one Redis Cluster slot, so on a
// cluster all of it lives on one master (and its replicas). That is the
// point: creating a bucket, deleting a bucket with its uploads and keys, or
// moving a key between indexes are multi-key operations, and Redis makes
// them atomic (Lua scripts, MULTI/EXEC with WATCH) only within one slot. The
// trade-off is that the metadata does not spread across the cluster's
// masters, so a cluster adds availability but not capacity for it. This
// metadata is small (records of a few hundred bytes: millions fit in a few
// GB) and its hot path is one GET per request, which a single master serves
// comfortably; object bytes never pass through Redis. Deployments that need
// isolation can run several namespaces (different KeyPrefix values), which
// land in different slots.
//
// Bucket names in this store cannot contain ':' (S3 names never do), which
// keeps upload keys unambiguous. Records are JSON; times keep their full
// precision.
//
// # Failures
//
// When Redis cannot be reached, every method returns an error that wraps the
// go-redis or network error; it never reports meta.ErrNotFound or an empty
// result for an outage. go-redis reconnects by itself, so the Store works
// again once Redis is back, without being reopened.
package redisstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cloudraya/raya/gateway/meta"
)

// DefaultKeyPrefix is the key prefix (and hash tag) when Options.KeyPrefix
// is empty.
const DefaultKeyPrefix = "raya"

// maxTxAttempts bounds the optimistic (WATCH) retries of one call. Each retry
// means another client changed a watched key in between; with metadata
// writes being rare this is reached only under pathological contention.
const maxTxAttempts = 100

// mgetChunk bounds the keys of one MGET in a listing.
const mgetChunk = 500

// Options configure Open. The zero value (or nil) means defaults. A
// parameter given in the URL's query wins over the same field here.
type Options struct {
	// KeyPrefix namespaces every key and is its hash tag ("raya" when
	// empty). It must not contain '{' or '}'.
	KeyPrefix string

	// Network timeouts; zero means go-redis's defaults (dial 5s, read and
	// write 3s).
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolTimeout bounds the wait for a free connection (zero: go-redis's
	// default, ReadTimeout + 1s).
	PoolTimeout time.Duration
	// PoolSize is the number of connections per node (zero: 10 per CPU).
	PoolSize int
	// MaxRetries of a failed command (zero: 3; -1: none).
	MaxRetries int

	// TLSConfig replaces the TLS settings of a TLS URL (rediss...). Open
	// rejects it with a plain-text URL rather than silently ignore it.
	TLSConfig *tls.Config
}

// Store is a meta.Store in Redis. It is safe for concurrent use, and any
// number of Stores (in any number of processes) may share one Redis.
type Store struct {
	rdb redis.UniversalClient
	k   keys
}

// Interface guards.
var _ meta.Store = (*Store)(nil)

// Open connects to the Redis the URL names (see the package documentation for
// the forms) and checks that it answers, within ctx. It fails on an invalid
// URL or an unreachable server; after that, outages surface as errors of the
// individual calls.
func Open(ctx context.Context, rawURL string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	prefix := cmp.Or(opts.KeyPrefix, DefaultKeyPrefix)
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redisstore: key prefix %q must not contain '{' or '}'", prefix)
	}
	t, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	o := t.opts
	if opts.TLSConfig != nil {
		if o.TLSConfig == nil {
			return nil, fmt.Errorf("redisstore: Options.TLSConfig is set but the URL %q is not a TLS one (use rediss...)", redact(rawURL))
		}
		o.TLSConfig = opts.TLSConfig.Clone()
	}
	o.DialTimeout = cmp.Or(o.DialTimeout, opts.DialTimeout)
	o.ReadTimeout = cmp.Or(o.ReadTimeout, opts.ReadTimeout)
	o.WriteTimeout = cmp.Or(o.WriteTimeout, opts.WriteTimeout)
	o.PoolTimeout = cmp.Or(o.PoolTimeout, opts.PoolTimeout)
	o.PoolSize = cmp.Or(o.PoolSize, opts.PoolSize)
	o.MaxRetries = cmp.Or(o.MaxRetries, opts.MaxRetries)
	o.ClientName = cmp.Or(o.ClientName, "raya")
	// A caller's deadline or cancellation bounds the Redis call too.
	o.ContextTimeoutEnabled = true

	s := &Store{rdb: redis.NewUniversalClient(o), k: newKeys(prefix)}
	if err := s.Ping(ctx); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("redisstore: %s Redis at %s: %w", t.kind, strings.Join(o.Addrs, ","), err)
	}
	return s, nil
}

// Ping checks that Redis answers (for readiness probes).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// Close closes the connections. Calls after Close fail.
func (s *Store) Close() error { return s.rdb.Close() }

// keys builds the key names; see the package documentation.
type keys struct{ ns string }

func newKeys(prefix string) keys { return keys{ns: "{" + prefix + "}:"} }

func (k keys) account(id string) string         { return k.ns + "account:" + id }
func (k keys) accounts() string                 { return k.ns + "accounts" }
func (k keys) bucket(name string) string        { return k.ns + "bucket:" + name }
func (k keys) buckets() string                  { return k.ns + "buckets" }
func (k keys) key(id string) string             { return k.ns + "key:" + id }
func (k keys) keys() string                     { return k.ns + "keys" }
func (k keys) keysOfBucket(b string) string     { return k.ns + "keys:bucket:" + b }
func (k keys) keysOfAccount(a string) string    { return k.ns + "keys:account:" + a }
func (k keys) op(id string) string              { return k.ns + "op:" + id }
func (k keys) upload(bucket, id string) string  { return k.ns + "upload:" + bucket + ":" + id }
func (k keys) uploads(bucket string) string     { return k.ns + "uploads:" + bucket }
func (k keys) objectACLs(bucket string) string  { return k.ns + "objacls:" + bucket }
func (k keys) keyIndexes(rec keyIndex) []string { return k.keyIndexesOf(rec.Bucket, rec.Account) }

func (k keys) keyIndexesOf(bucket, account string) []string {
	var out []string
	if bucket != "" {
		out = append(out, k.keysOfBucket(bucket))
	}
	if account != "" {
		out = append(out, k.keysOfAccount(account))
	}
	return out
}

// keyIndex is the part of a key record that decides its indexes.
type keyIndex struct {
	Bucket  string `json:"bucket"`
	Account string `json:"account"`
}

// Scripts. Every key a script touches is passed in KEYS, so they run
// unchanged on a cluster (all keys share the namespace's slot).

// createScript writes KEYS[1] = ARGV[1] unless it exists, marks the call
// done in KEYS[2] for ARGV[3] seconds, and adds ARGV[2] to the index sorted
// sets KEYS[3..]. Returns 1 when created (now, or by an earlier run of the
// same call), 0 when the record is someone else's.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('EXISTS', KEYS[2])
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
for i = 3, #KEYS do redis.call('ZADD', KEYS[i], 0, ARGV[2]) end
return 1
`)

// opTTL is how long a create call's mark (see create) lives: far longer than
// go-redis's retries of one command.
const opTTL = 60 // seconds

// deleteScript deletes KEYS[1] and removes ARGV[1] from the index sorted
// sets KEYS[2..]. Returns 1 when deleted, 0 when absent.
var deleteScript = redis.NewScript(`
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
`)

// Helpers.

func wrap(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

func encode(what string, rec any) ([]byte, error) {
	v, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encode %s: %w", what, err)
	}
	return v, nil
}

func get[T any](ctx context.Context, s *Store, key, what, id string) (*T, error) {
	v, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%s %q: %w", what, id, meta.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get "+what+" "+strconv.Quote(id), err)
	}
	var rec T
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("redisstore: decode %s %q: %w", what, id, err)
	}
	return &rec, nil
}

// create runs createScript for a record and its indexes; id names the record
// in errors, member is its entry in the indexes.
//
// go-redis retries a command whose connection failed before the reply came
// (MaxRetries), so the script may run twice for one call, and the second run
// would find the first one's record and report it taken. Each call
// therefore carries a random ID, and the script leaves a short-lived mark
// {prefix}:op:ID next to the record it creates: a retry that finds its own
// mark reports success, a rival never does.
func (s *Store) create(ctx context.Context, what, id, member, key string, rec any, indexes ...string) error {
	v, err := encode(what, rec)
	if err != nil {
		return err
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	ks := append([]string{key, s.k.op(hex.EncodeToString(nonce[:]))}, indexes...)
	n, err := createScript.Run(ctx, s.rdb, ks, v, member, opTTL).Int()
	if err != nil {
		return wrap("create "+what+" "+strconv.Quote(id), err)
	}
	if n == 0 {
		return fmt.Errorf("%s %q: %w", what, id, meta.ErrExists)
	}
	return nil
}

// remove runs deleteScript for a record and its indexes.
func (s *Store) remove(ctx context.Context, what, id, member, key string, indexes ...string) error {
	n, err := deleteScript.Run(ctx, s.rdb, append([]string{key}, indexes...), member).Int()
	if err != nil {
		return wrap("delete "+what+" "+strconv.Quote(id), err)
	}
	if n == 0 {
		return fmt.Errorf("%s %q: %w", what, id, meta.ErrNotFound)
	}
	return nil
}

// list reads the members of an index and their records (recordKey maps a
// member to its key). A member whose record is gone by the time of the MGET
// was deleted in between and is skipped: records and indexes only ever
// change together.
func list[T any](ctx context.Context, s *Store, index, what string, recordKey func(string) string) ([]T, error) {
	ids, err := s.rdb.ZRange(ctx, index, 0, -1).Result()
	if err != nil {
		return nil, wrap("list "+what+"s", err)
	}
	out := make([]T, 0, len(ids))
	for chunk := range slices.Chunk(ids, mgetChunk) {
		ks := make([]string, len(chunk))
		for i, id := range chunk {
			ks[i] = recordKey(id)
		}
		vs, err := s.rdb.MGet(ctx, ks...).Result()
		if err != nil {
			return nil, wrap("list "+what+"s", err)
		}
		for i, v := range vs {
			str, ok := v.(string)
			if !ok {
				continue // nil: deleted since the ZRANGE
			}
			var rec T
			if err := json.Unmarshal([]byte(str), &rec); err != nil {
				return nil, fmt.Errorf("redisstore: decode %s %q: %w", what, chunk[i], err)
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

// watch runs fn in an optimistic transaction over the watched keys, retrying
// when another client changed one of them before EXEC. fn wraps its own
// errors; those of WATCH itself (say, Redis is down) are wrapped here.
func (s *Store) watch(ctx context.Context, op string, fn func(*redis.Tx) error, watched ...string) error {
	for attempt := 0; attempt < maxTxAttempts; attempt++ {
		var fnErr error
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			fnErr = fn(tx)
			return fnErr
		}, watched...)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, redis.TxFailedErr):
		case err == fnErr:
			return err
		default:
			return wrap(op, err)
		}
		// Back off a little, more with each conflict.
		select {
		case <-ctx.Done():
			return wrap(op, ctx.Err())
		case <-time.After(time.Duration(attempt+1) * time.Millisecond):
		}
	}
	return fmt.Errorf("redisstore: %s: gave up after %d conflicting concurrent updates", op, maxTxAttempts)
}

func required(what, v string) error {
	if v == "" {
		return fmt.Errorf("redisstore: empty %s", what)
	}
	return nil
}

func validBucket(name string) error {
	if err := required("bucket name", name); err != nil {
		return err
	}
	if strings.IndexByte(name, ':') >= 0 {
		return fmt.Errorf("redisstore: bucket name %q contains ':'", name)
	}
	return nil
}

// Accounts.

// CreateAccount implements meta.Store.
func (s *Store) CreateAccount(ctx context.Context, a meta.Account) error {
	if err := required("account ID", a.ID); err != nil {
		return err
	}
	return s.create(ctx, "account", a.ID, a.ID, s.k.account(a.ID), a, s.k.accounts())
}

// GetAccount implements meta.Store.
func (s *Store) GetAccount(ctx context.Context, id string) (*meta.Account, error) {
	return get[meta.Account](ctx, s, s.k.account(id), "account", id)
}

// ListAccounts implements meta.Store.
func (s *Store) ListAccounts(ctx context.Context) ([]meta.Account, error) {
	return list[meta.Account](ctx, s, s.k.accounts(), "account", s.k.account)
}

// Buckets.

// CreateBucket implements meta.Store: one Lua script checks the name and
// writes the record and the index, atomically for every client of this Redis.
func (s *Store) CreateBucket(ctx context.Context, b meta.Bucket) error {
	if err := validBucket(b.Name); err != nil {
		return err
	}
	return s.create(ctx, "bucket", b.Name, b.Name, s.k.bucket(b.Name), b, s.k.buckets())
}

// GetBucket implements meta.Store.
func (s *Store) GetBucket(ctx context.Context, name string) (*meta.Bucket, error) {
	return get[meta.Bucket](ctx, s, s.k.bucket(name), "bucket", name)
}

// ListBuckets implements meta.Store.
func (s *Store) ListBuckets(ctx context.Context) ([]meta.Bucket, error) {
	return list[meta.Bucket](ctx, s, s.k.buckets(), "bucket", s.k.bucket)
}

// UpdateBucket implements meta.Store: SET XX replaces the record only if it
// exists, in one command.
func (s *Store) UpdateBucket(ctx context.Context, b meta.Bucket) error {
	v, err := encode("bucket", b)
	if err != nil {
		return err
	}
	ok, err := s.rdb.SetXX(ctx, s.k.bucket(b.Name), v, redis.KeepTTL).Result()
	if err != nil {
		return wrap("update bucket "+strconv.Quote(b.Name), err)
	}
	if !ok {
		return fmt.Errorf("bucket %q: %w", b.Name, meta.ErrNotFound)
	}
	return nil
}

// DeleteBucket implements meta.Store: the bucket, its upload records, its
// object ACLs and the keys scoped to it go in one MULTI/EXEC. The bucket record, its upload index,
// its key index and the key records are watched, so an upload or key added or
// moved concurrently is either deleted too or makes the transaction retry.
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	bk, uk, kk := s.k.bucket(name), s.k.uploads(name), s.k.keysOfBucket(name)
	return s.watch(ctx, "delete bucket "+strconv.Quote(name), func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, bk).Result()
		if err != nil {
			return wrap("delete bucket "+strconv.Quote(name), err)
		}
		if n == 0 {
			return fmt.Errorf("bucket %q: %w", name, meta.ErrNotFound)
		}
		uploadIDs, err := tx.ZRange(ctx, uk, 0, -1).Result()
		if err != nil {
			return wrap("delete bucket "+strconv.Quote(name), err)
		}
		keyIDs, err := tx.ZRange(ctx, kk, 0, -1).Result()
		if err != nil {
			return wrap("delete bucket "+strconv.Quote(name), err)
		}
		// The key records name the account index each key is in.
		recKeys := make([]string, len(keyIDs))
		for i, id := range keyIDs {
			recKeys[i] = s.k.key(id)
		}
		var accounts []string
		if len(recKeys) > 0 {
			if err := tx.Watch(ctx, recKeys...).Err(); err != nil {
				return wrap("delete bucket "+strconv.Quote(name), err)
			}
			vs, err := tx.MGet(ctx, recKeys...).Result()
			if err != nil {
				return wrap("delete bucket "+strconv.Quote(name), err)
			}
			accounts = make([]string, len(vs))
			for i, v := range vs {
				if str, ok := v.(string); ok {
					var rec keyIndex
					if err := json.Unmarshal([]byte(str), &rec); err != nil {
						return fmt.Errorf("redisstore: decode key %q: %w", keyIDs[i], err)
					}
					accounts[i] = rec.Account
				}
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, bk)
			p.ZRem(ctx, s.k.buckets(), name)
			for chunk := range slices.Chunk(uploadIDs, mgetChunk) {
				ks := make([]string, len(chunk))
				for i, id := range chunk {
					ks[i] = s.k.upload(name, id)
				}
				p.Del(ctx, ks...)
			}
			p.Del(ctx, uk)
			p.Unlink(ctx, s.k.objectACLs(name))
			for i, id := range keyIDs {
				p.Del(ctx, recKeys[i])
				p.ZRem(ctx, s.k.keys(), id)
				if accounts[i] != "" {
					p.ZRem(ctx, s.k.keysOfAccount(accounts[i]), id)
				}
			}
			p.Del(ctx, kk)
			return nil
		})
		if err != nil && !errors.Is(err, redis.TxFailedErr) {
			return wrap("delete bucket "+strconv.Quote(name), err)
		}
		return err
	}, bk, uk, kk)
}

// Keys.

// PutKey implements meta.Store. Replacing a key moves it between the bucket
// and account indexes in the same transaction as the record.
func (s *Store) PutKey(ctx context.Context, k meta.Key) error {
	if err := required("access key ID", k.AccessKeyID); err != nil {
		return err
	}
	v, err := encode("key", k)
	if err != nil {
		return err
	}
	op := "put key " + strconv.Quote(k.AccessKeyID)
	rk := s.k.key(k.AccessKeyID)
	return s.watch(ctx, op, func(tx *redis.Tx) error {
		old, err := tx.Get(ctx, rk).Bytes()
		if err != nil && !errors.Is(err, redis.Nil) {
			return wrap(op, err)
		}
		var stale []string
		if err == nil {
			var rec keyIndex
			if err := json.Unmarshal(old, &rec); err != nil {
				return fmt.Errorf("redisstore: decode key %q: %w", k.AccessKeyID, err)
			}
			stale = s.k.keyIndexes(rec)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, idx := range stale {
				p.ZRem(ctx, idx, k.AccessKeyID)
			}
			p.Set(ctx, rk, v, 0)
			p.ZAdd(ctx, s.k.keys(), redis.Z{Member: k.AccessKeyID})
			for _, idx := range s.k.keyIndexesOf(k.Bucket, k.Account) {
				p.ZAdd(ctx, idx, redis.Z{Member: k.AccessKeyID})
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.TxFailedErr) {
			return wrap(op, err)
		}
		return err
	}, rk)
}

// GetKey implements meta.Store.
func (s *Store) GetKey(ctx context.Context, accessKeyID string) (*meta.Key, error) {
	return get[meta.Key](ctx, s, s.k.key(accessKeyID), "key", accessKeyID)
}

// ListKeys implements meta.Store. A bucket or account filter reads that
// index only, not every key.
func (s *Store) ListKeys(ctx context.Context, f meta.KeyFilter) ([]meta.Key, error) {
	index := s.k.keys()
	switch {
	case f.Bucket != "":
		index = s.k.keysOfBucket(f.Bucket)
	case f.Account != "":
		index = s.k.keysOfAccount(f.Account)
	}
	ks, err := list[meta.Key](ctx, s, index, "key", s.k.key)
	if err != nil {
		return nil, err
	}
	// The index already matches; this drops a record replaced (and moved to
	// other indexes) between the ZRANGE and the MGET, and applies the second
	// filter when both are set.
	return slices.DeleteFunc(ks, func(k meta.Key) bool {
		return (f.Bucket != "" && k.Bucket != f.Bucket) || (f.Account != "" && k.Account != f.Account)
	}), nil
}

// DeleteKey implements meta.Store (meta.ErrNotFound when absent).
func (s *Store) DeleteKey(ctx context.Context, accessKeyID string) error {
	op := "delete key " + strconv.Quote(accessKeyID)
	rk := s.k.key(accessKeyID)
	return s.watch(ctx, op, func(tx *redis.Tx) error {
		old, err := tx.Get(ctx, rk).Bytes()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("key %q: %w", accessKeyID, meta.ErrNotFound)
		}
		if err != nil {
			return wrap(op, err)
		}
		var rec keyIndex
		if err := json.Unmarshal(old, &rec); err != nil {
			return fmt.Errorf("redisstore: decode key %q: %w", accessKeyID, err)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, rk)
			p.ZRem(ctx, s.k.keys(), accessKeyID)
			for _, idx := range s.k.keyIndexes(rec) {
				p.ZRem(ctx, idx, accessKeyID)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.TxFailedErr) {
			return wrap(op, err)
		}
		return err
	}, rk)
}

// TouchKey implements meta.Store: it rewrites the record with the new
// LastUsedAt in a WATCHed transaction, so a concurrent PutKey is never
// overwritten by a stale copy.
func (s *Store) TouchKey(ctx context.Context, accessKeyID string, at time.Time) error {
	return s.updateKey(ctx, "touch key", accessKeyID, func(k *meta.Key) error {
		at := at.UTC()
		k.LastUsedAt = &at
		return nil
	})
}

// UpdateKey implements meta.Store with WATCH/MULTI: fn reruns on a
// conflicting write.
func (s *Store) UpdateKey(ctx context.Context, accessKeyID string, fn func(*meta.Key) error) error {
	return s.updateKey(ctx, "update key", accessKeyID, fn)
}

func (s *Store) updateKey(ctx context.Context, verb, accessKeyID string, fn func(*meta.Key) error) error {
	op := verb + " " + strconv.Quote(accessKeyID)
	rk := s.k.key(accessKeyID)
	return s.watch(ctx, op, func(tx *redis.Tx) error {
		old, err := tx.Get(ctx, rk).Bytes()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("key %q: %w", accessKeyID, meta.ErrNotFound)
		}
		if err != nil {
			return wrap(op, err)
		}
		var k meta.Key
		if err := json.Unmarshal(old, &k); err != nil {
			return fmt.Errorf("redisstore: decode key %q: %w", accessKeyID, err)
		}
		id, bucket, account := k.AccessKeyID, k.Bucket, k.Account
		if err := fn(&k); err != nil {
			return err
		}
		if k.AccessKeyID != id || k.Bucket != bucket || k.Account != account {
			return meta.ErrImmutable
		}
		v, err := encode("key", k)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, rk, v, 0)
			return nil
		})
		if err != nil && !errors.Is(err, redis.TxFailedErr) {
			return wrap(op, err)
		}
		return err
	}, rk)
}

// Object ACLs: one hash per bucket, so DeleteBucket drops them all at once.

// PutObjectACL implements meta.Store.
func (s *Store) PutObjectACL(ctx context.Context, bucket, key string, a meta.ObjectACL) error {
	if err := validBucket(bucket); err != nil {
		return err
	}
	v, err := encode("object ACL", a)
	if err != nil {
		return err
	}
	if err := s.rdb.HSet(ctx, s.k.objectACLs(bucket), key, v).Err(); err != nil {
		return wrap("put object ACL "+strconv.Quote(bucket+"/"+key), err)
	}
	return nil
}

// GetObjectACL implements meta.Store.
func (s *Store) GetObjectACL(ctx context.Context, bucket, key string) (*meta.ObjectACL, error) {
	id := bucket + "/" + key
	v, err := s.rdb.HGet(ctx, s.k.objectACLs(bucket), key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("object ACL %q: %w", id, meta.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get object ACL "+strconv.Quote(id), err)
	}
	var a meta.ObjectACL
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, fmt.Errorf("redisstore: decode object ACL %q: %w", id, err)
	}
	return &a, nil
}

// DeleteObjectACL implements meta.Store; a missing record is not an error.
func (s *Store) DeleteObjectACL(ctx context.Context, bucket, key string) error {
	if err := s.rdb.HDel(ctx, s.k.objectACLs(bucket), key).Err(); err != nil {
		return wrap("delete object ACL "+strconv.Quote(bucket+"/"+key), err)
	}
	return nil
}

// Uploads.

// CreateUpload implements meta.Store.
func (s *Store) CreateUpload(ctx context.Context, u meta.Upload) error {
	if err := validBucket(u.Bucket); err != nil {
		return err
	}
	if err := required("upload ID", u.UploadID); err != nil {
		return err
	}
	return s.create(ctx, "upload", u.Bucket+"/"+u.UploadID, u.UploadID, s.k.upload(u.Bucket, u.UploadID), u, s.k.uploads(u.Bucket))
}

// GetUpload implements meta.Store.
func (s *Store) GetUpload(ctx context.Context, bucket, uploadID string) (*meta.Upload, error) {
	if strings.IndexByte(bucket, ':') >= 0 {
		return nil, fmt.Errorf("upload %q: %w", bucket+"/"+uploadID, meta.ErrNotFound)
	}
	return get[meta.Upload](ctx, s, s.k.upload(bucket, uploadID), "upload", bucket+"/"+uploadID)
}

// ListUploads implements meta.Store: ordered by key, then initiation time,
// then upload ID.
func (s *Store) ListUploads(ctx context.Context, bucket string) ([]meta.Upload, error) {
	if strings.IndexByte(bucket, ':') >= 0 {
		return nil, nil // no bucket has such a name
	}
	us, err := list[meta.Upload](ctx, s, s.k.uploads(bucket), "upload",
		func(id string) string { return s.k.upload(bucket, id) })
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
	if strings.IndexByte(bucket, ':') >= 0 {
		return fmt.Errorf("upload %q: %w", bucket+"/"+uploadID, meta.ErrNotFound)
	}
	return s.remove(ctx, "upload", bucket+"/"+uploadID, uploadID, s.k.upload(bucket, uploadID), s.k.uploads(bucket))
}
