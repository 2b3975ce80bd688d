// Package s3backend is a Raya backend over any upstream S3 service — Amazon
// S3, MinIO, another Raya — through aws-sdk-go-v2. A Raya bucket maps to the
// upstream bucket Config.BucketPrefix + name; objects keep their keys.
//
// # Atomicity
//
// The upstream must not show an object before PutOptions.Finish succeeded,
// and S3 sets an object's metadata when the object is written, while Finish
// only returns the metadata after the body was read. So:
//
//   - A body that fits in one part buffer (Config.PartSize) is read into
//     memory, Finish runs, then one upstream PutObject writes bytes and
//     metadata together.
//   - A larger body streams, one PartSize buffer at a time, into an upstream
//     multipart upload of a staging key in the meta bucket (below). After EOF
//     Finish runs, the staging upload completes, and one server-side copy
//     (CopyObject with REPLACE metadata; multipart UploadPartCopy above
//     5 GiB) writes the final object with its metadata; then the staging
//     object is deleted. Any failure (reader, context, Finish) aborts the
//     staging upload: nothing ever appears under the user's key.
//   - A multipart part of known size above PartSize streams straight into the
//     upstream UploadPart, withholding its last byte until Finish succeeded:
//     if Finish fails the request is cut short and the upstream never
//     receives the whole part, so it never stores it. Smaller parts are
//     buffered like small puts; a part of unknown size above PartSize is
//     staged like a large put and moved in with UploadPartCopy.
//
// Memory per request is bounded by one PartSize buffer.
//
// # Metadata
//
// Content-Type, -Encoding, -Disposition, -Language and Cache-Control are
// stored natively. User metadata with plain names and printable ASCII values
// is stored natively as x-amz-meta-*. Everything else — the gateway's ETag,
// Expires (kept as the exact string), checksums, checksum type, part sizes
// (run-length encoded, so a 10,000-part upload of equal parts takes a few
// bytes) and user entries that HTTP headers would mangle — goes into one
// x-amz-meta-raya field: base64url of a compact JSON record. Every object we
// write has that field; an object without it (written by someone else) is
// read with the upstream ETag and all its x-amz-meta-* as user metadata.
//
// When the whole x-amz-meta-* set would exceed S3's 2 KB limit, the full
// Metadata goes into an immutable sidecar object in the meta bucket, written
// before the object, named by a random ID that the object's raya field
// carries (together with the ETag, so listings need no sidecar). DeleteObject
// removes the sidecar after the object; an overwrite leaves the old sidecar
// behind until DeleteBucket (documented limitation, only for objects with
// more than 2 KB of metadata).
//
// # The meta bucket
//
// Staging objects, staging multipart uploads, part metadata and metadata
// sidecars live in one upstream bucket per backend, Config.MetaBucket
// (default BucketPrefix + "raya-meta"), created on first use, under
// "<raya bucket>/". User buckets therefore contain only user objects, so
// listings need no filtering, and DeleteBucket clears "<bucket>/" in the meta
// bucket. A Raya bucket whose upstream name would be the meta bucket cannot
// be created (ErrBucketExists).
//
// # Multipart uploads
//
// S3 binds an upload to its key and its metadata to CreateMultipartUpload,
// before the gateway knows the final ETag and part sizes. An upload is
// therefore a native upstream multipart upload of a staging key in the meta
// bucket, "<bucket>/u/<sha256(key)>/<token>/obj". The upload ID handed to the
// gateway is "<token>.<base64url(upstream upload ID)>": the staging key is
// derived from bucket, key and token, so a call with another bucket or key
// reaches no upload (ErrUploadNotFound), and any gateway instance can
// continue an upload. Part metadata (the gateway's part ETag and checksums)
// is kept in empty sidecar objects whose key encodes it
// ("…/p/<part>/<upstream part ETag>/<time>/<record>"), so ListParts costs
// one upstream ListParts plus one listing. CompleteMultipartUpload completes
// the staging upload, then copies it server-side to the user's key with the
// final metadata (the visibility point), then deletes the staging data. A
// retried completion whose upstream upload already completed resumes from the
// staging object.
//
// # Costs
//
// ListObjects issues one HEAD per listed object (bounded concurrency,
// Options.ListConcurrency) because ListObjectsV2 does not return metadata and
// the gateway's ETag must be returned. PutObject issues a HEAD after the
// write to return the upstream's exact LastModified (the gateway binds object
// ACLs to ETag and LastModified). Large puts and multipart completions cost
// one server-side copy.
package s3backend

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cloudraya/raya/backends"
)

