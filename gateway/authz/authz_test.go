package authz

import (
	"testing"

	"github.com/cloudraya/raya/gateway/meta"
)

func TestScopes(t *testing.T) {
	photos := &meta.Bucket{Name: "photos", Owner: "acct1"}
	docs := &meta.Bucket{Name: "docs", Owner: "acct2"}
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
		{"scoped/other", scoped, docs, false},
		{"wide/own", wide, photos, true},
		{"wide/other", wide, docs, false},
		{"anonymous", nil, photos, false},
	} {
		if got := CanAccessBucket(tc.k, tc.b); got != tc.access {
			t.Errorf("%s: access %v, want %v", tc.name, got, tc.access)
		}
	}
	if CanCreateBucket(scoped) || !CanCreateBucket(wide) || !CanCreateBucket(root) || CanCreateBucket(nil) {
		t.Error("CanCreateBucket scopes wrong")
	}
}
