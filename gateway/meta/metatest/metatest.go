// Package metatest is the conformance suite for meta.Store implementations.
//
// Every implementation runs it with one line in its tests:
//
//	func TestConformance(t *testing.T) {
//		metatest.Run(t, func(t *testing.T) meta.Store { ... })
//	}
//
// The suite pins down the contract that the meta.Store doc comments state,
// plus the points they leave open:
//
//   - errors are compared with errors.Is against meta.ErrNotFound and
//     meta.ErrExists, so implementations may wrap them with context;
//   - DeleteKey and DeleteUpload of an absent record return meta.ErrNotFound,
//     like DeleteBucket;
//   - a List of nothing returns an empty result (nil or empty slice) and no
//     error;
//   - time fields round-trip to within a second (a store may drop sub-second
//     precision), and nil time pointers stay nil;
//   - records are values: mutating what was passed in or what was returned
//     never changes what the store holds.
//
// It does not require a store to check references (an upload or a key may
// name a bucket that does not exist).
package metatest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/meta"
)

// Run runs the conformance suite. newStore must return a new, empty store
// each time it is called (one per subtest); Run closes it when the subtest
// ends, so newStore should register cleanup only for other resources (for
// instance a t.TempDir, or flushing a Redis database). Subtests do not run in
// parallel, so stores may share one server.
func Run(t *testing.T, newStore func(t *testing.T) meta.Store) {
	t.Helper()
	open := func(t *testing.T) meta.Store {
		t.Helper()
		s := newStore(t)
		if s == nil {
			t.Fatal("newStore returned nil")
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
	t.Run("Buckets", func(t *testing.T) { testBuckets(t, open) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, open) })
	t.Run("Uploads", func(t *testing.T) { testUploads(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("Access", func(t *testing.T) { testAccess(t, open) })
}

type opener func(t *testing.T) meta.Store

// Fixtures.

// base is a fixed instant with sub-second digits and a non-UTC zone, so
// stores that drop either still compare equal within the suite's tolerance.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("WIB", 7*3600))

// accountID returns a canonical ID: 64 copies of the hex digit c.
func accountID(c byte) string { return strings.Repeat(string(c), 64) }

func account(c byte, name string) meta.Account {
	return meta.Account{ID: accountID(c), DisplayName: name, CreatedAt: base}
}

func bucket(name string, owner byte) meta.Bucket {
	return meta.Bucket{Name: name, Owner: accountID(owner), Backend: "local", Region: "id-jkt-1", CreatedAt: base}
}

func key(id string, owner byte, bucketName string) meta.Key {
	return meta.Key{
		AccessKeyID:     id,
		SecretAccessKey: "secret-" + id,
		Account:         accountID(owner),
		Bucket:          bucketName,
		Label:           "label " + id,
		Status:          meta.KeyActive,
		CreatedAt:       base,
	}
}

func upload(bucketName, id, objectKey string, initiated time.Time) meta.Upload {
	return meta.Upload{
		UploadID:  id,
		Bucket:    bucketName,
		Key:       objectKey,
		Initiated: initiated,
		Owner:     accountID('a'),
		Initiator: "AKIAINITIATOR",
		Metadata: backends.Metadata{
			ContentType: "application/octet-stream",
			User:        map[string]string{"origin": id},
		},
	}
}

// Comparison helpers. Times are compared within a second, then zeroed so the
// rest of the record can be compared with reflect.DeepEqual.

func sameTime(got, want time.Time) bool {
	d := got.Sub(want)
	return d > -time.Second && d < time.Second && got.IsZero() == want.IsZero()
}

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !sameTime(got, want) {
		t.Errorf("%s = %v, want %v (within 1s)", what, got, want)
	}
}

func checkTimePtr(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Errorf("%s = %v, want nil", what, *got)
	case want != nil && got == nil:
		t.Errorf("%s = nil, want %v", what, *want)
	case want != nil:
		checkTime(t, what, *got, *want)
	}
}

func checkAccount(t *testing.T, got *meta.Account, want meta.Account) {
	t.Helper()
	if got == nil {
		t.Fatalf("account %s: got nil", want.ID)
	}
	g := *got
	checkTime(t, "Account.CreatedAt", g.CreatedAt, want.CreatedAt)
	g.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("account = %+v, want %+v", g, want)
	}
}

func checkBucket(t *testing.T, got *meta.Bucket, want meta.Bucket) {
	t.Helper()
	if got == nil {
		t.Fatalf("bucket %s: got nil", want.Name)
	}
	g := *got
	checkTime(t, "Bucket.CreatedAt", g.CreatedAt, want.CreatedAt)
	g.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("bucket = %+v, want %+v", g, want)
	}
}

