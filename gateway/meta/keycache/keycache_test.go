package keycache_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/boltstore"
	"github.com/cloudraya/raya/gateway/meta/keycache"
	"github.com/cloudraya/raya/gateway/meta/metatest"
)

func openBolt(t *testing.T) meta.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "meta.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store { return keycache.New(openBolt(t), nil) })
}

// counting counts GetKey calls reaching the inner store and can hold them
// at a gate.
type counting struct {
	meta.Store
	gets atomic.Int64
	gate chan struct{} // when non-nil, GetKey waits for it
	in   chan struct{} // when non-nil, GetKey signals entry
}

func (c *counting) GetKey(ctx context.Context, id string) (*meta.Key, error) {
	c.gets.Add(1)
	if c.in != nil {
		c.in <- struct{}{}
	}
	if c.gate != nil {
		<-c.gate
	}
	return c.Store.GetKey(ctx, id)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var ctx = context.Background()

func newKey(id, bucket string) meta.Key {
	return meta.Key{AccessKeyID: id, SecretAccessKey: "secret-" + id, Account: strings.Repeat("a", 64), Bucket: bucket,
		Status: meta.KeyActive, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func setup(t *testing.T, opts *keycache.Options) (*keycache.Cache, *counting, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	inner := &counting{Store: openBolt(t)}
	if opts == nil {
		opts = &keycache.Options{}
	}
	opts.Now = clk.Now
	c := keycache.New(inner, opts)
	t.Cleanup(func() { c.Close() })
	return c, inner, clk
}

func mustGet(t *testing.T, s meta.Store, id string) *meta.Key {
	t.Helper()
	k, err := s.GetKey(ctx, id)
	if err != nil {
		t.Fatalf("GetKey(%s): %v", id, err)
	}
	return k
}

func TestWarmCacheCostsNoRoundTrip(t *testing.T) {
	c, inner, clk := setup(t, nil)
	if err := inner.Store.PutKey(ctx, newKey("RYA", "b")); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if k := mustGet(t, c, "RYA"); k.SecretAccessKey != "secret-RYA" {
			t.Fatalf("got %+v", k)
		}
	}
	if n := inner.gets.Load(); n != 1 {
		t.Errorf("100 lookups made %d store round trips, want 1", n)
	}
	// Just before the TTL: still cached; at the TTL: reloaded.
	clk.Add(keycache.DefaultTTL - time.Nanosecond)
	mustGet(t, c, "RYA")
	if n := inner.gets.Load(); n != 1 {
		t.Errorf("before TTL: %d round trips", n)
	}
	clk.Add(time.Nanosecond)
	mustGet(t, c, "RYA")
	if n := inner.gets.Load(); n != 2 {
		t.Errorf("at TTL: %d round trips, want 2", n)
	}
	if st := c.Stats(); st.Hits != 100 || st.Loads != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestRevocationElsewhereBoundedByTTL(t *testing.T) {
	c, inner, clk := setup(t, &keycache.Options{TTL: 5 * time.Second})
	if err := inner.Store.PutKey(ctx, newKey("RYA", "b")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "RYA")
	// Another instance disables the key (behind this cache's back).
	k := newKey("RYA", "b")
	k.Status = meta.KeyInactive
	if err := inner.Store.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	clk.Add(4 * time.Second)
	if got := mustGet(t, c, "RYA"); got.Status != meta.KeyActive {
		t.Errorf("within TTL the cached key is served (status %s)", got.Status)
	}
	clk.Add(time.Second)
	if got := mustGet(t, c, "RYA"); got.Status != meta.KeyInactive {
		t.Errorf("after TTL the key is still %s", got.Status)
	}
}

func TestMissesAreCached(t *testing.T) {
	c, inner, clk := setup(t, &keycache.Options{TTL: 10 * time.Second, NegativeTTL: time.Second})
	for range 5 {
		if _, err := c.GetKey(ctx, "RYNOPE"); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	}
	if n := inner.gets.Load(); n != 1 {
		t.Errorf("5 misses made %d round trips", n)
	}
	// Created elsewhere: visible after NegativeTTL.
	if err := inner.Store.PutKey(ctx, newKey("RYNOPE", "b")); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	mustGet(t, c, "RYNOPE")

	// Disabled negative caching.
	c2, inner2, _ := setup(t, &keycache.Options{NegativeTTL: -1})
	c2.GetKey(ctx, "RYNOPE")
	c2.GetKey(ctx, "RYNOPE")
	if n := inner2.gets.Load(); n != 2 {
		t.Errorf("NegativeTTL<0: %d round trips, want 2", n)
	}
}

func TestWritesInvalidateAndPublish(t *testing.T) {
	var (
		mu        sync.Mutex
		published []string
	)
	c, inner, _ := setup(t, &keycache.Options{TTL: time.Hour, Publish: func(_ context.Context, id string) {
		mu.Lock()
		published = append(published, id)
		mu.Unlock()
	}})

	// A miss, then a PutKey through the cache: the new key works at once.
	if _, err := c.GetKey(ctx, "RYA"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatal(err)
	}
	if err := c.PutKey(ctx, newKey("RYA", "photos")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "RYA")

	// Disable through the cache: seen at once.
	k := newKey("RYA", "photos")
	k.Status = meta.KeyInactive
	if err := c.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, c, "RYA"); got.Status != meta.KeyInactive {
		t.Errorf("after disabling: %s", got.Status)
	}

	// Delete through the cache: gone at once.
	if err := c.DeleteKey(ctx, "RYA"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetKey(ctx, "RYA"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}

	// Deleting a bucket drops its keys (cached or not) and publishes them.
	for _, id := range []string{"RYB1", "RYB2"} {
		if err := c.PutKey(ctx, newKey(id, "photos")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PutKey(ctx, newKey("RYOTHER", "other")); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket(ctx, meta.Bucket{Name: "photos", Owner: strings.Repeat("a", 64), Backend: "local"}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "RYB1")
	mustGet(t, c, "RYOTHER")
	mu.Lock()
	published = nil
	mu.Unlock()
	before := inner.gets.Load()
	if err := c.DeleteBucket(ctx, "photos"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"RYB1", "RYB2"} {
		if _, err := c.GetKey(ctx, id); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("%s after DeleteBucket: %v", id, err)
		}
	}
	mustGet(t, c, "RYOTHER")
	if n := inner.gets.Load() - before; n != 2 {
		t.Errorf("after DeleteBucket: %d round trips, want 2 (RYOTHER stays cached)", n)
	}
	mu.Lock()
	got := slices.Clone(published)
	mu.Unlock()
	slices.Sort(got)
	got = slices.Compact(got)
	if !slices.Equal(got, []string{"RYB1", "RYB2", "bucket:photos"}) {
		t.Errorf("published %v after DeleteBucket", got)
	}
}

func TestTouchKeyUpdatesCachedEntry(t *testing.T) {
	var published atomic.Int64
	c, inner, _ := setup(t, &keycache.Options{TTL: time.Hour, Publish: func(context.Context, string) { published.Add(1) }})
	if err := inner.Store.PutKey(ctx, newKey("RYA", "b")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "RYA")
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := c.TouchKey(ctx, "RYA", at); err != nil {
		t.Fatal(err)
	}
	k := mustGet(t, c, "RYA")
	if k.LastUsedAt == nil || !k.LastUsedAt.Equal(at) {
		t.Errorf("LastUsedAt %v, want %v", k.LastUsedAt, at)
	}
	if n := inner.gets.Load(); n != 1 {
		t.Errorf("TouchKey cost a reload: %d round trips", n)
	}
	if published.Load() != 0 {
		t.Error("TouchKey was published")
	}
	if err := c.TouchKey(ctx, "RYNOPE", at); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("TouchKey missing: %v", err)
	}
}

func TestInvalidationChannel(t *testing.T) {
	inv := make(chan string)
	c, inner, _ := setup(t, &keycache.Options{TTL: time.Hour, Invalidations: inv})
	if err := inner.Store.PutKey(ctx, newKey("RYA", "b")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "RYA")
	// Another instance revokes the key and publishes its ID.
	if err := inner.Store.DeleteKey(ctx, "RYA"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetKey(ctx, "RYA"); err != nil {
		t.Fatalf("before the invalidation the cached key is served: %v", err)
	}
	inv <- "RYA"
	inv <- "RYUNKNOWN" // the unbuffered send returns once the first was taken
	if _, err := c.GetKey(ctx, "RYA"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("after the invalidation: %v", err)
	}
	// Close stops the listener even though the channel stays open.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err == nil {
		t.Log("second Close returns the inner store's answer") // bbolt: no error
	}
}

func TestInvalidationChannelClosed(t *testing.T) {
	inv := make(chan string)
	c, _, _ := setup(t, &keycache.Options{Invalidations: inv})
	close(inv)
	done := make(chan error)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs after the invalidation channel closed")
	}
}

func TestSingleflight(t *testing.T) {
	c, inner, _ := setup(t, nil)
	if err := inner.Store.PutKey(ctx, newKey("RYA", "b")); err != nil {
		t.Fatal(err)
	}
	inner.gate = make(chan struct{})
	inner.in = make(chan struct{}, 100)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			k, err := c.GetKey(ctx, "RYA")
			if err == nil && k.SecretAccessKey != "secret-RYA" {
				err = fmt.Errorf("got %+v", k)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	<-inner.in // one load is in the store; give the others time to join it
	for c.Stats().Misses < n {
		time.Sleep(time.Millisecond)
	}
	close(inner.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := inner.gets.Load(); got != 1 {
		t.Errorf("%d concurrent misses made %d round trips, want 1", n, got)
	}
}

func TestCancelledWaiterDoesNotFailOthers(t *testing.T) {
	c, inner, _ := setup(t, nil)
	if err := inner.Store.PutKey(ctx, newKey("RYA", "b")); err != nil {
		t.Fatal(err)
	}
	inner.gate = make(chan struct{})
	inner.in = make(chan struct{}, 10)
	cctx, cancel := context.WithCancel(ctx)
	first := make(chan error)
	go func() { _, err := c.GetKey(cctx, "RYA"); first <- err }()
	<-inner.in
	second := make(chan error)
	go func() { _, err := c.GetKey(ctx, "RYA"); second <- err }()
	for c.Stats().Misses < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
	close(inner.gate)
	if err := <-second; err != nil {
		t.Errorf("the other caller failed: %v", err)
	}
}

// A load that started before a write must not put the old record in the
// cache after the write invalidated it.
func TestLoadRacingWriteDoesNotCacheStale(t *testing.T) {
	c, inner, _ := setup(t, &keycache.Options{TTL: time.Hour})
	if err := inner.Store.PutKey(ctx, newKey("RYA", "b")); err != nil {
		t.Fatal(err)
	}
	done := make(chan *meta.Key)
	// A load in flight while a write happens.
	inner.gate = make(chan struct{})
	inner.in = make(chan struct{}, 10)
	go func() { k, _ := c.GetKey(ctx, "RYA"); done <- k }()
	<-inner.in
	k := newKey("RYA", "b")
	k.Status = meta.KeyInactive
	// Write while the load waits at the gate; the load then reads the new
	// record, but what matters is the epoch: nothing it read is cached.
	if err := c.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	close(inner.gate)
	<-done
	inner.gate, inner.in = nil, nil
	before := inner.gets.Load()
	if got := mustGet(t, c, "RYA"); got.Status != meta.KeyInactive {
		t.Errorf("status %s after the write", got.Status)
	}
	if inner.gets.Load() != before+1 {
		t.Error("a load that raced a write populated the cache")
	}
}

func TestEviction(t *testing.T) {
	c, inner, _ := setup(t, &keycache.Options{MaxEntries: 3, TTL: time.Hour})
	for i := range 5 {
		if err := inner.Store.PutKey(ctx, newKey(fmt.Sprintf("RY%d", i), "b")); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"RY0", "RY1", "RY2", "RY0", "RY3"} { // RY1 is least recently used
		mustGet(t, c, id)
	}
	if c.Len() != 3 || c.Stats().Evictions != 1 {
		t.Fatalf("len %d, stats %+v", c.Len(), c.Stats())
	}
	before := inner.gets.Load()
	mustGet(t, c, "RY0")
	mustGet(t, c, "RY3")
	if inner.gets.Load() != before {
		t.Error("recently used entries were evicted")
	}
	mustGet(t, c, "RY1")
	if inner.gets.Load() != before+1 {
		t.Error("the least recently used entry was not evicted")
	}
}

func TestReturnedKeysAreCopies(t *testing.T) {
	c, inner, _ := setup(t, &keycache.Options{TTL: time.Hour})
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	k := newKey("RYA", "b")
	k.ExpiresAt = &exp
	if err := inner.Store.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	a := mustGet(t, c, "RYA")
	a.Status = meta.KeyInactive
	*a.ExpiresAt = time.Time{}
	b := mustGet(t, c, "RYA")
	if b.Status != meta.KeyActive || !b.ExpiresAt.Equal(exp) {
		t.Errorf("a caller's change reached the cache: %+v", b)
	}
}

func TestConcurrentUse(t *testing.T) {
	inv := make(chan string, 100)
	c, inner, _ := setup(t, &keycache.Options{MaxEntries: 8, Invalidations: inv, Publish: func(_ context.Context, id string) {
		select {
		case inv <- id:
		default:
		}
	}})
	for i := range 16 {
		if err := inner.Store.PutKey(ctx, newKey(fmt.Sprintf("RY%02d", i), "b")); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("RY%02d", (g*7+i)%16)
				switch i % 10 {
				case 0:
					k := newKey(id, "b")
					if err := c.PutKey(ctx, k); err != nil {
						t.Error(err)
					}
				case 1:
					c.TouchKey(ctx, id, time.Now())
				case 2:
					c.Invalidate(id)
				default:
					if _, err := c.GetKey(ctx, id); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 8 {
		t.Errorf("cache grew to %d entries", c.Len())
	}
}

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "keycache-example")
	defer os.RemoveAll(dir)
	store, _ := boltstore.Open(filepath.Join(dir, "meta.db"), nil)
	// In gateway/app: keycache.New(sealed.New(store, keyring), opts).
	cache := keycache.New(store, &keycache.Options{TTL: 2 * time.Second})
	defer cache.Close()
	cache.PutKey(ctx, meta.Key{AccessKeyID: "RYEXAMPLE", SecretAccessKey: "s", Status: meta.KeyActive})
	for range 3 {
		cache.GetKey(ctx, "RYEXAMPLE")
	}
	st := cache.Stats()
	fmt.Println("loads:", st.Loads, "hits:", st.Hits)
	// Output: loads: 1 hits: 2
}

func TestBucketsCached(t *testing.T) {
	ctx := context.Background()
	var published []string
	inner, err := boltstore.Open(t.TempDir()+"/meta.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	inval := make(chan string, 1)
	c := keycache.New(inner, &keycache.Options{TTL: time.Minute, Now: func() time.Time { return now }, Invalidations: inval,
		Publish: func(_ context.Context, id string) { published = append(published, id) }})
	defer c.Close()
	if _, err := c.GetBucket(ctx, "photos"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
	// Creating through the cache drops the cached miss.
	if err := c.CreateBucket(ctx, meta.Bucket{Name: "photos", Owner: "a"}); err != nil {
		t.Fatal(err)
	}
	b, err := c.GetBucket(ctx, "photos")
	if err != nil || b.Owner != "a" {
		t.Fatalf("GetBucket: %v %v", b, err)
	}
	// A change made elsewhere is seen after the invalidation message...
	nb := *b
	nb.ACL = &meta.ACL{Owner: "a", Grants: []meta.Grant{{URI: meta.AllUsers, Permission: meta.PermRead}}}
	if err := inner.UpdateBucket(ctx, nb); err != nil {
		t.Fatal(err)
	}
	if b, _ := c.GetBucket(ctx, "photos"); b.ACL != nil {
		t.Fatal("cache did not serve the cached record")
	}
	inval <- keycache.BucketPrefix + "photos"
	deadline := time.Now().Add(2 * time.Second)
	for {
		if b, _ := c.GetBucket(ctx, "photos"); b.ACL != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("invalidation not applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// ...and a change through the cache is published.
	nb.ACL = nil
	if err := c.UpdateBucket(ctx, nb); err != nil {
		t.Fatal(err)
	}
	if b, _ := c.GetBucket(ctx, "photos"); b.ACL != nil {
		t.Error("UpdateBucket through the cache not seen")
	}
	if !slices.Contains(published, keycache.BucketPrefix+"photos") {
		t.Errorf("published %v", published)
	}
	// Returned records are copies.
	b, _ = c.GetBucket(ctx, "photos")
	b.Owner = "mutated"
	if b2, _ := c.GetBucket(ctx, "photos"); b2.Owner != "a" {
		t.Error("cache shares records with callers")
	}
	// The TTL bounds staleness without messages.
	if err := inner.DeleteBucket(ctx, "photos"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := c.GetBucket(ctx, "photos"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("after TTL: %v", err)
	}
}