// Part size limits of S3 multipart uploads.
const (
	minPartSize     = 5 << 20
	maxPartSize     = 5 << 30
	maxCopySize     = 5 << 30 // largest single CopyObject
	defaultPartSize = 16 << 20
)

// Config describes the upstream S3 service.
type Config struct {
	// Endpoint is the upstream URL (https://s3.example.com); empty means
	// Amazon S3 of Region.
	Endpoint string
	// Region signs requests; default "us-east-1".
	Region                       string
	AccessKeyID, SecretAccessKey string
	// BucketPrefix is prepended to Raya bucket names to form upstream bucket
	// names.
	BucketPrefix string
	// PathStyle addresses buckets in the path instead of the host name.
	PathStyle bool
	// CACertFile is a PEM bundle of extra trusted CAs for the endpoint.
	CACertFile string
	// PartSize is the staging part size: bodies up to it are buffered and
	// written with one PutObject; larger ones stream in parts of this size.
	// Default 16 MiB; 5 MiB to 5 GiB.
	PartSize int64
	// MetaBucket is the upstream bucket for staging data and metadata that
	// does not fit in object headers; default BucketPrefix + "raya-meta".
	MetaBucket string
}

// ConfigFromMap builds a Config from string settings, as found in a
// configuration file or a plugin's environment. Keys: endpoint, region,
// access_key_id, secret_access_key, bucket_prefix, path_style (a boolean),
// ca_cert_file, part_size (bytes, or with a KiB/MiB/GiB suffix),
// meta_bucket. Unknown keys are an error.
func ConfigFromMap(m map[string]string) (Config, error) {
	var c Config
	for k, v := range m {
		switch k {
		case "endpoint":
			c.Endpoint = v
		case "region":
			c.Region = v
		case "access_key_id":
			c.AccessKeyID = v
		case "secret_access_key":
			c.SecretAccessKey = v
		case "bucket_prefix":
			c.BucketPrefix = v
		case "path_style":
			if v == "" {
				continue
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("s3backend: path_style %q: want true or false", v)
			}
			c.PathStyle = b
		case "ca_cert_file":
			c.CACertFile = v
		case "part_size":
			if v == "" {
				continue
			}
			n, err := parseSize(v)
			if err != nil {
				return Config{}, fmt.Errorf("s3backend: part_size %q: %v", v, err)
			}
			c.PartSize = n
		case "meta_bucket":
			c.MetaBucket = v
		default:
			return Config{}, fmt.Errorf("s3backend: unknown setting %q", k)
		}
	}
	return c, c.validate()
}

func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a number of bytes, optionally with a KiB, MiB or GiB suffix")
	}
	return n * mult, nil
}

// validate checks c and reports the first problem.
func (c *Config) validate() error {
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("s3backend: set both access_key_id and secret_access_key, or neither")
	}
	if c.PartSize != 0 && (c.PartSize < minPartSize || c.PartSize > maxPartSize) {
		return fmt.Errorf("s3backend: part_size %d out of range [5 MiB, 5 GiB]", c.PartSize)
	}
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		return fmt.Errorf("s3backend: endpoint %q: want an http:// or https:// URL", c.Endpoint)
	}
	return nil
}

