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
	// DeleteBucket removes a bucket record with its multipart upload records
	// and the keys scoped to it (ErrNotFound when absent).
	DeleteBucket(ctx context.Context, name string) error

	// PutKey creates or replaces a key.
	PutKey(ctx context.Context, k Key) error
	GetKey(ctx context.Context, accessKeyID string) (*Key, error)
	// ListKeys returns matching keys ordered by access key ID.
	ListKeys(ctx context.Context, f KeyFilter) ([]Key, error)
	DeleteKey(ctx context.Context, accessKeyID string) error

	// CreateUpload records a multipart upload (ErrExists on a duplicate ID).
	CreateUpload(ctx context.Context, u Upload) error
	GetUpload(ctx context.Context, bucket, uploadID string) (*Upload, error)
	// ListUploads returns a bucket's uploads ordered by key, then initiation
	// time, then upload ID.
	ListUploads(ctx context.Context, bucket string) ([]Upload, error)
	DeleteUpload(ctx context.Context, bucket, uploadID string) error

	Close() error
}
