// Package meta defines the metadata store: accounts, buckets, access keys and
// multipart upload records — the state that must have one authority across
// gateway instances. Object bytes and their metadata live in backends.
//
// Implementations live in subpackages (boltstore: embedded, one machine) and
// all pass the conformance suite in package metatest.
package meta

import (
	"context"
	"errors"
	"time"

	"github.com/cloudraya/raya/backends"
)

var (
	// ErrImmutable: an update tried to change what identifies a key.
	ErrImmutable = errors.New("meta: the access key ID, bucket and account of a key cannot change")
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("meta: not found")
	// ErrExists: a record with that identity already exists.
	ErrExists = errors.New("meta: already exists")
)

// Account owns buckets.
type Account struct {
	// ID is the canonical ID: 64 lower-case hex characters.
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Bucket is a globally unique bucket bound to one backend.
type Bucket struct {
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`   // account ID
	Backend   string    `json:"backend"` // backend name, e.g. "local"
	Region    string    `json:"region,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// ACL holds the grants beyond the owner's own full control; nil or
	// empty means private.
	ACL *ACL `json:"acl,omitempty"`
	// CORS rules answered for browser requests; nil means none.
	CORS []CORSRule `json:"cors,omitempty"`
	// PublicAccessBlock, when set, guards this bucket against public grants.
	PublicAccessBlock *PublicAccessBlock `json:"publicAccessBlock,omitempty"`
}

// Grant permissions, as in S3 ACLs.
const (
	PermFullControl = "FULL_CONTROL"
	PermRead        = "READ"
	PermWrite       = "WRITE"
	PermReadACP     = "READ_ACP"
	PermWriteACP    = "WRITE_ACP"
)

// Grantee group URIs.
const (
	AllUsers           = "http://acs.amazonaws.com/groups/global/AllUsers"
	AuthenticatedUsers = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

// Grant gives one grantee — a canonical user (ID) or a group (URI) — one
// permission.
type Grant struct {
	ID         string `json:"id,omitempty"`
	URI        string `json:"uri,omitempty"`
	Permission string `json:"permission"`
}

// ACL is an access control list. The owner always has full control; Grants
// lists what others get.
type ACL struct {
	Owner  string  `json:"owner"`
	Grants []Grant `json:"grants,omitempty"`
}

// ObjectACL is an object's ACL, bound to the object's identity: it applies
// only while the stored object has this ETag and modification time, so a
// grant never carries over to a newer object under the same key. Stores keep
// LastModified exactly (to the nanosecond).
type ObjectACL struct {
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"lastModified"`
	ACL          ACL       `json:"acl"`
}

// CORSRule is one rule of a bucket's CORS configuration.
type CORSRule struct {
	ID             string   `json:"id,omitempty"`
	AllowedOrigins []string `json:"allowedOrigins"`
	AllowedMethods []string `json:"allowedMethods"`
	AllowedHeaders []string `json:"allowedHeaders,omitempty"`
	ExposeHeaders  []string `json:"exposeHeaders,omitempty"`
	MaxAgeSeconds  int      `json:"maxAgeSeconds,omitempty"`
}

// PublicAccessBlock is S3's public access block configuration.
type PublicAccessBlock struct {
	BlockPublicAcls       bool `json:"blockPublicAcls"`
	IgnorePublicAcls      bool `json:"ignorePublicAcls"`
	BlockPublicPolicy     bool `json:"blockPublicPolicy"`
	RestrictPublicBuckets bool `json:"restrictPublicBuckets"`
}

// Key status values.
const (
	KeyActive   = "active"
	KeyInactive = "inactive"
)

// Key is an access key pair.
type Key struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	Account         string `json:"account"` // owning account ID
	// Bucket scopes the key to one bucket; empty for an account-wide key.
	Bucket string `json:"bucket,omitempty"`
	// Root marks the administrator pair, which may do everything.
	Root       bool       `json:"root,omitempty"`
	Label      string     `json:"label,omitempty"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
}

// KeyFilter selects keys in ListKeys; empty fields match everything.
type KeyFilter struct {
	Bucket  string
	Account string
}

// Upload is a multipart upload record. Its parts live in the backend.
type Upload struct {
	UploadID  string    `json:"uploadId"`
	Bucket    string    `json:"bucket"`
	Key       string    `json:"key"`
	Initiated time.Time `json:"initiated"`
	Owner     string    `json:"owner"`     // account ID of the initiator
	Initiator string    `json:"initiator"` // access key ID of the initiator
	// Metadata holds the headers given at creation, applied at completion.
	Metadata backends.Metadata `json:"metadata"`
	// ChecksumAlgorithm is the algorithm named at creation ("" when none).
	ChecksumAlgorithm string `json:"checksumAlgorithm,omitempty"`
	ChecksumType      string `json:"checksumType,omitempty"`
	// ACL to give the object at completion (nil: private).
	ACL *ACL `json:"acl,omitempty"`
}

// Store is the metadata store. Implementations are safe for concurrent use.
type Store interface {
	// CreateAccount adds an account (ErrExists when the ID is taken).
	CreateAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (*Account, error)
	// ListAccounts returns all accounts ordered by ID.
	ListAccounts(ctx context.Context) ([]Account, error)

	// CreateBucket atomically claims a bucket name (ErrExists when taken).
	CreateBucket(ctx context.Context, b Bucket) error
	GetBucket(ctx context.Context, name string) (*Bucket, error)
	// ListBuckets returns all buckets ordered by name.
	ListBuckets(ctx context.Context) ([]Bucket, error)
	// UpdateBucket replaces a bucket record (ErrNotFound when absent).
	UpdateBucket(ctx context.Context, b Bucket) error
	// DeleteBucket removes a bucket record with its multipart upload
	// records, object ACLs and the keys scoped to it (ErrNotFound when
	// absent).
	DeleteBucket(ctx context.Context, name string) error

	// PutKey creates or replaces a key.
	PutKey(ctx context.Context, k Key) error
	GetKey(ctx context.Context, accessKeyID string) (*Key, error)
	// ListKeys returns matching keys ordered by access key ID.
	ListKeys(ctx context.Context, f KeyFilter) ([]Key, error)
	DeleteKey(ctx context.Context, accessKeyID string) error
	// UpdateKey changes a key atomically: fn gets the stored record and
	// edits it in place; its error aborts the change. fn may run more than
	// once (on a conflicting concurrent write) and must not change the
	// access key ID, bucket or account. ErrNotFound when absent.
	UpdateKey(ctx context.Context, accessKeyID string, fn func(*Key) error) error
	// TouchKey records the key's last use (ErrNotFound when absent),
	// changing nothing else of the record.
	TouchKey(ctx context.Context, accessKeyID string, at time.Time) error

	// PutObjectACL creates or replaces an object's ACL record.
	PutObjectACL(ctx context.Context, bucket, key string, a ObjectACL) error
	// GetObjectACL returns an object's ACL record (ErrNotFound when none).
	GetObjectACL(ctx context.Context, bucket, key string) (*ObjectACL, error)
	// DeleteObjectACL removes an object's ACL record; removing a missing
	// record is not an error.
	DeleteObjectACL(ctx context.Context, bucket, key string) error

	// CreateUpload records a multipart upload (ErrExists on a duplicate ID).
	CreateUpload(ctx context.Context, u Upload) error
	GetUpload(ctx context.Context, bucket, uploadID string) (*Upload, error)
	// ListUploads returns a bucket's uploads ordered by key, then initiation
	// time, then upload ID.
	ListUploads(ctx context.Context, bucket string) ([]Upload, error)
	DeleteUpload(ctx context.Context, bucket, uploadID string) error

	Close() error
}
