// Package keycache caches access keys and bucket records in process, so that
// an authenticated request costs no metadata store round trip on a warm
// cache. New wraps any meta.Store; GetKey and GetBucket are cached (found
// records and misses), every other method goes straight to the inner store.
// Bucket records (owner, ACL, CORS, public access block) follow the same
// bound as keys: changes through the cache apply at once locally and are
// published as BucketPrefix+name; elsewhere they apply on the message or
// within TTL.
//
// # Revocation bound
//
// A cached entry lives at most Options.TTL (default 2s). Writes made through
// the cache (PutKey, DeleteKey, DeleteBucket) drop the affected entries at
// once and call Options.Publish so other instances can drop theirs; key IDs
// received on Options.Invalidations are dropped on arrival. Without a
// working invalidation channel, the bound is the TTL:
//
//	a revoked, disabled or deleted key stops working on every instance
//	within TTL of the change (at once on the instance that made it, and on
//	every instance that receives the invalidation).
//
// Expiry needs no invalidation: the caller checks Key.ExpiresAt at use time
// against its own clock, whether the key came from the cache or not. Misses
// are cached too (for NegativeTTL, default TTL), so a new key may take up to
// NegativeTTL to work on an instance that does not receive its
// invalidation.
//
// TouchKey goes to the inner store and updates LastUsedAt of a cached entry
// in place; it is not published (last use is coarse and no instance decides
// access on it).
//
// Import it from the composition root (gateway/app), which wraps the store
// once: keycache.New(sealed.New(store, keyring), opts).
package keycache

import (
	"container/list"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
)

// Defaults of Options.
const (
	DefaultTTL        = 2 * time.Second
	DefaultMaxEntries = 10000
)

