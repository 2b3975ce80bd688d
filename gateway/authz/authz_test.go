package authz

import (
	"testing"

	"github.com/cloudraya/raya/gateway/meta"
)

func TestScopes(t *testing.T) {
	photos := &meta.Bucket{Name: "photos", Owner: "acct1"}
	docs := &meta.Bucket{Name: "docs", Owner: "acct2"}
	mine := &meta.Bucket{Name: "mine", Owner: "acct1"}
	root := &meta.Key{Root: true, Account: "acct0"}
	scoped := &meta.Key{Bucket: "photos", Account: "acct1"}
	wide := &meta.Key{Account: "acct1"}
	for _, tc := range []struct {
		name   string
		k      *meta.Key
		b      *meta.Bucket
		access bool
	}{
		{"root/photos", root, photos, true},
		{"root/docs", root, docs, true},
		{"scoped/own", scoped, photos, true},
		{"scoped/other account", scoped, docs, false},
		{"scoped/same account other bucket", scoped, mine, false},
		{"wide/own", wide, photos, true},
		{"wide/other", wide, docs, false},
		{"anonymous", nil, photos, false},
	} {
		if got := IsOwner(tc.k, tc.b); got != tc.access {
			t.Errorf("%s: access %v, want %v", tc.name, got, tc.access)
		}
	}
	if CanCreateBucket(scoped) || !CanCreateBucket(wide) || !CanCreateBucket(root) || CanCreateBucket(nil) {
		t.Error("CanCreateBucket scopes wrong")
	}
}

func TestGrants(t *testing.T) {
	pub, _ := Canned("public-read", "acct1")
	pubrw, _ := Canned("public-read-write", "acct1")
	auth, _ := Canned("authenticated-read", "acct1")
	priv, _ := Canned("private", "acct1")
	toAcct2 := &meta.ACL{Owner: "acct1", Grants: []meta.Grant{{ID: "acct1", Permission: meta.PermFullControl}, {ID: "acct2", Permission: meta.PermRead}}}
	scopedOther := &meta.Key{Bucket: "other", Account: "acct1"}
	acct2 := &meta.Key{Bucket: "x", Account: "acct2"}
	for _, tc := range []struct {
		name         string
		k            *meta.Key
		acl          *meta.ACL
		perm         string
		ignorePublic bool
		want         bool
	}{
		{"anon public-read", nil, pub, meta.PermRead, false, true},
		{"anon public-read write", nil, pub, meta.PermWrite, false, false},
		{"anon public-read-write write", nil, pubrw, meta.PermWrite, false, true},
		{"anon ignored", nil, pub, meta.PermRead, true, false},
		{"anon authenticated-read", nil, auth, meta.PermRead, false, false},
		{"key authenticated-read", acct2, auth, meta.PermRead, false, true},
		{"anon private", nil, priv, meta.PermRead, false, false},
		{"nil acl", acct2, nil, meta.PermRead, false, false},
		{"grant to account", acct2, toAcct2, meta.PermRead, false, true},
		{"grant to account other perm", acct2, toAcct2, meta.PermWrite, false, false},
		{"owner grant does not widen a scoped key", scopedOther, toAcct2, meta.PermRead, false, false},
	} {
		if got := Granted(tc.k, tc.acl, tc.perm, tc.ignorePublic); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
	if _, err := Canned("public-everything", "a"); err != ErrUnknownCanned {
		t.Error("unknown canned ACL accepted")
	}
	if !IsPublic(pub) || IsPublic(priv) || !IsPrivate(priv) || IsPrivate(toAcct2) || !IsPrivate(nil) {
		t.Error("IsPublic/IsPrivate wrong")
	}
}
