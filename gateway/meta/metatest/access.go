package metatest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/cloudraya/raya/gateway/meta"
)

// testAccess covers what the access model adds: bucket updates (ACL, CORS,
// public access block), key touches and object ACLs.
func testAccess(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("UpdateBucket", func(t *testing.T) {
		s := open(t)
		b := bucket("photos", 'a')
		must(t, "CreateBucket", s.CreateBucket(ctx, b))
		b.ACL = &meta.ACL{Owner: accountID('a'), Grants: []meta.Grant{{URI: meta.AllUsers, Permission: meta.PermRead}}}
		b.CORS = []meta.CORSRule{{AllowedOrigins: []string{"https://app.example"}, AllowedMethods: []string{"GET", "PUT"}, MaxAgeSeconds: 60}}
		b.PublicAccessBlock = &meta.PublicAccessBlock{BlockPublicAcls: true}
		must(t, "UpdateBucket", s.UpdateBucket(ctx, b))
		got, err := s.GetBucket(ctx, "photos")
		must(t, "GetBucket", err)
		if !reflect.DeepEqual(got.ACL, b.ACL) || !reflect.DeepEqual(got.CORS, b.CORS) || !reflect.DeepEqual(got.PublicAccessBlock, b.PublicAccessBlock) {
			t.Errorf("UpdateBucket round trip: got %+v, want %+v", got, b)
		}
		b.ACL.Grants[0].Permission = meta.PermWrite // the store holds a copy
		got, _ = s.GetBucket(ctx, "photos")
		if got.ACL.Grants[0].Permission != meta.PermRead {
			t.Error("store shares the caller's ACL")
		}
		checkErr(t, "UpdateBucket missing", s.UpdateBucket(ctx, bucket("nosuch", 'a')), meta.ErrNotFound)
	})

	t.Run("TouchKey", func(t *testing.T) {
		s := open(t)
		k := key("AKTOUCH", 'a', "photos")
		k.Label = "web"
		must(t, "PutKey", s.PutKey(ctx, k))
		must(t, "TouchKey", s.TouchKey(ctx, "AKTOUCH", base))
		got, err := s.GetKey(ctx, "AKTOUCH")
		must(t, "GetKey", err)
		checkTimePtr(t, "LastUsedAt", got.LastUsedAt, &base)
		if got.Label != "web" || got.SecretAccessKey != k.SecretAccessKey || got.Status != k.Status {
			t.Errorf("TouchKey changed other fields: %+v", got)
		}
		checkErr(t, "TouchKey missing", s.TouchKey(ctx, "AKNOPE", base), meta.ErrNotFound)
	})

	t.Run("UpdateKey", func(t *testing.T) {
		s := open(t)
		k := key("AKUPDATE", 'a', "photos")
		k.Label = "web"
		must(t, "PutKey", s.PutKey(ctx, k))
		must(t, "UpdateKey", s.UpdateKey(ctx, "AKUPDATE", func(k *meta.Key) error {
			if k.Label != "web" || k.SecretAccessKey == "" {
				t.Errorf("UpdateKey got %+v", k)
			}
			k.Status = meta.KeyInactive
			k.Label = "web-old"
			return nil
		}))
		got, err := s.GetKey(ctx, "AKUPDATE")
		must(t, "GetKey", err)
		if got.Status != meta.KeyInactive || got.Label != "web-old" || got.SecretAccessKey != k.SecretAccessKey {
			t.Errorf("after UpdateKey: %+v", got)
		}
		// fn's error aborts; identity cannot change; missing keys are reported.
		boom := errors.New("boom")
		checkErr(t, "UpdateKey aborted", s.UpdateKey(ctx, "AKUPDATE", func(k *meta.Key) error { k.Label = "x"; return boom }), boom)
		checkErr(t, "UpdateKey bucket", s.UpdateKey(ctx, "AKUPDATE", func(k *meta.Key) error { k.Bucket = "other"; return nil }), meta.ErrImmutable)
		if got, _ := s.GetKey(ctx, "AKUPDATE"); got.Label != "web-old" || got.Bucket != "photos" {
			t.Errorf("an aborted UpdateKey changed the key: %+v", got)
		}
		checkErr(t, "UpdateKey missing", s.UpdateKey(ctx, "AKNOPE", func(*meta.Key) error { return nil }), meta.ErrNotFound)
		if ks, _ := s.ListKeys(ctx, meta.KeyFilter{Bucket: "photos"}); len(ks) != 1 {
			t.Errorf("bucket index after updates: %v", ks)
		}
	})

	t.Run("ObjectACLs", func(t *testing.T) {
		s := open(t)
		must(t, "CreateBucket", s.CreateBucket(ctx, bucket("photos", 'a')))
		must(t, "CreateBucket", s.CreateBucket(ctx, bucket("photos-2", 'a')))
		a := meta.ObjectACL{ETag: "abc", LastModified: base, ACL: meta.ACL{Owner: accountID('a'), Grants: []meta.Grant{{URI: meta.AllUsers, Permission: meta.PermRead}}}}
		for _, k := range []string{"a/b", "a", "a//b", "ü"} {
			must(t, "PutObjectACL", s.PutObjectACL(ctx, "photos", k, a))
		}
		must(t, "PutObjectACL", s.PutObjectACL(ctx, "photos-2", "a", a))
		got, err := s.GetObjectACL(ctx, "photos", "a//b")
		must(t, "GetObjectACL", err)
		// An object ACL binds to the object's exact modification time.
		if !got.LastModified.Equal(base) {
			t.Errorf("ObjectACL.LastModified = %v, want exactly %v", got.LastModified, base)
		}
		if got.ETag != "abc" || !reflect.DeepEqual(got.ACL, a.ACL) {
			t.Errorf("GetObjectACL: got %+v, want %+v", got, a)
		}
		_, err = s.GetObjectACL(ctx, "photos", "missing")
		checkErr(t, "GetObjectACL missing", err, meta.ErrNotFound)
		must(t, "DeleteObjectACL", s.DeleteObjectACL(ctx, "photos", "a"))
		must(t, "DeleteObjectACL twice", s.DeleteObjectACL(ctx, "photos", "a"))
		_, err = s.GetObjectACL(ctx, "photos", "a")
		checkErr(t, "GetObjectACL deleted", err, meta.ErrNotFound)
		if _, err := s.GetObjectACL(ctx, "photos", "a/b"); err != nil {
			t.Errorf("deleting %q removed %q: %v", "a", "a/b", err)
		}
		// Deleting a bucket removes its object ACLs, and only its own.
		must(t, "DeleteBucket", s.DeleteBucket(ctx, "photos"))
		must(t, "CreateBucket again", s.CreateBucket(ctx, bucket("photos", 'a')))
		_, err = s.GetObjectACL(ctx, "photos", "a/b")
		checkErr(t, "object ACL after bucket delete", err, meta.ErrNotFound)
		if _, err := s.GetObjectACL(ctx, "photos-2", "a"); err != nil {
			t.Errorf("deleting bucket photos removed an ACL of photos-2: %v", err)
		}
	})
}
