package s3api

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/sigv4"
)

// addKey gives the test server a key of its own account (scoped to bucket
// when not empty).
func (s *testServer) addKey(id, account, bucket string) *sigv4.Credentials {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.store.GetAccount(ctx, account); errors.Is(err, meta.ErrNotFound) {
		if err := s.store.CreateAccount(ctx, meta.Account{ID: account, DisplayName: "acct-" + account[:4]}); err != nil {
			s.t.Fatal(err)
		}
	}
	k := meta.Key{AccessKeyID: id, SecretAccessKey: "secret-" + id, Account: account, Bucket: bucket, Status: meta.KeyActive}
	if err := s.store.PutKey(ctx, k); err != nil {
		s.t.Fatal(err)
	}
	return &sigv4.Credentials{AccessKeyID: id, SecretAccessKey: k.SecretAccessKey}
}

func (s *testServer) expect(creds *sigv4.Credentials, method, target, body string, hdr map[string]string, status int) string {
	s.t.Helper()
	w := s.do(creds, method, target, body, hdr)
	if w.Code != status {
		s.t.Fatalf("%s %s: got %d %s, want %d", method, target, w.Code, w.Body, status)
	}
	return w.Body.String()
}

func TestObjectACLs(t *testing.T) {
	s := newTestServer(t)
	root := &s.root
	s.expect(root, "PUT", "/pics", "", nil, 200)
	s.expect(root, "PUT", "/pics/public.jpg", "cat", map[string]string{"x-amz-acl": "public-read"}, 200)
	s.expect(root, "PUT", "/pics/private.jpg", "dog", nil, 200)

	// Anonymous callers get exactly what AllUsers is granted.
	if got := s.expect(nil, "GET", "/pics/public.jpg", "", nil, 200); got != "cat" {
		t.Fatalf("public object body %q", got)
	}
	s.expect(nil, "HEAD", "/pics/public.jpg", "", nil, 200)
	if errorCode(t, s.do(nil, "GET", "/pics/private.jpg", "", nil)) != "AccessDenied" {
		t.Fatal("private object readable")
	}
	s.expect(nil, "GET", "/pics/missing", "", nil, 403) // absence is not revealed
	s.expect(nil, "GET", "/pics?list-type=2", "", nil, 403)
	s.expect(nil, "PUT", "/pics/new", "x", nil, 403)
	s.expect(nil, "DELETE", "/pics/public.jpg", "", nil, 403)
	s.expect(nil, "GET", "/pics/public.jpg?acl", "", nil, 403)

	// The ACL belongs to that object: a new PUT without ACL headers is private.
	s.expect(root, "PUT", "/pics/public.jpg", "cat v2", nil, 200)
	s.expect(nil, "GET", "/pics/public.jpg", "", nil, 403)

	// PutObjectAcl with a canned ACL, and GetObjectAcl.
	s.expect(root, "PUT", "/pics/public.jpg?acl", "", map[string]string{"x-amz-acl": "public-read"}, 200)
	s.expect(nil, "GET", "/pics/public.jpg", "", nil, 200)
	acl := s.expect(root, "GET", "/pics/public.jpg?acl", "", nil, 200)
	if !strings.Contains(acl, meta.AllUsers) || !strings.Contains(acl, "FULL_CONTROL") || !strings.Contains(acl, "<Permission>READ</Permission>") {
		t.Fatalf("GetObjectAcl: %s", acl)
	}
	// PutObjectAcl with an AccessControlPolicy body making it private again.
	body := `<AccessControlPolicy><Owner><ID>` + strings.Repeat("a", 64) + `</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>` + strings.Repeat("a", 64) + `</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`
	s.expect(root, "PUT", "/pics/public.jpg?acl", body, nil, 200)
	s.expect(nil, "GET", "/pics/public.jpg", "", nil, 403)

	// authenticated-read: any key, not anonymous.
	other := s.addKey("OTHERKEY", strings.Repeat("b", 64), "elsewhere")
	s.expect(root, "PUT", "/pics/members.txt", "m", map[string]string{"x-amz-acl": "authenticated-read"}, 200)
	s.expect(other, "GET", "/pics/members.txt", "", nil, 200)
	s.expect(nil, "GET", "/pics/members.txt", "", nil, 403)
	// A key of another bucket gets AccessDenied unless a grant names it.
	s.expect(other, "GET", "/pics/private.jpg", "", nil, 403)
	s.expect(root, "PUT", "/pics/shared.txt", "s", map[string]string{"x-amz-grant-read": `id="` + strings.Repeat("b", 64) + `"`}, 200)
	s.expect(other, "GET", "/pics/shared.txt", "", nil, 200)
	s.expect(other, "PUT", "/pics/shared.txt", "overwrite", nil, 403)
}

