package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/metatest"
)

func openStore(t *testing.T, url string, opts *Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	return s
}

func TestConformanceSingle(t *testing.T) {
	srv := startRedis(t, serverConfig{})
	admin := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { admin.Close() })
	metatest.Run(t, func(t *testing.T) meta.Store {
		if err := admin.FlushAll(context.Background()).Err(); err != nil {
			t.Fatalf("FLUSHALL: %v", err)
		}
		return openStore(t, "redis://"+srv.addr()+"/2", nil)
	})
	// Everything went to database 2 under the default prefix.
	keys, err := redis.NewClient(&redis.Options{Addr: srv.addr(), DB: 2}).Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Error("no keys in database 2 after the suite")
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "{raya}:") {
			t.Errorf("key %q outside the {raya}: namespace", k)
		}
	}
}

func TestConformanceCluster(t *testing.T) {
	nodes := startCluster(t)
	url := "redis+cluster://" + nodes[0].addr() + "," + nodes[1].addr() + "," + nodes[2].addr()
	var n atomic.Int64
	metatest.Run(t, func(t *testing.T) meta.Store {
		// A fresh namespace per store instead of flushing: each lands in
		// its own slot, so the suite runs on all three masters.
		return openStore(t, url, &Options{KeyPrefix: fmt.Sprintf("t%d", n.Add(1))})
	})
}

// TestClusterOneSlot checks the point of the hash tag: a namespace's keys all
// live on one master, whatever their record type.
func TestClusterOneSlot(t *testing.T) {
	nodes := startCluster(t)
	ctx := context.Background()
	// A seed list of one node is enough: the client discovers the others.
	s := openStore(t, "redis+cluster://"+nodes[1].addr(), &Options{KeyPrefix: "slot"})
	defer s.Close()
	fill(t, s)
	holders := 0
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.addr()})
		keys, err := c.Keys(ctx, "*").Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			holders++
		}
		for _, k := range keys {
			if !strings.HasPrefix(k, "{slot}:") {
				t.Errorf("key %q on %s outside the namespace", k, n.addr())
			}
		}
	}
	if holders != 1 {
		t.Errorf("namespace spread over %d masters, want 1", holders)
	}
	if err := s.DeleteBucket(ctx, "b1"); err != nil {
		t.Fatalf("DeleteBucket on the cluster: %v", err)
	}
}

// fill writes one record of every kind.
func fill(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	acct := strings.Repeat("a", 64)
	for _, err := range []error{
		s.CreateAccount(ctx, meta.Account{ID: acct, CreatedAt: now}),
		s.CreateBucket(ctx, meta.Bucket{Name: "b1", Owner: acct, Backend: "local", CreatedAt: now}),
		s.PutKey(ctx, meta.Key{AccessKeyID: "AKIA1", Account: acct, Bucket: "b1", Status: meta.KeyActive, CreatedAt: now}),
		s.CreateUpload(ctx, meta.Upload{UploadID: "u1", Bucket: "b1", Key: "k", Initiated: now}),
		s.PutObjectACL(ctx, "b1", "k", meta.ObjectACL{ETag: `"e"`, LastModified: now, ACL: meta.ACL{Owner: acct}}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestManyInstancesRace: stores of different "gateway instances" (separate
// clients) race for one bucket name; exactly one wins.
func TestManyInstancesRace(t *testing.T) {
	srv := startRedis(t, serverConfig{})
	ctx := context.Background()
	const instances, racers = 4, 20
	stores := make([]*Store, instances)
	for i := range stores {
		stores[i] = openStore(t, "redis://"+srv.addr(), nil)
		defer stores[i].Close()
	}
	for round := range 5 {
		name := fmt.Sprintf("contested-%d", round)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, racers)
		)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = stores[i%instances].CreateBucket(ctx, meta.Bucket{Name: name, Owner: fmt.Sprint(i)})
			}()
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
			case !errors.Is(err, meta.ErrExists):
				t.Errorf("racer %d: %v", i, err)
			}
		}
		if winners != 1 {
			t.Errorf("round %d: %d winners, want 1", round, winners)
		}
	}
}

