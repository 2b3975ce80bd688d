// Package authz decides who may do what. It combines an access key's scope
// (root, account-wide, or one bucket) with bucket ownership, and with the
// grants of S3 ACLs: canned ACLs, grants to canonical users and to the
// AllUsers and AuthenticatedUsers groups. Everything is private by default;
// anonymous callers (a nil key) get exactly what AllUsers is granted.
package authz

import (
	"errors"
	"slices"
	"strings"

	"github.com/cloudraya/raya/gateway/meta"
)

// CanCreateBucket reports whether k may create buckets: the root key and
// account-wide keys may; bucket-scoped keys and anonymous callers may not.
func CanCreateBucket(k *meta.Key) bool {
	return k != nil && (k.Root || k.Bucket == "")
}

// IsOwner reports whether k holds the owner's rights on bucket b (and on
// its objects, which the bucket owner owns): the root key, a key scoped to
// b, or an account-wide key of b's owner.
func IsOwner(k *meta.Key, b *meta.Bucket) bool {
	switch {
	case k == nil || b == nil:
		return false
	case k.Root:
		return true
	case k.Bucket != "":
		return k.Bucket == b.Name && k.Account == b.Owner
	default:
		return k.Account == b.Owner
	}
}

// CanSeeBucket reports whether ListBuckets shows b to k.
func CanSeeBucket(k *meta.Key, b *meta.Bucket) bool { return IsOwner(k, b) }

// Granted reports whether acl grants perm to the caller k (nil: anonymous).
// A grant to the resource owner's own ID confers nothing here: the owner's
// rights follow the key's scope (IsOwner), so a key scoped to another bucket
// does not gain them through the owner's grant. With ignorePublic, grants to
// AllUsers and AuthenticatedUsers are ignored (IgnorePublicAcls).
func Granted(k *meta.Key, acl *meta.ACL, perm string, ignorePublic bool) bool {
	if acl == nil {
		return false
	}
	for _, g := range acl.Grants {
		if g.Permission != perm && g.Permission != meta.PermFullControl {
			continue
		}
		switch {
		case g.URI == meta.AllUsers:
			if !ignorePublic {
				return true
			}
		case g.URI == meta.AuthenticatedUsers:
			if k != nil && !ignorePublic {
				return true
			}
		case g.ID != "" && k != nil && g.ID == k.Account && g.ID != acl.Owner:
			return true
		}
	}
	return false
}

// BucketAllows reports whether k may exercise perm on bucket b, as its owner
// or through the bucket's grants.
func BucketAllows(k *meta.Key, b *meta.Bucket, perm string, blockAll bool) bool {
	if IsOwner(k, b) {
		return true
	}
	return Granted(k, b.ACL, perm, blockAll || (b.PublicAccessBlock != nil && b.PublicAccessBlock.IgnorePublicAcls))
}

// ErrUnknownCanned is returned for a canned ACL name S3 does not define.
var ErrUnknownCanned = errors.New("authz: unknown canned ACL")

// Canned returns the ACL a canned name stands for, for a resource owned by
// owner. Objects are owned by their bucket's owner, so bucket-owner-read and
// bucket-owner-full-control add nothing to private.
func Canned(name, owner string) (*meta.ACL, error) {
	acl := &meta.ACL{Owner: owner}
	add := func(uri, perm string) { acl.Grants = append(acl.Grants, meta.Grant{URI: uri, Permission: perm}) }
	switch strings.ToLower(name) {
	case "", "private", "bucket-owner-read", "bucket-owner-full-control":
	case "public-read":
		add(meta.AllUsers, meta.PermRead)
	case "public-read-write":
		add(meta.AllUsers, meta.PermRead)
		add(meta.AllUsers, meta.PermWrite)
	case "authenticated-read":
		add(meta.AuthenticatedUsers, meta.PermRead)
	default:
		return nil, ErrUnknownCanned
	}
	return acl, nil
}

// IsPublic reports whether acl grants anything to AllUsers or
// AuthenticatedUsers.
func IsPublic(acl *meta.ACL) bool {
	if acl == nil {
		return false
	}
	return slices.ContainsFunc(acl.Grants, func(g meta.Grant) bool {
		return g.URI == meta.AllUsers || g.URI == meta.AuthenticatedUsers
	})
}

// IsPrivate reports whether acl grants nothing beyond the owner.
func IsPrivate(acl *meta.ACL) bool {
	if acl == nil {
		return true
	}
	for _, g := range acl.Grants {
		if g.URI != "" || g.ID != acl.Owner {
			return false
		}
	}
	return true
}