func checkKey(t *testing.T, got *meta.Key, want meta.Key) {
	t.Helper()
	if got == nil {
		t.Fatalf("key %s: got nil", want.AccessKeyID)
	}
	g := *got
	checkTime(t, "Key.CreatedAt", g.CreatedAt, want.CreatedAt)
	checkTimePtr(t, "Key.LastUsedAt", g.LastUsedAt, want.LastUsedAt)
	checkTimePtr(t, "Key.ExpiresAt", g.ExpiresAt, want.ExpiresAt)
	g.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	g.LastUsedAt, want.LastUsedAt = nil, nil
	g.ExpiresAt, want.ExpiresAt = nil, nil
	if !reflect.DeepEqual(g, want) {
		t.Errorf("key = %+v, want %+v", g, want)
	}
}

func checkUpload(t *testing.T, got *meta.Upload, want meta.Upload) {
	t.Helper()
	if got == nil {
		t.Fatalf("upload %s/%s: got nil", want.Bucket, want.UploadID)
	}
	g := *got
	checkTime(t, "Upload.Initiated", g.Initiated, want.Initiated)
	g.Initiated, want.Initiated = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("upload = %+v, want %+v", g, want)
	}
}

func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func checkOrder(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func accountIDOf(a meta.Account) string { return a.ID }
func bucketNameOf(b meta.Bucket) string { return b.Name }
func keyIDOf(k meta.Key) string         { return k.AccessKeyID }
func uploadIDOf(u meta.Upload) string   { return u.UploadID }

// Accounts.

func testAccounts(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		a := account('a', "Alice")
		must(t, "CreateAccount", s.CreateAccount(ctx, a))
		got, err := s.GetAccount(ctx, a.ID)
		must(t, "GetAccount", err)
		checkAccount(t, got, a)
	})

	t.Run("Duplicate", func(t *testing.T) {
		s := open(t)
		a := account('a', "Alice")
		must(t, "CreateAccount", s.CreateAccount(ctx, a))
		dup := account('a', "Mallory")
		checkErr(t, "CreateAccount duplicate", s.CreateAccount(ctx, dup), meta.ErrExists)
		got, err := s.GetAccount(ctx, a.ID)
		must(t, "GetAccount", err)
		checkAccount(t, got, a) // the first one is kept
	})

	t.Run("Missing", func(t *testing.T) {
		s := open(t)
		_, err := s.GetAccount(ctx, accountID('0'))
		checkErr(t, "GetAccount missing", err, meta.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		s := open(t)
		got, err := s.ListAccounts(ctx)
		must(t, "ListAccounts empty", err)
		checkOrder(t, "ListAccounts empty", ids(got, accountIDOf), nil)

		for _, c := range []byte("c1af") {
			must(t, "CreateAccount", s.CreateAccount(ctx, account(c, "user "+string(c))))
		}
		got, err = s.ListAccounts(ctx)
		must(t, "ListAccounts", err)
		checkOrder(t, "ListAccounts", ids(got, accountIDOf),
			[]string{accountID('1'), accountID('a'), accountID('c'), accountID('f')})
		for _, a := range got {
			checkAccount(t, &a, account(a.ID[0], "user "+a.ID[:1]))
		}
	})
}

// Buckets.