// Options tune the backend. The zero value (or nil) means defaults.
type Options struct {
	// ListConcurrency bounds the HEAD requests ListObjects issues at once;
	// default 16.
	ListConcurrency int
	// HTTPClient replaces the HTTP client (its TLS settings then override
	// Config.CACertFile).
	HTTPClient *http.Client
	// RetryMaxAttempts is the SDK's attempt count for retryable errors;
	// default the SDK's (3).
	RetryMaxAttempts int
}

// Backend stores Raya buckets as buckets of an upstream S3 service.
type Backend struct {
	cfg    Config
	opts   Options
	client *s3.Client
	tr     *http.Transport // nil with Options.HTTPClient
	meta   string          // the meta bucket
	// copyLimit is the largest object copied with one CopyObject (and the
	// part size of larger copies); maxCopySize but in tests.
	copyLimit int64

	bufs sync.Pool // *[]byte of cfg.PartSize

	metaMu    sync.Mutex
	metaReady bool
}

// Interface guards.
var (
	_ backends.Backend = (*Backend)(nil)
	_ backends.Copier  = (*Backend)(nil)
)

// New returns a backend for cfg. It does not contact the upstream; the meta
// bucket is created on first use.
func New(ctx context.Context, cfg Config, opts *Options) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ListConcurrency <= 0 {
		o.ListConcurrency = 16
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = defaultPartSize
	}
	if cfg.MetaBucket == "" {
		cfg.MetaBucket = cfg.BucketPrefix + "raya-meta"
	}
	b := &Backend{cfg: cfg, opts: o, meta: cfg.MetaBucket, copyLimit: maxCopySize}
	hc := o.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		if cfg.CACertFile != "" {
			pem, err := os.ReadFile(cfg.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("s3backend: ca_cert_file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("s3backend: ca_cert_file %s: no PEM certificates", cfg.CACertFile)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		b.tr = tr
		hc = &http.Client{Transport: tr}
	}
	s3o := s3.Options{
		Region:                     cfg.Region,
		UsePathStyle:               cfg.PathStyle,
		HTTPClient:                 hc,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           o.RetryMaxAttempts,
	}
	if cfg.AccessKeyID != "" {
		s3o.Credentials = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	}
	if cfg.Endpoint != "" {
		s3o.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	b.client = s3.New(s3o)
	size := int(cfg.PartSize) + 1 // one more byte tells a body of exactly PartSize
	b.bufs.New = func() any { p := make([]byte, size); return &p }
	return b, nil
}

// Close releases idle connections.
func (b *Backend) Close() error {
	if b.tr != nil {
		b.tr.CloseIdleConnections()
	}
	return nil
}

// Client returns the underlying S3 client, for tests and tools.
func (b *Backend) Client() *s3.Client { return b.client }

// upstream returns the upstream bucket of a Raya bucket.
func (b *Backend) upstream(bucket string) string { return b.cfg.BucketPrefix + bucket }

func newToken() string {
	var p [12]byte
	if _, err := rand.Read(p[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(p[:])
}

// ensureMeta creates the meta bucket once.
func (b *Backend) ensureMeta(ctx context.Context) error {
	b.metaMu.Lock()
	defer b.metaMu.Unlock()
	if b.metaReady {
		return nil
	}
	_, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.meta)})
	if err != nil {
		if !errors.Is(mapErr(err), backends.ErrNotFound) {
			return fmt.Errorf("s3backend: meta bucket %s: %w", b.meta, mapErr(err))
		}
		if _, err := b.client.CreateBucket(ctx, b.createBucketInput(b.meta)); err != nil {
			if e := mapErr(err); !errors.Is(e, backends.ErrBucketExists) {
				return fmt.Errorf("s3backend: create meta bucket %s: %w", b.meta, e)
			}
		}
	}
	b.metaReady = true
	return nil
}

func (b *Backend) createBucketInput(name string) *s3.CreateBucketInput {
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if b.cfg.Region != "us-east-1" && b.cfg.Endpoint == "" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(b.cfg.Region),
		}
	}
	return in
}

// ---- buckets ----