// Options configure the cache. A nil *Options means defaults.
type Options struct {
	// TTL bounds how long a found key is served from the cache: the bound
	// on revocation across instances. Default DefaultTTL.
	TTL time.Duration
	// NegativeTTL bounds how long a miss (ErrNotFound) is cached. Default:
	// TTL. A negative value disables caching misses.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache; the least recently used entry is evicted
	// beyond it. Default DefaultMaxEntries.
	MaxEntries int
	// Invalidations delivers access key IDs changed elsewhere (for instance
	// by another instance, through Redis pub/sub); each is dropped from the
	// cache. The cache reads it until it is closed or the cache is closed.
	Invalidations <-chan string
	// Publish is called after a write through the cache changed a key, with
	// that key's ID, so other instances can drop it. It runs synchronously
	// after the inner write succeeded; errors are the callee's business.
	Publish func(ctx context.Context, accessKeyID string)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Cache is the caching decorator. It is safe for concurrent use.
type Cache struct {
	inner   meta.Store
	ttl     time.Duration
	negTTL  time.Duration
	max     int
	now     func() time.Time
	publish func(ctx context.Context, accessKeyID string)

	mu      sync.Mutex
	entries map[string]*list.Element // of *entry
	lru     *list.List               // front: most recently used
	epoch   uint64                   // bumped by every invalidation
	calls   map[string]*call         // in-flight loads by ID+epoch

	// Buckets are cached by name under the same TTL (bucketPrefix+name on
	// the invalidation channel).
	buckets     map[string]bucketEntry
	bucketEpoch uint64

	stop     chan struct{}
	done     chan struct{}
	closeMux sync.Once

	stats Stats
}

// Stats counts what the cache did.
type Stats struct {
	Hits, Misses, Loads, Evictions, Invalidations uint64
}

type entry struct {
	id      string
	key     *meta.Key // nil: cached miss
	expires time.Time
}

type call struct {
	done chan struct{}
	key  *meta.Key
	err  error
}

// Interface guard.
var _ meta.Store = (*Cache)(nil)

// New returns a cache over inner. If opts.Invalidations is set, a goroutine
// reads it until Close.
func New(inner meta.Store, opts *Options) *Cache {
	if inner == nil {
		panic("keycache: New needs a store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	c := &Cache{
		inner: inner, ttl: o.TTL, negTTL: o.NegativeTTL, max: o.MaxEntries, now: o.Now, publish: o.Publish,
		entries: map[string]*list.Element{}, lru: list.New(), calls: map[string]*call{}, buckets: map[string]bucketEntry{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if c.ttl <= 0 {
		c.ttl = DefaultTTL
	}
	if c.negTTL == 0 {
		c.negTTL = c.ttl
	}
	if c.max <= 0 {
		c.max = DefaultMaxEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	if o.Invalidations == nil {
		close(c.done)
	} else {
		go c.listen(o.Invalidations)
	}
	return c
}

func (c *Cache) listen(ch <-chan string) {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case id, ok := <-ch:
			if !ok {
				return
			}
			c.Invalidate(id)
		}
	}
}

// Unwrap returns the inner store.
func (c *Cache) Unwrap() meta.Store { return c.inner }

// Stats returns counters of the cache's activity.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Len returns the number of cached entries (found keys and misses).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Invalidate drops the cached entry of an access key ID, and makes loads
// already in flight not populate the cache with what they read.
func (c *Cache) Invalidate(accessKeyID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name, ok := strings.CutPrefix(accessKeyID, BucketPrefix); ok {
		c.invalidateBucketLocked(name)
		return
	}
	c.invalidateLocked(accessKeyID)
}

func (c *Cache) invalidateLocked(id string) {
	c.epoch++
	c.stats.Invalidations++
	if el, ok := c.entries[id]; ok {
		c.lru.Remove(el)
		delete(c.entries, id)
	}
}

// Purge drops every cached entry.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.stats.Invalidations++
	clear(c.entries)
	c.lru.Init()
	c.bucketEpoch++
	clear(c.buckets)
}

// copyKey returns a deep copy, so callers never share the cached record.
func copyKey(k *meta.Key) *meta.Key {
	cp := *k
	if k.LastUsedAt != nil {
		t := *k.LastUsedAt
		cp.LastUsedAt = &t
	}
	if k.ExpiresAt != nil {
		t := *k.ExpiresAt
		cp.ExpiresAt = &t
	}
	return &cp
}

// GetKey returns the key from the cache, or loads it from the inner store
// (one load for many concurrent callers) and caches the key or the miss.
func (c *Cache) GetKey(ctx context.Context, accessKeyID string) (*meta.Key, error) {
	c.mu.Lock()
	if el, ok := c.entries[accessKeyID]; ok {
		e := el.Value.(*entry)
		if c.now().Before(e.expires) {
			c.lru.MoveToFront(el)
			c.stats.Hits++
			k := e.key
			c.mu.Unlock()
			if k == nil {
				return nil, meta.ErrNotFound
			}
			return copyKey(k), nil
		}
		c.lru.Remove(el)
		delete(c.entries, accessKeyID)
	}
	c.stats.Misses++
	// Loads join only a call started in the same epoch: one that began
	// before an invalidation may return what the invalidation replaced.
	epoch := c.epoch
	flight := accessKeyID + "\x00" + strconv.FormatUint(epoch, 10)
	cl, ok := c.calls[flight]
	if !ok {
		cl = &call{done: make(chan struct{})}
		c.calls[flight] = cl
		c.stats.Loads++
		// The load runs apart from its first caller, whose cancellation
		// must not fail the others waiting for it.
		go c.load(context.WithoutCancel(ctx), accessKeyID, epoch, flight, cl)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if cl.err != nil {
		return nil, cl.err
	}
	return copyKey(cl.key), nil
}

// load reads one key from the inner store and caches the result unless an
// invalidation happened meanwhile.
func (c *Cache) load(ctx context.Context, id string, epoch uint64, flight string, cl *call) {
	k, err := c.inner.GetKey(ctx, id)
	c.mu.Lock()
	delete(c.calls, flight)
	if c.epoch == epoch {
		switch {
		case err == nil:
			c.addLocked(id, copyKey(k), c.ttl)
		case errors.Is(err, meta.ErrNotFound) && c.negTTL > 0:
			c.addLocked(id, nil, c.negTTL)
		}
	}
	if err == nil {
		k = copyKey(k)
	}
	cl.key, cl.err = k, err
	c.mu.Unlock()
	close(cl.done)
}

func (c *Cache) addLocked(id string, k *meta.Key, ttl time.Duration) {
	e := &entry{id: id, key: k, expires: c.now().Add(ttl)}
	if el, ok := c.entries[id]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[id] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.entries, last.Value.(*entry).id)
		c.stats.Evictions++
	}
}

// changed drops ids locally and publishes them.
func (c *Cache) changed(ctx context.Context, ids ...string) {
	c.mu.Lock()
	for _, id := range ids {
		c.invalidateLocked(id)
	}
	c.mu.Unlock()
	if c.publish != nil {
		for _, id := range ids {
			c.publish(ctx, id)
		}
	}
}

// PutKey writes through and invalidates the key everywhere.
func (c *Cache) PutKey(ctx context.Context, k meta.Key) error {
	err := c.inner.PutKey(ctx, k)
	// Invalidate even on error: the write may have landed.
	c.changed(ctx, k.AccessKeyID)
	return err
}

// DeleteKey deletes through and invalidates the key everywhere.
func (c *Cache) DeleteKey(ctx context.Context, accessKeyID string) error {
	err := c.inner.DeleteKey(ctx, accessKeyID)
	c.changed(ctx, accessKeyID)
	return err
}

// UpdateKey changes through and invalidates the key everywhere.
func (c *Cache) UpdateKey(ctx context.Context, accessKeyID string, fn func(*meta.Key) error) error {
	err := c.inner.UpdateKey(ctx, accessKeyID, fn)
	c.changed(ctx, accessKeyID)
	return err
}

// TouchKey records the last use in the inner store and in a cached entry.
func (c *Cache) TouchKey(ctx context.Context, accessKeyID string, at time.Time) error {
	err := c.inner.TouchKey(ctx, accessKeyID, at)
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[accessKeyID]
	switch {
	case !ok:
	case err == nil && el.Value.(*entry).key != nil:
		e := *el.Value.(*entry) // replace, never mutate, what readers may hold
		e.key = copyKey(e.key)
		t := at
		e.key.LastUsedAt = &t
		el.Value = &e
	default:
		c.invalidateLocked(accessKeyID)
	}
	return err
}

// DeleteBucket deletes the bucket (and, in the inner store, its keys) and
// invalidates those keys everywhere.
func (c *Cache) DeleteBucket(ctx context.Context, name string) error {
	// Learn the bucket's keys first: afterwards they are gone.
	ks, listErr := c.inner.ListKeys(ctx, meta.KeyFilter{Bucket: name})
	err := c.inner.DeleteBucket(ctx, name)
	c.bucketChanged(ctx, name)
	ids := make([]string, 0, len(ks))
	for _, k := range ks {
		ids = append(ids, k.AccessKeyID)
	}
	c.mu.Lock()
	for id, el := range c.entries {
		if k := el.Value.(*entry).key; k != nil && k.Bucket == name {
			ids = append(ids, id)
		}
	}
	if listErr != nil {
		// Keys of the bucket may be cached that we cannot name.
		c.epoch++
		clear(c.entries)
		c.lru.Init()
	}
	c.mu.Unlock()
	c.changed(ctx, ids...)
	return err
}

// Close stops reading Options.Invalidations and closes the inner store.
func (c *Cache) Close() error {
	c.closeMux.Do(func() { close(c.stop) })
	<-c.done
	return c.inner.Close()
}

// Methods that only forward.

func (c *Cache) CreateAccount(ctx context.Context, a meta.Account) error {
	return c.inner.CreateAccount(ctx, a)
}

func (c *Cache) GetAccount(ctx context.Context, id string) (*meta.Account, error) {
	return c.inner.GetAccount(ctx, id)
}

func (c *Cache) ListAccounts(ctx context.Context) ([]meta.Account, error) {
	return c.inner.ListAccounts(ctx)
}

func (c *Cache) CreateBucket(ctx context.Context, b meta.Bucket) error {
	err := c.inner.CreateBucket(ctx, b)
	c.bucketChanged(ctx, b.Name)
	return err
}

// GetBucket answers from the cache within the TTL, else from the store.
func (c *Cache) GetBucket(ctx context.Context, name string) (*meta.Bucket, error) {
	c.mu.Lock()
	if e, ok := c.buckets[name]; ok && c.now().Before(e.expires) {
		c.stats.Hits++
		c.mu.Unlock()
		if e.b == nil {
			return nil, meta.ErrNotFound
		}
		return copyBucket(e.b), nil
	}
	epoch := c.bucketEpoch
	c.stats.Misses++
	c.mu.Unlock()
	b, err := c.inner.GetBucket(ctx, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bucketEpoch == epoch {
		switch {
		case err == nil:
			c.addBucketLocked(name, copyBucket(b), c.ttl)
		case errors.Is(err, meta.ErrNotFound) && c.negTTL > 0:
			c.addBucketLocked(name, nil, c.negTTL)
		}
	}
	return b, err
}

func (c *Cache) ListBuckets(ctx context.Context) ([]meta.Bucket, error) {
	return c.inner.ListBuckets(ctx)
}

func (c *Cache) UpdateBucket(ctx context.Context, b meta.Bucket) error {
	defer c.bucketChanged(ctx, b.Name)
	return c.inner.UpdateBucket(ctx, b)
}

// ListKeys reads the inner store (listing is an admin operation).
func (c *Cache) ListKeys(ctx context.Context, f meta.KeyFilter) ([]meta.Key, error) {
	return c.inner.ListKeys(ctx, f)
}

func (c *Cache) PutObjectACL(ctx context.Context, bucket, key string, a meta.ObjectACL) error {
	return c.inner.PutObjectACL(ctx, bucket, key, a)
}

func (c *Cache) GetObjectACL(ctx context.Context, bucket, key string) (*meta.ObjectACL, error) {
	return c.inner.GetObjectACL(ctx, bucket, key)
}

func (c *Cache) DeleteObjectACL(ctx context.Context, bucket, key string) error {
	return c.inner.DeleteObjectACL(ctx, bucket, key)
}

func (c *Cache) CreateUpload(ctx context.Context, u meta.Upload) error {
	return c.inner.CreateUpload(ctx, u)
}

func (c *Cache) GetUpload(ctx context.Context, bucket, uploadID string) (*meta.Upload, error) {
	return c.inner.GetUpload(ctx, bucket, uploadID)
}

func (c *Cache) ListUploads(ctx context.Context, bucket string) ([]meta.Upload, error) {
	return c.inner.ListUploads(ctx, bucket)
}

func (c *Cache) DeleteUpload(ctx context.Context, bucket, uploadID string) error {
	return c.inner.DeleteUpload(ctx, bucket, uploadID)
}

// BucketPrefix marks a bucket name among the IDs of Options.Invalidations
// and Options.Publish (access key IDs never contain ':').
const BucketPrefix = "bucket:"

type bucketEntry struct {
	b       *meta.Bucket // nil: cached miss
	expires time.Time
}

func (c *Cache) invalidateBucketLocked(name string) {
	c.bucketEpoch++
	c.stats.Invalidations++
	delete(c.buckets, name)
}

func (c *Cache) addBucketLocked(name string, b *meta.Bucket, ttl time.Duration) {
	if len(c.buckets) >= c.max {
		clear(c.buckets) // rare: more live buckets than entries allowed
	}
	c.buckets[name] = bucketEntry{b: b, expires: c.now().Add(ttl)}
}

// bucketChanged drops a bucket locally and publishes it.
func (c *Cache) bucketChanged(ctx context.Context, name string) {
	c.mu.Lock()
	c.invalidateBucketLocked(name)
	c.mu.Unlock()
	if c.publish != nil {
		c.publish(ctx, BucketPrefix+name)
	}
}

// copyBucket returns a deep copy of a bucket record.
func copyBucket(b *meta.Bucket) *meta.Bucket {
	cp := *b
	if b.ACL != nil {
		acl := *b.ACL
		acl.Grants = append([]meta.Grant(nil), b.ACL.Grants...)
		cp.ACL = &acl
	}
	if b.CORS != nil {
		cp.CORS = make([]meta.CORSRule, len(b.CORS))
		for i, r := range b.CORS {
			r.AllowedOrigins = append([]string(nil), r.AllowedOrigins...)
			r.AllowedMethods = append([]string(nil), r.AllowedMethods...)
			r.AllowedHeaders = append([]string(nil), r.AllowedHeaders...)
			r.ExposeHeaders = append([]string(nil), r.ExposeHeaders...)
			cp.CORS[i] = r
		}
	}
	if b.PublicAccessBlock != nil {
		p := *b.PublicAccessBlock
		cp.PublicAccessBlock = &p
	}
	return &cp
}