func testBuckets(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		b := bucket("photos", 'a')
		must(t, "CreateBucket", s.CreateBucket(ctx, b))
		got, err := s.GetBucket(ctx, b.Name)
		must(t, "GetBucket", err)
		checkBucket(t, got, b)

		// Optional fields stay empty.
		b2 := meta.Bucket{Name: "plain", Owner: accountID('b'), Backend: "gcs", CreatedAt: base}
		must(t, "CreateBucket", s.CreateBucket(ctx, b2))
		got, err = s.GetBucket(ctx, b2.Name)
		must(t, "GetBucket", err)
		checkBucket(t, got, b2)
	})

	t.Run("Duplicate", func(t *testing.T) {
		s := open(t)
		b := bucket("photos", 'a')
		must(t, "CreateBucket", s.CreateBucket(ctx, b))
		dup := bucket("photos", 'b')
		dup.Backend = "s3"
		checkErr(t, "CreateBucket duplicate", s.CreateBucket(ctx, dup), meta.ErrExists)
		got, err := s.GetBucket(ctx, b.Name)
		must(t, "GetBucket", err)
		checkBucket(t, got, b) // the winner keeps it
	})

	t.Run("Missing", func(t *testing.T) {
		s := open(t)
		_, err := s.GetBucket(ctx, "nope")
		checkErr(t, "GetBucket missing", err, meta.ErrNotFound)
		checkErr(t, "DeleteBucket missing", s.DeleteBucket(ctx, "nope"), meta.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		s := open(t)
		got, err := s.ListBuckets(ctx)
		must(t, "ListBuckets empty", err)
		checkOrder(t, "ListBuckets empty", ids(got, bucketNameOf), nil)

		names := []string{"zeta", "app-logs", "app", "a.b.c", "app.2", "10-data"}
		for _, n := range names {
			must(t, "CreateBucket "+n, s.CreateBucket(ctx, bucket(n, 'a')))
		}
		got, err = s.ListBuckets(ctx)
		must(t, "ListBuckets", err)
		checkOrder(t, "ListBuckets", ids(got, bucketNameOf),
			[]string{"10-data", "a.b.c", "app", "app-logs", "app.2", "zeta"})
		for _, b := range got {
			checkBucket(t, &b, bucket(b.Name, 'a'))
		}
	})

	t.Run("DeleteCascades", func(t *testing.T) {
		s := open(t)
		// "app" is a prefix of "app-logs": deleting one must not touch the
		// other's uploads or keys.
		for _, n := range []string{"app", "app-logs"} {
			must(t, "CreateBucket "+n, s.CreateBucket(ctx, bucket(n, 'a')))
		}
		keys := []meta.Key{
			key("AKIAAPP1", 'a', "app"),
			key("AKIAAPP2", 'a', "app"),
			key("AKIALOGS", 'a', "app-logs"),
			key("AKIAWIDE", 'a', ""),
		}
		for _, k := range keys {
			must(t, "PutKey "+k.AccessKeyID, s.PutKey(ctx, k))
		}
		uploads := []meta.Upload{
			upload("app", "u1", "a.bin", base),
			upload("app", "u2", "b.bin", base),
			upload("app-logs", "u3", "log.gz", base),
		}
		for _, u := range uploads {
			must(t, "CreateUpload "+u.UploadID, s.CreateUpload(ctx, u))
		}

		must(t, "DeleteBucket", s.DeleteBucket(ctx, "app"))

		_, err := s.GetBucket(ctx, "app")
		checkErr(t, "GetBucket deleted", err, meta.ErrNotFound)
		checkErr(t, "DeleteBucket again", s.DeleteBucket(ctx, "app"), meta.ErrNotFound)
		bs, err := s.ListBuckets(ctx)
		must(t, "ListBuckets", err)
		checkOrder(t, "ListBuckets", ids(bs, bucketNameOf), []string{"app-logs"})

		for _, id := range []string{"AKIAAPP1", "AKIAAPP2"} {
			_, err := s.GetKey(ctx, id)
			checkErr(t, "GetKey "+id+" of deleted bucket", err, meta.ErrNotFound)
		}
		ks, err := s.ListKeys(ctx, meta.KeyFilter{})
		must(t, "ListKeys", err)
		checkOrder(t, "ListKeys", ids(ks, keyIDOf), []string{"AKIALOGS", "AKIAWIDE"})

		us, err := s.ListUploads(ctx, "app")
		must(t, "ListUploads deleted bucket", err)
		checkOrder(t, "ListUploads deleted bucket", ids(us, uploadIDOf), nil)
		_, err = s.GetUpload(ctx, "app", "u1")
		checkErr(t, "GetUpload of deleted bucket", err, meta.ErrNotFound)
		us, err = s.ListUploads(ctx, "app-logs")
		must(t, "ListUploads other bucket", err)
		checkOrder(t, "ListUploads other bucket", ids(us, uploadIDOf), []string{"u3"})

		// Re-creating the name starts clean: nothing comes back.
		must(t, "CreateBucket again", s.CreateBucket(ctx, bucket("app", 'b')))
		got, err := s.GetBucket(ctx, "app")
		must(t, "GetBucket re-created", err)
		checkBucket(t, got, bucket("app", 'b'))
		us, err = s.ListUploads(ctx, "app")
		must(t, "ListUploads re-created", err)
		checkOrder(t, "ListUploads re-created", ids(us, uploadIDOf), nil)
		ks, err = s.ListKeys(ctx, meta.KeyFilter{Bucket: "app"})
		must(t, "ListKeys re-created", err)
		checkOrder(t, "ListKeys re-created", ids(ks, keyIDOf), nil)
	})
}