func TestBucketACLsAndPublicAccessBlock(t *testing.T) {
	s := newTestServer(t)
	root := &s.root
	s.expect(root, "PUT", "/drop", "", map[string]string{"x-amz-acl": "public-read-write"}, 200)
	s.expect(nil, "GET", "/drop?list-type=2", "", nil, 200)
	s.expect(nil, "PUT", "/drop/anon.txt", "hello", nil, 200)
	s.expect(nil, "GET", "/drop/anon.txt", "", nil, 403) // objects stay private
	if !strings.Contains(s.expect(root, "GET", "/drop?acl", "", nil, 200), "<Permission>WRITE</Permission>") {
		t.Fatal("bucket ACL lacks WRITE grant")
	}
	s.expect(root, "PUT", "/drop?acl", "", map[string]string{"x-amz-acl": "private"}, 200)
	s.expect(nil, "GET", "/drop?list-type=2", "", nil, 403)

	// The guard refuses public grants, and with IgnorePublicAcls ignores them.
	s.expect(root, "PUT", "/drop/pub.txt", "p", map[string]string{"x-amz-acl": "public-read"}, 200)
	s.expect(nil, "GET", "/drop/pub.txt", "", nil, 200)
	s.expect(root, "GET", "/drop?publicAccessBlock", "", nil, 404)
	pab := `<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls></PublicAccessBlockConfiguration>`
	s.expect(root, "PUT", "/drop?publicAccessBlock", pab, nil, 200)
	if !strings.Contains(s.expect(root, "GET", "/drop?publicAccessBlock", "", nil, 200), "<BlockPublicAcls>true</BlockPublicAcls>") {
		t.Fatal("public access block not stored")
	}
	s.expect(nil, "GET", "/drop/pub.txt", "", nil, 403)
	s.expect(root, "PUT", "/drop/pub2.txt", "p", map[string]string{"x-amz-acl": "public-read"}, 403)
	s.expect(root, "PUT", "/drop?acl", "", map[string]string{"x-amz-acl": "public-read"}, 403)
	s.expect(root, "DELETE", "/drop?publicAccessBlock", "", nil, 204)
	s.expect(nil, "GET", "/drop/pub.txt", "", nil, 200)
}

// failingStore fails PutObjectACL and DeleteObjectACL, as a store that goes
// away between the backend write and the grant would.
type failingStore struct{ meta.Store }

func (failingStore) PutObjectACL(context.Context, string, string, meta.ObjectACL) error {
	return errors.New("store down")
}
func (failingStore) DeleteObjectACL(context.Context, string, string) error {
	return errors.New("store down")
}

// TestACLCrashLeavesPrivate fails the second step of each write and checks
// that nothing is left more public than intended.
func TestACLCrashLeavesPrivate(t *testing.T) {
	s := newTestServer(t)
	root := &s.root
	s.expect(root, "PUT", "/crash", "", nil, 200)
	s.expect(root, "PUT", "/crash/a", "v1", map[string]string{"x-amz-acl": "public-read"}, 200)
	s.expect(nil, "GET", "/crash/a", "", nil, 200)

	s.h.opts.Store = failingStore{s.store}
	// The grant cannot be written: the request fails and the new object is private.
	s.expect(root, "PUT", "/crash/b", "v1", map[string]string{"x-amz-acl": "public-read"}, 503)
	// Replacing a public object while the old grant cannot be removed: the
	// old grant is bound to the old object and does not apply.
	s.expect(root, "PUT", "/crash/a", "v2", nil, 200)
	s.h.opts.Store = s.store
	s.expect(nil, "GET", "/crash/b", "", nil, 403)
	s.expect(nil, "GET", "/crash/a", "", nil, 403)
	if got := s.expect(root, "GET", "/crash/a", "", nil, 200); got != "v2" {
		t.Fatalf("object body %q", got)
	}
}

func TestKeyLastUsed(t *testing.T) {
	s := newTestServer(t)
	k := s.addKey("USEDKEY", strings.Repeat("c", 64), "")
	s.expect(k, "GET", "/", "", nil, 200)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.store.GetKey(context.Background(), "USEDKEY")
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("last use never recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
