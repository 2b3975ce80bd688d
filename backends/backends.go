// Package backends defines the storage contract every Raya backend implements:
// a small, streaming, context-first interface that stores buckets, object
// bytes with their metadata, and the parts of multipart uploads.
//
// S3 semantics (ETags, checksums, preconditions, range rules, multipart
// validation, key validation) live once in the gateway's object layer; a
// backend only stores and streams. It imports only the standard library, so a
// plugin author can implement it without pulling in the gateway.
//
// Every backend runs the conformance suite in package backendtest.
package backends

import (
	"context"
	"errors"
	"io"
	"time"
)

// The error vocabulary. Backends wrap or return these so the gateway can map
// them to S3 errors (and the plugin boundary to gRPC codes and back). Use
// errors.Is to test for them.
var (
	ErrBucketNotFound = errors.New("backends: bucket not found")
	ErrBucketExists   = errors.New("backends: bucket already exists")
	ErrBucketNotEmpty = errors.New("backends: bucket not empty")
	ErrNotFound       = errors.New("backends: object not found")
	ErrUploadNotFound = errors.New("backends: multipart upload not found")
	ErrPartNotFound   = errors.New("backends: part not found")
	ErrInvalidRange   = errors.New("backends: invalid range")
	ErrInvalidKey     = errors.New("backends: invalid key")
	ErrUnavailable    = errors.New("backends: unavailable")
)

// Metadata is what a backend stores with an object's bytes and returns
// unchanged. The gateway fills it; the backend never interprets it.
type Metadata struct {
	// ETag is the entity tag without quotes: the MD5 hex of a single put, or
	// "md5-of-part-md5s-N" for a multipart object.
	ETag               string `json:"etag,omitempty"`
	ContentType        string `json:"contentType,omitempty"`
	ContentEncoding    string `json:"contentEncoding,omitempty"`
	ContentDisposition string `json:"contentDisposition,omitempty"`
	ContentLanguage    string `json:"contentLanguage,omitempty"`
	CacheControl       string `json:"cacheControl,omitempty"`
	Expires            string `json:"expires,omitempty"`
	// User holds x-amz-meta-* values, keyed by the lower-case name without
	// the prefix.
	User map[string]string `json:"user,omitempty"`
	// Checksums maps an algorithm name ("CRC32", "CRC32C", "CRC64NVME",
	// "SHA1", "SHA256") to its base64 value.
	Checksums map[string]string `json:"checksums,omitempty"`
	// ChecksumType is "FULL_OBJECT" or "COMPOSITE" (empty when there is none).
	ChecksumType string `json:"checksumType,omitempty"`
	// PartSizes lists the part sizes of an object made by a multipart upload,
	// in order; nil for a single put.
	PartSizes []int64 `json:"partSizes,omitempty"`
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key          string
	Size         int64
	LastModified time.Time
	Metadata
}

// PartInfo describes an uploaded part of a multipart upload.
type PartInfo struct {
	PartNumber   int
	Size         int64
	LastModified time.Time
	ETag         string
	Checksums    map[string]string
}

// PutOptions configure PutObject and UploadPart.
type PutOptions struct {
	// Size is the number of bytes the reader yields, or -1 when unknown.
	Size int64
	// Finish is called exactly once, after the reader returned io.EOF and
	// before the object (or part) becomes visible. It returns the metadata to
	// store; an error from it aborts the put and leaves nothing visible. For a
	// part, only ETag and Checksums are used. A nil Finish means no metadata.
	Finish func() (Metadata, error)
}

// Range selects bytes of an object. Offset < 0 means the last -Offset bytes
// (a suffix range; Length is ignored). Length < 0 means to the end; a
// Length of 0 selects nothing.
type Range struct {
	Offset int64
	Length int64
}

// Resolve turns r into an absolute offset and length within an object of the
// given size. It returns ErrInvalidRange when no byte is selected.
func (r Range) Resolve(size int64) (offset, length int64, err error) {
	if r.Offset < 0 {
		n := -r.Offset
		if size == 0 {
			return 0, 0, ErrInvalidRange
		}
		if n > size {
			n = size
		}
		return size - n, n, nil
	}
	if r.Offset >= size || r.Length == 0 {
		return 0, 0, ErrInvalidRange
	}
	n := r.Length
	if n < 0 || r.Offset+n > size {
		n = size - r.Offset
	}
	return r.Offset, n, nil
}

// ListOptions configure ListObjects.
type ListOptions struct {
	Prefix    string
	Delimiter string
	// StartAfter is exclusive: only keys and common prefixes that sort after
	// it (in byte order) are returned.
	StartAfter string
	// MaxKeys bounds len(Objects)+len(CommonPrefixes); <= 0 means 1000.
	MaxKeys int
}

// ListPage is one page of a listing, in lexicographic byte order, with
// objects and common prefixes merged into one sequence for MaxKeys.
type ListPage struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextStartAfter is the last key or common prefix of this page; pass it
	// as StartAfter to continue when IsTruncated.
	NextStartAfter string
}

// Backend stores buckets and objects. Implementations must be safe for
// concurrent use.
//
// Atomicity: a put, copy or multipart completion is visible whole or not at
// all. If the reader returns an error, the context ends, or Finish fails, the
// put is aborted and nothing becomes visible. Concurrent puts to one key: the
// last to complete wins; readers never see a torn object.
type Backend interface {
	// CreateBucket makes an empty bucket (ErrBucketExists if it exists).
	CreateBucket(ctx context.Context, bucket string) error
	// DeleteBucket removes an empty bucket (ErrBucketNotEmpty otherwise),
	// together with any unfinished multipart uploads.
	DeleteBucket(ctx context.Context, bucket string) error

	PutObject(ctx context.Context, bucket, key string, r io.Reader, opts *PutOptions) (*ObjectInfo, error)
	// GetObject opens an object, or the selected range of it when rng is not
	// nil. The returned info always describes the whole object.
	GetObject(ctx context.Context, bucket, key string, rng *Range) (*ObjectInfo, io.ReadCloser, error)
	HeadObject(ctx context.Context, bucket, key string) (*ObjectInfo, error)
	// DeleteObject removes an object; ErrNotFound when there is none.
	DeleteObject(ctx context.Context, bucket, key string) error
	ListObjects(ctx context.Context, bucket string, opts *ListOptions) (*ListPage, error)

	// CreateMultipartUpload starts an upload and returns its ID.
	CreateMultipartUpload(ctx context.Context, bucket, key string) (uploadID string, err error)
	// UploadPart stores (or replaces) one part; partNumber is 1..10000.
	UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts *PutOptions) (*PartInfo, error)
	// ListParts returns the uploaded parts ordered by part number.
	ListParts(ctx context.Context, bucket, key, uploadID string) ([]PartInfo, error)
	// CompleteMultipartUpload joins the named parts, in the given order, into
	// one object with the given metadata, and ends the upload (other parts
	// are discarded). The gateway has already validated the part list.
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, meta Metadata) (*ObjectInfo, error)
	// AbortMultipartUpload ends an upload and discards its parts.
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error

	// Close releases the backend's resources.
	Close() error
}

// Copier is an optional interface for backends that copy objects without
// streaming them through the gateway.
type Copier interface {
	CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta Metadata) (*ObjectInfo, error)
}