// Keys.

func testKeys(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("PutGet", func(t *testing.T) {
		s := open(t)
		// Nil pointers stay nil.
		k := key("AKIAPLAIN", 'a', "photos")
		must(t, "PutKey", s.PutKey(ctx, k))
		got, err := s.GetKey(ctx, k.AccessKeyID)
		must(t, "GetKey", err)
		checkKey(t, got, k)

		// Every field set.
		used, expires := base.Add(90*time.Minute), base.Add(30*24*time.Hour)
		full := meta.Key{
			AccessKeyID:     "AKIAFULL",
			SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			Account:         accountID('b'),
			Root:            true,
			Label:           "backup job",
			Status:          meta.KeyInactive,
			CreatedAt:       base,
			LastUsedAt:      &used,
			ExpiresAt:       &expires,
		}
		must(t, "PutKey", s.PutKey(ctx, full))
		got, err = s.GetKey(ctx, full.AccessKeyID)
		must(t, "GetKey", err)
		checkKey(t, got, full)
	})

	t.Run("Replace", func(t *testing.T) {
		s := open(t)
		k := key("AKIAROTATE", 'a', "photos")
		must(t, "PutKey", s.PutKey(ctx, k))

		used, expires := base.Add(time.Hour), base.Add(2*time.Hour)
		k2 := k
		k2.Status = meta.KeyInactive
		k2.Label = "retiring"
		k2.LastUsedAt = &used
		k2.ExpiresAt = &expires
		must(t, "PutKey replace", s.PutKey(ctx, k2))
		got, err := s.GetKey(ctx, k.AccessKeyID)
		must(t, "GetKey", err)
		checkKey(t, got, k2)

		// Replacing can also clear optional fields and move the key.
		k3 := key("AKIAROTATE", 'a', "other")
		must(t, "PutKey replace again", s.PutKey(ctx, k3))
		got, err = s.GetKey(ctx, k.AccessKeyID)
		must(t, "GetKey", err)
		checkKey(t, got, k3)

		ks, err := s.ListKeys(ctx, meta.KeyFilter{})
		must(t, "ListKeys", err)
		checkOrder(t, "ListKeys after replace", ids(ks, keyIDOf), []string{"AKIAROTATE"})
		ks, err = s.ListKeys(ctx, meta.KeyFilter{Bucket: "photos"})
		must(t, "ListKeys old bucket", err)
		checkOrder(t, "ListKeys old bucket", ids(ks, keyIDOf), nil)
	})

	t.Run("Missing", func(t *testing.T) {
		s := open(t)
		_, err := s.GetKey(ctx, "AKIANOPE")
		checkErr(t, "GetKey missing", err, meta.ErrNotFound)
		checkErr(t, "DeleteKey missing", s.DeleteKey(ctx, "AKIANOPE"), meta.ErrNotFound)
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		for _, k := range []meta.Key{key("AKIA1", 'a', "b1"), key("AKIA2", 'a', "b1")} {
			must(t, "PutKey", s.PutKey(ctx, k))
		}
		must(t, "DeleteKey", s.DeleteKey(ctx, "AKIA1"))
		_, err := s.GetKey(ctx, "AKIA1")
		checkErr(t, "GetKey deleted", err, meta.ErrNotFound)
		checkErr(t, "DeleteKey again", s.DeleteKey(ctx, "AKIA1"), meta.ErrNotFound)
		got, err := s.GetKey(ctx, "AKIA2")
		must(t, "GetKey other", err)
		checkKey(t, got, key("AKIA2", 'a', "b1"))
		ks, err := s.ListKeys(ctx, meta.KeyFilter{Bucket: "b1"})
		must(t, "ListKeys", err)
		checkOrder(t, "ListKeys after delete", ids(ks, keyIDOf), []string{"AKIA2"})
	})

	t.Run("List", func(t *testing.T) {
		s := open(t)
		ks, err := s.ListKeys(ctx, meta.KeyFilter{})
		must(t, "ListKeys empty", err)
		checkOrder(t, "ListKeys empty", ids(ks, keyIDOf), nil)

		// Inserted out of order; "AKIA10" sorts before "AKIA2" (byte order).
		all := []meta.Key{
			key("AKIA6", 'a', "b3"),
			key("AKIA2", 'a', ""),
			key("AKIA10", 'a', "b1"),
			key("AKIA3", 'b', "b2"),
			key("AKIA5", 'b', ""),
			key("AKIA4", 'a', "b1"),
			key("AKIA7", 'b', "b1"),
		}
		byID := map[string]meta.Key{}
		for _, k := range all {
			must(t, "PutKey "+k.AccessKeyID, s.PutKey(ctx, k))
			byID[k.AccessKeyID] = k
		}
		for _, tc := range []struct {
			name string
			f    meta.KeyFilter
			want []string
		}{
			{"All", meta.KeyFilter{}, []string{"AKIA10", "AKIA2", "AKIA3", "AKIA4", "AKIA5", "AKIA6", "AKIA7"}},
			{"Bucket", meta.KeyFilter{Bucket: "b1"}, []string{"AKIA10", "AKIA4", "AKIA7"}},
			{"Account", meta.KeyFilter{Account: accountID('b')}, []string{"AKIA3", "AKIA5", "AKIA7"}},
			{"BucketAndAccount", meta.KeyFilter{Bucket: "b1", Account: accountID('a')}, []string{"AKIA10", "AKIA4"}},
			{"NoMatchBoth", meta.KeyFilter{Bucket: "b3", Account: accountID('b')}, nil},
			{"UnknownBucket", meta.KeyFilter{Bucket: "nope"}, nil},
			{"UnknownAccount", meta.KeyFilter{Account: accountID('9')}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ks, err := s.ListKeys(ctx, tc.f)
				must(t, "ListKeys", err)
				checkOrder(t, fmt.Sprintf("ListKeys(%+v)", tc.f), ids(ks, keyIDOf), tc.want)
				for _, k := range ks {
					checkKey(t, &k, byID[k.AccessKeyID])
				}
			})
		}
	})
}