// CreateBucket creates the upstream bucket.
func (b *Backend) CreateBucket(ctx context.Context, bucket string) error {
	if bucket == "" {
		return errors.New("s3backend: empty bucket name")
	}
	if b.upstream(bucket) == b.meta {
		return fmt.Errorf("%w: %s is reserved for the backend's metadata", backends.ErrBucketExists, bucket)
	}
	if _, err := b.client.CreateBucket(ctx, b.createBucketInput(b.upstream(bucket))); err != nil {
		return wrap("create bucket "+bucket, err)
	}
	return nil
}

// DeleteBucket deletes an empty upstream bucket, after aborting its
// unfinished uploads and clearing its data in the meta bucket.
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	if b.upstream(bucket) == b.meta {
		return fmt.Errorf("%w: %s", backends.ErrBucketNotFound, bucket)
	}
	out, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.upstream(bucket)), MaxKeys: aws.Int32(1)})
	if err != nil {
		return wrap("delete bucket "+bucket, err)
	}
	if len(out.Contents) > 0 {
		return fmt.Errorf("%w: %s", backends.ErrBucketNotEmpty, bucket)
	}
	if err := b.ensureMeta(ctx); err != nil {
		return err
	}
	if err := b.abortUploads(ctx, bucket+"/"); err != nil {
		return err
	}
	if err := b.deletePrefix(ctx, bucket+"/"); err != nil {
		return err
	}
	if _, err := b.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b.upstream(bucket))}); err != nil {
		return wrap("delete bucket "+bucket, err)
	}
	return nil
}

// bucketExists maps a missing bucket to ErrBucketNotFound.
func (b *Backend) checkBucket(ctx context.Context, bucket string) error {
	if b.upstream(bucket) == b.meta {
		return fmt.Errorf("%w: %s", backends.ErrBucketNotFound, bucket)
	}
	_, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.upstream(bucket))})
	if err == nil {
		return nil
	}
	err = mapErr(err)
	if errors.Is(err, backends.ErrNotFound) {
		return fmt.Errorf("%w: %s", backends.ErrBucketNotFound, bucket)
	}
	return fmt.Errorf("s3backend: bucket %s: %w", bucket, err)
}

// abortUploads aborts the upstream uploads in the meta bucket under prefix.
func (b *Backend) abortUploads(ctx context.Context, prefix string) error {
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(b.meta), Prefix: aws.String(prefix)}
	for {
		out, err := b.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return wrap("list staging uploads", err)
		}
		for _, u := range out.Uploads {
			_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b.meta), Key: u.Key, UploadId: u.UploadId})
			if err != nil && !errors.Is(mapErr(err), backends.ErrUploadNotFound) {
				return wrap("abort staging upload", err)
			}
		}
		if !aws.ToBool(out.IsTruncated) || (aws.ToString(out.NextKeyMarker) == "" && aws.ToString(out.NextUploadIdMarker) == "") {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// deletePrefix deletes every meta-bucket object under prefix.
func (b *Backend) deletePrefix(ctx context.Context, prefix string) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.meta), Prefix: aws.String(prefix)}
	for {
		out, err := b.client.ListObjectsV2(ctx, in)
		if err != nil {
			return wrap("list meta objects", err)
		}
		var ids []types.ObjectIdentifier
		for _, o := range out.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if err := b.deleteMeta(ctx, ids); err != nil {
			return err
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
			return nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// deleteMeta deletes meta-bucket objects (up to 1000).
func (b *Backend) deleteMeta(ctx context.Context, ids []types.ObjectIdentifier) error {
	if len(ids) == 0 {
		return nil
	}
	out, err := b.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(b.meta),
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return wrap("delete meta objects", err)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		return fmt.Errorf("s3backend: delete meta object %q: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
	}
	return nil
}

// deleteMetaKeys deletes meta-bucket keys, best effort, with a fresh
// context (cleanup after a cancelled request must still run).
func (b *Backend) cleanup(keys ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ids []types.ObjectIdentifier
	for _, k := range keys {
		if k != "" {
			ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
		}
	}
	_ = b.deleteMeta(ctx, ids)
}