// TestDeleteBucketRacesWriters: keys and uploads added to a bucket while it is
// deleted are either deleted with it or written after it; no index entry
// outlives its record and nothing is half-removed.
func TestDeleteBucketRacesWriters(t *testing.T) {
	srv := startRedis(t, serverConfig{})
	ctx := context.Background()
	a := openStore(t, "redis://"+srv.addr(), nil)
	defer a.Close()
	b := openStore(t, "redis://"+srv.addr(), nil)
	defer b.Close()
	for round := range 10 {
		if err := a.CreateBucket(ctx, meta.Bucket{Name: "busy"}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := fmt.Sprintf("AKIA%d-%d", round, i)
				if err := b.PutKey(ctx, meta.Key{AccessKeyID: id, Account: "acct", Bucket: "busy"}); err != nil {
					t.Error(err)
				}
				if err := b.CreateUpload(ctx, meta.Upload{UploadID: id, Bucket: "busy"}); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(round) * 100 * time.Microsecond)
			if err := a.DeleteBucket(ctx, "busy"); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		// Every key in the bucket index has its record, in the other
		// indexes too; likewise for uploads.
		for _, f := range []meta.KeyFilter{{Bucket: "busy"}, {Account: "acct"}, {}} {
			ids, err := a.rdb.ZRange(ctx, indexFor(a, f), 0, -1).Result()
			if err != nil {
				t.Fatal(err)
			}
			ks, err := a.ListKeys(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != len(ks) {
				t.Errorf("round %d: index %+v has %d entries for %d records", round, f, len(ids), len(ks))
			}
		}
		ids, err := a.rdb.ZRange(ctx, a.k.uploads("busy"), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		us, err := a.ListUploads(ctx, "busy")
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != len(us) {
			t.Errorf("round %d: upload index has %d entries for %d records", round, len(ids), len(us))
		}
		// Clean up the writes that came after the delete.
		a.CreateBucket(ctx, meta.Bucket{Name: "busy"})
		if err := a.DeleteBucket(ctx, "busy"); err != nil {
			t.Fatal(err)
		}
	}
}

func indexFor(s *Store, f meta.KeyFilter) string {
	switch {
	case f.Bucket != "":
		return s.k.keysOfBucket(f.Bucket)
	case f.Account != "":
		return s.k.keysOfAccount(f.Account)
	}
	return s.k.keys()
}

// TestExtras covers the methods the conformance suite may not pin down yet:
// UpdateBucket, TouchKey, object ACLs and their removal with the bucket.
func TestExtras(t *testing.T) {
	srv := startRedis(t, serverConfig{})
	ctx := context.Background()
	s := openStore(t, "redis://"+srv.addr(), nil)
	defer s.Close()
	fill(t, s)

	if err := s.UpdateBucket(ctx, meta.Bucket{Name: "nope"}); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("UpdateBucket missing: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetBucket(ctx, "nope"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("UpdateBucket created a bucket: %v", err)
	}
	upd := meta.Bucket{Name: "b1", Owner: "o", Backend: "gcs", ACL: &meta.ACL{Owner: "o", Grants: []meta.Grant{{URI: meta.AllUsers, Permission: meta.PermRead}}}}
	if err := s.UpdateBucket(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBucket(ctx, "b1"); err != nil || got.Backend != "gcs" || got.ACL == nil || got.ACL.Grants[0].URI != meta.AllUsers {
		t.Errorf("GetBucket after update = %+v, %v", got, err)
	}

	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.FixedZone("WIB", 7*3600))
	if err := s.TouchKey(ctx, "AKIA1", at); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchKey(ctx, "AKIANOPE", at); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("TouchKey missing: err = %v, want ErrNotFound", err)
	}
	k, err := s.GetKey(ctx, "AKIA1")
	if err != nil || k.LastUsedAt == nil || !k.LastUsedAt.Equal(at) || k.Bucket != "b1" || k.Status != meta.KeyActive {
		t.Errorf("GetKey after touch = %+v, %v", k, err)
	}

	got, err := s.GetObjectACL(ctx, "b1", "k")
	if err != nil || got.ETag != `"e"` {
		t.Errorf("GetObjectACL = %+v, %v", got, err)
	}
	if _, err := s.GetObjectACL(ctx, "b1", "other"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("GetObjectACL missing: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteObjectACL(ctx, "b1", "other"); err != nil {
		t.Errorf("DeleteObjectACL missing: %v", err)
	}
	if err := s.PutObjectACL(ctx, "b1", "x", meta.ObjectACL{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObjectACL(ctx, "b1", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetObjectACL(ctx, "b1", "x"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("GetObjectACL after delete: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteBucket(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetObjectACL(ctx, "b1", "k"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("object ACL outlived its bucket: err = %v", err)
	}
	// Only the account is left (and the create calls' short-lived marks).
	all, err := s.rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range all {
		if !strings.HasPrefix(k, "{raya}:op:") {
			keys = append(keys, k)
		}
	}
	if want := []string{"{raya}:account:" + strings.Repeat("a", 64), "{raya}:accounts"}; !sameSet(keys, want) {
		t.Errorf("keys left after DeleteBucket = %q, want %q", keys, want)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}

// TestOutage stops Redis under an open Store: every call fails with an error
// that is neither "not found" nor "exists" and no call reports an empty
// success. Once Redis is back the same Store works again.
func TestOutage(t *testing.T) {
	srv := startRedis(t, serverConfig{})
	ctx := context.Background()
	s := openStore(t, "redis://"+srv.addr(), &Options{DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, MaxRetries: -1})
	defer s.Close()
	fill(t, s)

	srv.stop()
	calls := map[string]func() error{
		"CreateAccount": func() error { return s.CreateAccount(ctx, meta.Account{ID: "x"}) },
		"GetAccount":    func() error { _, err := s.GetAccount(ctx, strings.Repeat("a", 64)); return err },
		"ListAccounts":  func() error { _, err := s.ListAccounts(ctx); return err },
		"CreateBucket":  func() error { return s.CreateBucket(ctx, meta.Bucket{Name: "b2"}) },
		"GetBucket":     func() error { _, err := s.GetBucket(ctx, "b1"); return err },
		"ListBuckets":   func() error { _, err := s.ListBuckets(ctx); return err },
		"UpdateBucket":  func() error { return s.UpdateBucket(ctx, meta.Bucket{Name: "b1"}) },
		"DeleteBucket":  func() error { return s.DeleteBucket(ctx, "b1") },
		"PutKey":        func() error { return s.PutKey(ctx, meta.Key{AccessKeyID: "AKIA2"}) },
		"GetKey":        func() error { _, err := s.GetKey(ctx, "AKIA1"); return err },
		"ListKeys":      func() error { _, err := s.ListKeys(ctx, meta.KeyFilter{Bucket: "b1"}); return err },
		"DeleteKey":     func() error { return s.DeleteKey(ctx, "AKIA1") },
		"TouchKey":      func() error { return s.TouchKey(ctx, "AKIA1", time.Now()) },
		"PutObjectACL":  func() error { return s.PutObjectACL(ctx, "b1", "k", meta.ObjectACL{}) },
		"GetObjectACL":  func() error { _, err := s.GetObjectACL(ctx, "b1", "k"); return err },
		"DeleteObjectACL": func() error {
			return s.DeleteObjectACL(ctx, "b1", "k")
		},
		"CreateUpload": func() error { return s.CreateUpload(ctx, meta.Upload{UploadID: "u2", Bucket: "b1"}) },
		"GetUpload":    func() error { _, err := s.GetUpload(ctx, "b1", "u1"); return err },
		"ListUploads":  func() error { _, err := s.ListUploads(ctx, "b1"); return err },
		"DeleteUpload": func() error { return s.DeleteUpload(ctx, "b1", "u1") },
		"Ping":         func() error { return s.Ping(ctx) },
	}
	start := time.Now()
	for name, call := range calls {
		err := call()
		switch {
		case err == nil:
			t.Errorf("%s with Redis down: no error", name)
		case errors.Is(err, meta.ErrNotFound), errors.Is(err, meta.ErrExists):
			t.Errorf("%s with Redis down: err = %v, want a connection error, not a verdict", name, err)
		case !strings.Contains(err.Error(), "redisstore"):
			t.Errorf("%s with Redis down: err = %v, want it to name the store", name, err)
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("%d calls took %s with Redis down, want each to fail fast", len(calls), d)
	}

	// Back, empty (no persistence): the same Store recovers by itself.
	srv.restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.CreateBucket(ctx, meta.Bucket{Name: "again"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Store did not recover after Redis came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := s.GetBucket(ctx, "again"); err != nil {
		t.Errorf("GetBucket after recovery: %v", err)
	}
	if _, err := s.GetBucket(ctx, "b1"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("GetBucket of a bucket the restart lost: err = %v, want ErrNotFound", err)
	}
	// Scripts are reloaded after the restart emptied the script cache.
	if err := s.DeleteUpload(ctx, "again", "nope"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("DeleteUpload after recovery: err = %v, want ErrNotFound", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closed := freePort(t, false)
	for _, tc := range []struct {
		name, url string
		opts      *Options
		want      string
	}{
		{"Unreachable", fmt.Sprintf("redis://127.0.0.1:%d", closed), &Options{DialTimeout: time.Second}, "127.0.0.1"},
		{"BadScheme", "http://127.0.0.1:6379", nil, "unknown scheme"},
		{"BadPrefix", "redis://127.0.0.1:1", &Options{KeyPrefix: "a{b}"}, "key prefix"},
		{"TLSConfigWithoutTLS", "redis://127.0.0.1:1", &Options{TLSConfig: &tls.Config{}}, "not a TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, tc.url, tc.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%s): err = %v, want it to mention %q", tc.url, err, tc.want)
			}
		})
	}
}

// TestConformanceSentinel runs the suite through a real Sentinel watching a
// password-protected master: the URL's password is the master's, the
// sentinel itself has none.
func TestConformanceSentinel(t *testing.T) {
	master := startRedis(t, serverConfig{password: "m@ster pw"})
	sen := startRedis(t, serverConfig{sentinelOf: master})
	waitSentinel(t, sen)
	admin := redis.NewClient(&redis.Options{Addr: master.addr(), Password: "m@ster pw"})
	t.Cleanup(func() { admin.Close() })
	url := "redis+sentinel://m%40ster%20pw@" + sen.addr() + "/mymaster/1"
	metatest.Run(t, func(t *testing.T) meta.Store {
		if err := admin.FlushAll(context.Background()).Err(); err != nil {
			t.Fatalf("FLUSHALL: %v", err)
		}
		return openStore(t, url, nil)
	})
	n, err := redis.NewClient(&redis.Options{Addr: master.addr(), Password: "m@ster pw", DB: 1}).DBSize(context.Background()).Result()
	if err != nil || n == 0 {
		t.Errorf("master database 1 holds %d keys (%v), want the suite's records", n, err)
	}
}

func TestAuth(t *testing.T) {
	srv := startRedis(t, serverConfig{password: "right"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, url := range []string{"redis://" + srv.addr(), "redis://wrong@" + srv.addr()} {
		if s, err := Open(ctx, url, nil); err == nil {
			s.Close()
			t.Errorf("Open(%s) succeeded against a server that wants another password", url)
		} else if strings.Contains(err.Error(), "wrong") {
			t.Errorf("Open error shows the password: %v", err)
		}
	}
	s := openStore(t, "redis://right@"+srv.addr(), nil)
	defer s.Close()
	fill(t, s)
}

func TestTLS(t *testing.T) {
	tt := newTestTLS(t)
	srv := startRedis(t, serverConfig{tls: tt})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The private CA is not trusted by default.
	if s, err := Open(ctx, "rediss://"+srv.addr(), &Options{DialTimeout: time.Second}); err == nil {
		s.Close()
		t.Error("rediss:// to a server with an untrusted certificate succeeded")
	}
	// Plain text to a TLS-only server fails too.
	if s, err := Open(ctx, "redis://"+srv.addr(), &Options{DialTimeout: time.Second, ReadTimeout: time.Second}); err == nil {
		s.Close()
		t.Error("redis:// to a TLS-only server succeeded")
	}
	for _, tc := range []struct {
		url  string
		opts *Options
	}{
		{"rediss://" + srv.addr() + "/0", &Options{TLSConfig: tt.client}},
		{"rediss://" + srv.addr() + "?skip_verify=true", &Options{KeyPrefix: "skip"}},
	} {
		s := openStore(t, tc.url, tc.opts)
		fill(t, s)
		s.Close()
	}
}

// TestCreateRetry: go-redis may run the create script twice for one call (a
// retry after a lost reply); the second run must not turn the caller's own
// creation into ErrExists, while a rival still gets it.
func TestCreateRetry(t *testing.T) {
	srv := startRedis(t, serverConfig{})
	ctx := context.Background()
	s := openStore(t, "redis://"+srv.addr(), nil)
	defer s.Close()
	run := func(op string) int {
		t.Helper()
		ks := []string{s.k.bucket("b"), s.k.op(op), s.k.buckets()}
		n, err := createScript.Run(ctx, s.rdb, ks, `{"name":"b"}`, "b", opTTL).Int()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if run("call-1") != 1 {
		t.Fatal("first run did not create")
	}
	if run("call-1") != 1 {
		t.Error("a retry of the same call reports the record taken")
	}
	if run("call-2") != 0 {
		t.Error("another call was told it created an existing record")
	}
	if ttl, err := s.rdb.TTL(ctx, s.k.op("call-1")).Result(); err != nil || ttl <= 0 || ttl > opTTL*time.Second {
		t.Errorf("call mark TTL = %v, %v; want it to expire within %ds", ttl, err, opTTL)
	}
	if bs, err := s.ListBuckets(ctx); err != nil || len(bs) != 1 {
		t.Errorf("ListBuckets = %v, %v; want the one bucket", bs, err)
	}
}