// Uploads.

func testUploads(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		must(t, "CreateBucket", s.CreateBucket(ctx, bucket("media", 'a')))
		u := meta.Upload{
			UploadID:  "2~abcDEF-_.123",
			Bucket:    "media",
			Key:       "videos/2025/../raw//clip 1.mp4",
			Initiated: base,
			Owner:     accountID('a'),
			Initiator: "AKIAUPLOADER",
			Metadata: backends.Metadata{
				ContentType:        "video/mp4",
				ContentEncoding:    "identity",
				ContentDisposition: `attachment; filename="clip 1.mp4"`,
				ContentLanguage:    "id",
				CacheControl:       "no-cache, no-store",
				Expires:            "Wed, 21 Oct 2026 07:28:00 GMT",
				User:               map[string]string{"camera": "a7", "note": "a, b"},
				Checksums:          map[string]string{"CRC32": "AAAAAA=="},
				ChecksumType:       "COMPOSITE",
				PartSizes:          []int64{5 << 20, 1},
			},
			ChecksumAlgorithm: "CRC32",
			ChecksumType:      "COMPOSITE",
		}
		must(t, "CreateUpload", s.CreateUpload(ctx, u))
		got, err := s.GetUpload(ctx, u.Bucket, u.UploadID)
		must(t, "GetUpload", err)
		checkUpload(t, got, u)

		// Zero metadata round-trips as zero.
		plain := meta.Upload{UploadID: "plain", Bucket: "media", Key: "k", Initiated: base, Owner: accountID('a')}
		must(t, "CreateUpload plain", s.CreateUpload(ctx, plain))
		got, err = s.GetUpload(ctx, plain.Bucket, plain.UploadID)
		must(t, "GetUpload plain", err)
		checkUpload(t, got, plain)
	})

	t.Run("Duplicate", func(t *testing.T) {
		s := open(t)
		must(t, "CreateBucket", s.CreateBucket(ctx, bucket("media", 'a')))
		u := upload("media", "u1", "a.bin", base)
		must(t, "CreateUpload", s.CreateUpload(ctx, u))
		dup := upload("media", "u1", "other.bin", base.Add(time.Hour))
		checkErr(t, "CreateUpload duplicate", s.CreateUpload(ctx, dup), meta.ErrExists)
		got, err := s.GetUpload(ctx, "media", "u1")
		must(t, "GetUpload", err)
		checkUpload(t, got, u) // the first one is kept
	})

	t.Run("Missing", func(t *testing.T) {
		s := open(t)
		must(t, "CreateBucket", s.CreateBucket(ctx, bucket("media", 'a')))
		must(t, "CreateBucket", s.CreateBucket(ctx, bucket("other", 'a')))
		must(t, "CreateUpload", s.CreateUpload(ctx, upload("media", "u1", "a.bin", base)))
		_, err := s.GetUpload(ctx, "media", "nope")
		checkErr(t, "GetUpload missing", err, meta.ErrNotFound)
		// An upload ID is looked up within its bucket only.
		_, err = s.GetUpload(ctx, "other", "u1")
		checkErr(t, "GetUpload in another bucket", err, meta.ErrNotFound)
		checkErr(t, "DeleteUpload in another bucket", s.DeleteUpload(ctx, "other", "u1"), meta.ErrNotFound)
		checkErr(t, "DeleteUpload missing", s.DeleteUpload(ctx, "media", "nope"), meta.ErrNotFound)
		if _, err := s.GetUpload(ctx, "media", "u1"); err != nil {
			t.Errorf("GetUpload after failed deletes: %v", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		must(t, "CreateBucket", s.CreateBucket(ctx, bucket("media", 'a')))
		must(t, "CreateUpload", s.CreateUpload(ctx, upload("media", "u1", "a.bin", base)))
		must(t, "CreateUpload", s.CreateUpload(ctx, upload("media", "u2", "a.bin", base)))
		must(t, "DeleteUpload", s.DeleteUpload(ctx, "media", "u1"))
		_, err := s.GetUpload(ctx, "media", "u1")
		checkErr(t, "GetUpload after delete", err, meta.ErrNotFound)
		checkErr(t, "DeleteUpload again", s.DeleteUpload(ctx, "media", "u1"), meta.ErrNotFound)
		us, err := s.ListUploads(ctx, "media")
		must(t, "ListUploads", err)
		checkOrder(t, "ListUploads after delete", ids(us, uploadIDOf), []string{"u2"})
		// The ID is free again.
		must(t, "CreateUpload reuse ID", s.CreateUpload(ctx, upload("media", "u1", "c.bin", base)))
	})

	t.Run("List", func(t *testing.T) {
		s := open(t)
		for _, n := range []string{"media", "media-2"} {
			must(t, "CreateBucket", s.CreateBucket(ctx, bucket(n, 'a')))
		}
		us, err := s.ListUploads(ctx, "media")
		must(t, "ListUploads empty", err)
		checkOrder(t, "ListUploads empty", ids(us, uploadIDOf), nil)

		// Order: key (byte order), then initiation time, then upload ID.
		// Times differ by whole minutes so second-precision stores agree.
		t0 := base
		t1 := base.Add(time.Minute)
		t2 := base.Add(2 * time.Minute)
		// Upload IDs run against time order, so neither the ID nor the time
		// alone gives the expected order.
		in := []meta.Upload{
			upload("media", "u-0", "b", t0),
			upload("media", "u-a", "a", t2),
			upload("media", "u-n", "a", t1),
			upload("media", "u-1", "a/b", t2),
			upload("media", "u-m", "a", t1),
			upload("media", "u-2", "a0", t0),
			upload("media", "u-z", "a", t0),
			upload("media-2", "u-other", "a", t0),
		}
		byID := map[string]meta.Upload{}
		for _, u := range in {
			must(t, "CreateUpload "+u.UploadID, s.CreateUpload(ctx, u))
			byID[u.UploadID] = u
		}
		us, err = s.ListUploads(ctx, "media")
		must(t, "ListUploads", err)
		checkOrder(t, "ListUploads", ids(us, uploadIDOf),
			[]string{"u-z", "u-m", "u-n", "u-a", "u-1", "u-2", "u-0"})
		for _, u := range us {
			checkUpload(t, &u, byID[u.UploadID])
		}
		us, err = s.ListUploads(ctx, "media-2")
		must(t, "ListUploads other bucket", err)
		checkOrder(t, "ListUploads other bucket", ids(us, uploadIDOf), []string{"u-other"})
	})

	t.Run("ValuesAreCopies", func(t *testing.T) {
		s := open(t)
		must(t, "CreateBucket", s.CreateBucket(ctx, bucket("media", 'a')))
		u := upload("media", "u1", "a.bin", base)
		u.Metadata.Checksums = map[string]string{"SHA256": "x"}
		u.Metadata.PartSizes = []int64{1, 2}
		want := upload("media", "u1", "a.bin", base)
		want.Metadata.Checksums = map[string]string{"SHA256": "x"}
		want.Metadata.PartSizes = []int64{1, 2}
		must(t, "CreateUpload", s.CreateUpload(ctx, u))

		// Mutating the caller's value after the call changes nothing.
		u.Metadata.User["origin"] = "changed"
		u.Metadata.Checksums["SHA256"] = "changed"
		u.Metadata.PartSizes[0] = 99
		got, err := s.GetUpload(ctx, "media", "u1")
		must(t, "GetUpload", err)
		checkUpload(t, got, want)

		// Nor does mutating what a Get or List returned.
		got.Metadata.User["origin"] = "changed"
		got.Metadata.PartSizes[1] = 99
		us, err := s.ListUploads(ctx, "media")
		must(t, "ListUploads", err)
		if len(us) != 1 {
			t.Fatalf("ListUploads = %d uploads, want 1", len(us))
		}
		us[0].Metadata.Checksums["SHA256"] = "changed"
		got, err = s.GetUpload(ctx, "media", "u1")
		must(t, "GetUpload", err)
		checkUpload(t, got, want)
	})
}

// Concurrency.

func testConcurrency(t *testing.T, open opener) {
	ctx := context.Background()
	const n = 20

	t.Run("CreateBucketRace", func(t *testing.T) {
		s := open(t)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				b := bucket("contested", 'a')
				b.Owner = fmt.Sprintf("%064x", i)
				errs[i] = s.CreateBucket(ctx, b)
			}()
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("goroutines %d and %d both created the bucket", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, meta.ErrExists):
				t.Errorf("goroutine %d: err = %v, want %v", i, err, meta.ErrExists)
			}
		}
		if winner < 0 {
			t.Fatal("no goroutine created the bucket")
		}
		got, err := s.GetBucket(ctx, "contested")
		must(t, "GetBucket", err)
		if want := fmt.Sprintf("%064x", winner); got.Owner != want {
			t.Errorf("bucket owner = %s, want the winner's %s", got.Owner, want)
		}
	})

	t.Run("Mixed", func(t *testing.T) {
		// Distinct records written and read from many goroutines: all land.
		s := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, n*8)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("bucket-%02d", i)
				id := fmt.Sprintf("AKIA%02d", i)
				for _, err := range []error{
					s.CreateAccount(ctx, meta.Account{ID: fmt.Sprintf("%064x", i), CreatedAt: base}),
					s.CreateBucket(ctx, bucket(name, 'a')),
					s.PutKey(ctx, key(id, 'a', name)),
					s.CreateUpload(ctx, upload(name, "u", "k", base)),
				} {
					if err != nil {
						errs <- err
					}
				}
				if _, err := s.GetKey(ctx, id); err != nil {
					errs <- err
				}
				if _, err := s.ListBuckets(ctx); err != nil {
					errs <- err
				}
				if _, err := s.ListKeys(ctx, meta.KeyFilter{Bucket: name}); err != nil {
					errs <- err
				}
				if _, err := s.ListUploads(ctx, name); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		as, err := s.ListAccounts(ctx)
		must(t, "ListAccounts", err)
		bs, err := s.ListBuckets(ctx)
		must(t, "ListBuckets", err)
		ks, err := s.ListKeys(ctx, meta.KeyFilter{})
		must(t, "ListKeys", err)
		if len(as) != n || len(bs) != n || len(ks) != n {
			t.Errorf("got %d accounts, %d buckets, %d keys; want %d of each", len(as), len(bs), len(ks), n)
		}
		for i := range n {
			name := fmt.Sprintf("bucket-%02d", i)
			us, err := s.ListUploads(ctx, name)
			must(t, "ListUploads", err)
			checkOrder(t, "ListUploads "+name, ids(us, uploadIDOf), []string{"u"})
		}
	})
}
