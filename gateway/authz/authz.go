// Package authz decides who may do what: it combines an access key's scope
// (root, account-wide, or one bucket) with bucket ownership. Anonymous
// callers (a nil key) are denied everything until an ACL grants them access.
package authz

import "github.com/cloudraya/raya/gateway/meta"

// CanCreateBucket reports whether k may create buckets: the root key and
// account-wide keys may; bucket-scoped keys and anonymous callers may not.
func CanCreateBucket(k *meta.Key) bool {
	return k != nil && (k.Root || k.Bucket == "")
}

// CanAccessBucket reports whether k may use bucket b and its objects.
func CanAccessBucket(k *meta.Key, b *meta.Bucket) bool {
	switch {
	case k == nil || b == nil:
		return false
	case k.Root:
		return true
	case k.Bucket != "":
		return k.Bucket == b.Name
	default:
		return k.Account == b.Owner
	}
}

// CanSeeBucket reports whether ListBuckets shows b to k.
func CanSeeBucket(k *meta.Key, b *meta.Bucket) bool { return CanAccessBucket(k, b) }
