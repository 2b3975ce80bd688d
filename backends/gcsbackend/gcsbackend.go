// Package gcsbackend is Raya's Google Cloud Storage backend: a
// backends.Backend (and backends.Copier) over cloud.google.com/go/storage.
// The composition root (gateway/app) builds it from configuration with
// ConfigFromMap and New; nothing else needs to import it.
//
// Layout: the Raya bucket B lives in the GCS bucket Config.BucketPrefix+B
// (see gcsBucketName for names GCS would refuse). A key is stored under an
// order-preserving encoding of itself (identical for keys without control
// bytes; see keys.go), so GCS prefix queries and StartOffset serve listings.
// Hidden objects of the backend itself live in the same bucket under names
// starting with the bytes 0x01 0x1E, which no encoded key produces and
// listings skip:
//
//	\x01\x1Et/<random>           temporary upload of an in-flight put
//	\x01\x1Eu/<uploadID>         multipart upload marker (custom metadata: the key)
//	\x01\x1Eu/<uploadID>/<nnnnn> uploaded part nnnnn (metadata: part ETag, checksums)
//	\x01\x1Eu/<uploadID>/c/<id>  intermediate compose result
//
// They share the bucket because GCS Compose only joins objects of one
// bucket. A companion bucket would double bucket creation (rate-limited by
// GCS) and make bucket create/delete non-atomic.
//
// Atomicity. GCS makes an object visible only when its upload finalizes, but
// an upload's metadata is fixed when it starts, and Finish returns the
// metadata only after the body ended. So:
//
//   - a body that ends within one chunk (Config.ChunkSize) is buffered, Finish
//     is called, and it is uploaded in one request with its metadata;
//   - a larger body streams, ChunkSize at a time, into a resumable upload of a
//     hidden temporary object; after io.EOF, Finish is called, the upload is
//     finalized, and the temporary object is copied (server side, a metadata
//     operation within one bucket) to the key with the final metadata, then
//     deleted. A reader error, a cancelled context or a Finish error cancels
//     the upload's context (GCS never finalizes it) or deletes the temporary
//     object: the key is untouched. A crash can leave a temporary object;
//     buckets created by this backend carry a lifecycle rule that deletes
//     them after Options.TempObjectTTLDays.
//
// Memory per put is bounded by about two chunks.
//
// Reads pin the generation they looked up, so GET returns the bytes that
// match the metadata it reports, and a concurrent replacement never tears a
// read. An open reader of a replaced object keeps streaming on GCS (and on
// the emulator); a reader that must reconnect after the object was replaced
// fails rather than mixing versions.
//
// Multipart uploads are emulated: parts are hidden objects, Complete joins
// them with Compose (at most 32 sources per call, so larger uploads compose
// hierarchically through hidden intermediates), the last compose writing a
// hidden staging object with the final metadata that is then promoted to
// the key by a server-side rewrite; then it deletes marker, parts and
// intermediates. Copies are staged and promoted the same way. Staging
// keeps stale fields out: a rewrite inherits every source field the
// request leaves empty, and the emulator's compose keeps those of an
// existing destination.
//
// An upload whose marker is gone is gone: UploadPart, ListParts, Complete
// and Abort check the marker (and the key recorded in it) first. A part
// upload racing an Abort can leave a part behind; DeleteBucket removes all
// hidden objects.
//
// Errors map to the backends vocabulary: missing objects to ErrNotFound
// (or ErrBucketNotFound after a bucket check), missing buckets to
// ErrBucketNotFound, 409 on bucket creation to ErrBucketExists, 429, 5xx and
// network failures to ErrUnavailable.
package gcsbackend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/cloudraya/raya/backends"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// Config is the operator configuration of a GCS backend.
type Config struct {
	// Project is the Google Cloud project that owns created buckets.
	Project string
	// BucketPrefix is prepended to Raya bucket names to form GCS bucket names.
	BucketPrefix string
	// Endpoint overrides the JSON API endpoint, e.g. an emulator at
	// http://127.0.0.1:4443/storage/v1/. Without CredentialsFile, requests
	// to an Endpoint are sent unauthenticated.
	Endpoint string
	// CredentialsFile is a service account (or other Google credentials)
	// JSON file; empty means Application Default Credentials.
	CredentialsFile string
	// ChunkSize is the upload chunk size in bytes (rounded up to a multiple
	// of 256 KiB); bodies up to it are uploaded in one request. It bounds
	// the memory of a put. 0 means 16 MiB.
	ChunkSize int
}

const (
	defaultChunkSize = 16 << 20
	minChunk         = 256 << 10
)

// ConfigFromMap reads a Config from string settings with the keys project,
// bucket_prefix, endpoint, credentials_file and chunk_size. Unknown keys are
// an error, so typos do not go unnoticed.
func ConfigFromMap(m map[string]string) (Config, error) {
	var c Config
	for k, v := range m {
		switch k {
		case "project":
			c.Project = v
		case "bucket_prefix":
			c.BucketPrefix = v
		case "endpoint":
			c.Endpoint = v
		case "credentials_file":
			c.CredentialsFile = v
		case "chunk_size":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return Config{}, fmt.Errorf("gcsbackend: chunk_size %q: not an integer number of bytes", v)
			}
			c.ChunkSize = n
		default:
			return Config{}, fmt.Errorf("gcsbackend: unknown setting %q (known: project, bucket_prefix, endpoint, credentials_file, chunk_size)", k)
		}
	}
	return c, c.Validate()
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.ChunkSize < 0 {
		return fmt.Errorf("gcsbackend: chunk_size %d is negative", c.ChunkSize)
	}
	if len(c.BucketPrefix) > 40 {
		return fmt.Errorf("gcsbackend: bucket_prefix %q is longer than 40 characters", c.BucketPrefix)
	}
	for _, r := range c.BucketPrefix {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("gcsbackend: bucket_prefix %q: only a-z, 0-9, '-' and '_' are allowed", c.BucketPrefix)
		}
	}
	if c.BucketPrefix != "" && (c.BucketPrefix[0] == '-' || c.BucketPrefix[0] == '_') {
		return fmt.Errorf("gcsbackend: bucket_prefix %q must start with a letter or digit", c.BucketPrefix)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("gcsbackend: endpoint %q is not an http(s) URL", c.Endpoint)
		}
	}
	return nil
}

// Options tune the backend. The zero value (or nil) means defaults.
type Options struct {
	// Client, when set, is used instead of building one from Config
	// (Endpoint and CredentialsFile are then ignored). Close does not close it.
	Client *storage.Client
	// ClientOptions are appended to those derived from Config.
	ClientOptions []option.ClientOption
	// Location of created buckets; empty means the GCS default (US).
	Location string
	// SoftDeleteRetention is the soft-delete retention of created buckets.
	// 0 (default) disables soft delete: every large put and every multipart
	// upload writes hidden objects that are deleted right away, and soft
	// delete would bill them for the retention period.
	SoftDeleteRetention time.Duration
	// TempObjectTTLDays is the age in days after which a lifecycle rule on
	// created buckets deletes temporary objects left by a crash; default 1,
	// negative for no rule.
	TempObjectTTLDays int
	// Logger receives failures of best-effort cleanup; default slog.Default().
	Logger *slog.Logger
}

// Backend stores Raya buckets in GCS buckets.
type Backend struct {
	cfg        Config
	opts       Options
	client     *storage.Client
	ownsClient bool
}

// Interface guards.
var (
	_ backends.Backend = (*Backend)(nil)
	_ backends.Copier  = (*Backend)(nil)
)

// New returns a backend for cfg.
func New(ctx context.Context, cfg Config, opts *Options) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TempObjectTTLDays == 0 {
		o.TempObjectTTLDays = 1
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = defaultChunkSize
	}
	cfg.ChunkSize = (cfg.ChunkSize + minChunk - 1) / minChunk * minChunk
	b := &Backend{cfg: cfg, opts: o, client: o.Client}
	if b.client == nil {
		var copts []option.ClientOption
		if cfg.Endpoint != "" {
			copts = append(copts, option.WithEndpoint(cfg.Endpoint))
			if cfg.CredentialsFile == "" {
				copts = append(copts, option.WithoutAuthentication())
			}
		}
		if cfg.CredentialsFile != "" {
			typ, err := credentialsType(cfg.CredentialsFile)
			if err != nil {
				return nil, err
			}
			copts = append(copts, option.WithAuthCredentialsFile(typ, cfg.CredentialsFile))
		}
		copts = append(copts, o.ClientOptions...)
		c, err := storage.NewClient(ctx, copts...)
		if err != nil {
			return nil, fmt.Errorf("gcsbackend: %w", err)
		}
		b.client, b.ownsClient = c, true
	}
	return b, nil
}

func credentialsType(path string) (option.CredentialsType, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("gcsbackend: credentials_file: %w", err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("gcsbackend: credentials_file %s: %w", path, err)
	}
	switch t := option.CredentialsType(f.Type); t {
	case option.ServiceAccount, option.AuthorizedUser, option.ExternalAccount, option.ImpersonatedServiceAccount:
		return t, nil
	default:
		return "", fmt.Errorf("gcsbackend: credentials_file %s: unsupported credentials type %q", path, f.Type)
	}
}

// Close releases the client (unless it came from Options.Client).
func (b *Backend) Close() error {
	if b.ownsClient {
		return b.client.Close()
	}
	return nil
}

// ---- helpers ----

func newID() string {
	var p [16]byte
	_, _ = rand.Read(p[:]) // never fails
	return hex.EncodeToString(p[:])
}

func (b *Backend) bucket(name string) *storage.BucketHandle {
	return b.client.Bucket(gcsBucketName(b.cfg.BucketPrefix, name))
}

// classify maps a GCS client error to the backends vocabulary. Context
// errors pass through unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{context.Canceled, context.DeadlineExceeded, backends.ErrNotFound,
		backends.ErrBucketNotFound, backends.ErrUnavailable, backends.ErrInvalidRange, backends.ErrInvalidKey} {
		if errors.Is(err, known) {
			return err // already classified
		}
	}
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		return fmt.Errorf("%w: %w", backends.ErrBucketNotFound, err)
	case errors.Is(err, storage.ErrObjectNotExist):
		return fmt.Errorf("%w: %w", backends.ErrNotFound, err)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch {
		case ge.Code == http.StatusNotFound:
			return fmt.Errorf("%w: %w", backends.ErrNotFound, err)
		case ge.Code == http.StatusTooManyRequests || ge.Code >= 500:
			return fmt.Errorf("%w: %w", backends.ErrUnavailable, err)
		}
		return fmt.Errorf("gcsbackend: %w", err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w: %w", backends.ErrUnavailable, err)
	}
	return fmt.Errorf("gcsbackend: %w", err)
}

func httpCode(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// objectErr classifies err from an operation on an object of bucket; a
// "not found" is refined to ErrBucketNotFound when the bucket is missing
// (GCS answers 404 for both).
func (b *Backend) objectErr(ctx context.Context, bucket string, err error) error {
	err = classify(err)
	if errors.Is(err, backends.ErrNotFound) {
		if berr := b.bucketExists(ctx, bucket); berr != nil {
			return berr
		}
	}
	return err
}

func (b *Backend) bucketExists(ctx context.Context, bucket string) error {
	_, err := b.bucket(bucket).Attrs(ctx)
	if err == nil {
		return nil
	}
	if errors.Is(err, storage.ErrBucketNotExist) || httpCode(err) == http.StatusNotFound {
		return fmt.Errorf("%w: %s", backends.ErrBucketNotFound, bucket)
	}
	return classify(err)
}

func objectInfo(key string, a *storage.ObjectAttrs) (*backends.ObjectInfo, error) {
	m, err := decodeMeta(a)
	if err != nil {
		return nil, err
	}
	mt := a.Created
	if mt.IsZero() {
		mt = a.Updated
	}
	return &backends.ObjectInfo{Key: key, Size: a.Size, LastModified: mt, Metadata: m}, nil
}

// forEach runs fn on items with bounded concurrency and returns the first error.
func forEach[T any](items []T, fn func(T) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, 16)
	)
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(it); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// deleteQuietly removes hidden objects, ignoring ones already gone and
// logging other failures: it is cleanup after the visible outcome is decided.
func (b *Backend) deleteQuietly(ctx context.Context, bk *storage.BucketHandle, names ...string) {
	ctx = context.WithoutCancel(ctx)
	_ = forEach(names, func(n string) error {
		err := bk.Object(n).Delete(ctx)
		if err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
			b.opts.Logger.Warn("gcsbackend: cleanup failed", "bucket", bk.BucketName(), "object", strconv.Quote(n), "err", err)
		}
		return nil
	})
}

// ---- buckets ----

// CreateBucket creates the GCS bucket of a Raya bucket, with uniform
// bucket-level access, public access prevention, the configured soft-delete
// retention and a lifecycle rule for abandoned temporary objects.
func (b *Backend) CreateBucket(ctx context.Context, bucket string) error {
	if bucket == "" {
		return errors.New("gcsbackend: empty bucket name")
	}
	attrs := &storage.BucketAttrs{
		Location:                 b.opts.Location,
		UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
		PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
		SoftDeletePolicy:         &storage.SoftDeletePolicy{RetentionDuration: b.opts.SoftDeleteRetention},
	}
	if b.opts.TempObjectTTLDays > 0 {
		attrs.Lifecycle = storage.Lifecycle{Rules: []storage.LifecycleRule{{
			Action:    storage.LifecycleAction{Type: storage.DeleteAction},
			Condition: storage.LifecycleCondition{AgeInDays: int64(b.opts.TempObjectTTLDays), MatchesPrefix: []string{tmpPrefix}},
		}}}
	}
	err := b.bucket(bucket).Create(ctx, b.cfg.Project, attrs)
	if httpCode(err) == http.StatusConflict {
		return fmt.Errorf("%w: %s", backends.ErrBucketExists, bucket)
	}
	return classify(err)
}

// DeleteBucket deletes an empty bucket after discarding its hidden objects
// (unfinished uploads, temporary objects).
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	if err := b.bucketExists(ctx, bucket); err != nil {
		return err
	}
	page, err := b.ListObjects(ctx, bucket, &backends.ListOptions{MaxKeys: 1})
	if err != nil {
		return err
	}
	if len(page.Objects) > 0 || len(page.CommonPrefixes) > 0 {
		return fmt.Errorf("%w: %s", backends.ErrBucketNotEmpty, bucket)
	}
	bk := b.bucket(bucket)
	names, err := b.listNames(ctx, bk, hidden)
	if err != nil {
		return err
	}
	if err := forEach(names, func(n string) error {
		err := bk.Object(n).Delete(ctx)
		if errors.Is(err, storage.ErrObjectNotExist) {
			return nil
		}
		return classify(err)
	}); err != nil {
		return err
	}
	err = bk.Delete(ctx)
	switch {
	case httpCode(err) == http.StatusConflict:
		return fmt.Errorf("%w: %s", backends.ErrBucketNotEmpty, bucket)
	case errors.Is(err, storage.ErrBucketNotExist) || httpCode(err) == http.StatusNotFound:
		return fmt.Errorf("%w: %s", backends.ErrBucketNotFound, bucket)
	}
	return classify(err)
}

// listNames returns the names of all objects under prefix.
func (b *Backend) listNames(ctx context.Context, bk *storage.BucketHandle, prefix string) ([]string, error) {
	q := &storage.Query{Prefix: prefix}
	_ = q.SetAttrSelection([]string{"Name"})
	it := bk.Objects(ctx, q)
	var out []string
	for {
		a, err := it.Next()
		if err == iteratorDone {
			return out, nil
		}
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, a.Name)
	}
}

// ---- objects ----

// PutObject stores an object; see the package comment for atomicity.
func (b *Backend) PutObject(ctx context.Context, bucket, key string, r io.Reader, opts *backends.PutOptions) (*backends.ObjectInfo, error) {
	name, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	a, meta, err := b.put(ctx, b.bucket(bucket), name, r, opts, encodeMeta)
	if err != nil {
		return nil, b.objectErr(ctx, bucket, err)
	}
	info, err := objectInfo(key, a)
	if err != nil {
		return nil, err
	}
	info.Metadata = meta
	return info, nil
}

// attrs reads the attributes of the current generation of a key.
func (b *Backend) attrs(ctx context.Context, bucket, key string) (*storage.ObjectHandle, *storage.ObjectAttrs, error) {
	name, err := encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	obj := b.bucket(bucket).Object(name)
	a, err := obj.Attrs(ctx)
	if err != nil {
		return nil, nil, b.objectErr(ctx, bucket, err)
	}
	return obj, a, nil
}

// GetObject reads an object (or a range of it) at the generation whose
// attributes it returns.
func (b *Backend) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (*backends.ObjectInfo, io.ReadCloser, error) {
	for attempt := 0; ; attempt++ {
		obj, a, err := b.attrs(ctx, bucket, key)
		if err != nil {
			return nil, nil, err
		}
		info, err := objectInfo(key, a)
		if err != nil {
			return nil, nil, err
		}
		off, n := int64(0), int64(-1)
		if rng != nil {
			if off, n, err = rng.Resolve(a.Size); err != nil {
				return nil, nil, fmt.Errorf("%w: %+v of %d bytes", err, *rng, a.Size)
			}
		}
		// ReadCompressed: serve the stored bytes; never let GCS decompress
		// an object stored with Content-Encoding: gzip.
		rd, err := obj.Generation(a.Generation).ReadCompressed(true).NewRangeReader(ctx, off, n)
		if errors.Is(err, storage.ErrObjectNotExist) && attempt < 5 {
			continue // replaced or deleted between Attrs and the read: look again
		}
		if err != nil {
			return nil, nil, b.objectErr(ctx, bucket, err)
		}
		return info, &reader{rd}, nil
	}
}

// reader maps read errors to the vocabulary.
type reader struct{ r *storage.Reader }

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = classify(err)
	}
	return n, err
}

func (r *reader) Close() error { return r.r.Close() }

// HeadObject returns an object's info.
func (b *Backend) HeadObject(ctx context.Context, bucket, key string) (*backends.ObjectInfo, error) {
	_, a, err := b.attrs(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	return objectInfo(key, a)
}

// DeleteObject removes an object.
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) error {
	name, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := b.bucket(bucket).Object(name).Delete(ctx); err != nil {
		return b.objectErr(ctx, bucket, err)
	}
	return nil
}

// CopyObject copies an object server side and gives the copy meta.
//
// A GCS rewrite keeps every field of the source that the request leaves
// empty, and the emulator's compose keeps the fields of an existing
// destination; so the copy is staged: Compose of the pinned source
// generation into a fresh hidden object with exactly meta (a compose of a
// new object takes no metadata from its sources), then promote. Compose
// needs one bucket, so a copy across buckets first rewrites the source into
// a hidden object of the destination bucket.
func (b *Backend) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta backends.Metadata) (*backends.ObjectInfo, error) {
	src, sa, err := b.attrs(ctx, srcBucket, srcKey)
	if err != nil {
		return nil, err
	}
	dstName, err := encodeKey(dstKey)
	if err != nil {
		return nil, err
	}
	attrs, err := encodeMeta(meta)
	if err != nil {
		return nil, err
	}
	dbk := b.bucket(dstBucket)
	var temps []string
	defer func() { b.deleteQuietly(ctx, dbk, temps...) }()
	source := src.Generation(sa.Generation)
	if gcsBucketName(b.cfg.BucketPrefix, srcBucket) != gcsBucketName(b.cfg.BucketPrefix, dstBucket) {
		tmp := dbk.Object(tmpPrefix + newID()).Retryer(storage.WithPolicy(storage.RetryAlways))
		ta, err := tmp.CopierFrom(source).Run(ctx)
		if err != nil {
			err = classify(err)
			if errors.Is(err, backends.ErrNotFound) {
				if berr := b.bucketExists(ctx, dstBucket); berr != nil {
					return nil, berr
				}
			}
			return nil, b.objectErr(ctx, srcBucket, err)
		}
		temps = append(temps, ta.Name)
		source = dbk.Object(ta.Name).Generation(ta.Generation)
	}
	stage := tmpPrefix + newID()
	c := dbk.Object(stage).Retryer(storage.WithPolicy(storage.RetryAlways)).ComposerFrom(source)
	c.ObjectAttrs = attrs
	sta, err := c.Run(ctx)
	if err != nil {
		return nil, b.objectErr(ctx, dstBucket, err)
	}
	temps = append(temps, stage)
	a, err := b.promote(ctx, dbk, sta, dstName, attrs)
	if err != nil {
		return nil, b.objectErr(ctx, dstBucket, err)
	}
	return objectInfo(dstKey, a)
}

// promote makes the hidden staging object st visible under name with attrs,
// by a server-side rewrite of its generation. st carries exactly attrs (or
// no metadata at all), so no field the rewrite inherits can be stale.
func (b *Backend) promote(ctx context.Context, bk *storage.BucketHandle, st *storage.ObjectAttrs, name string, attrs storage.ObjectAttrs) (*storage.ObjectAttrs, error) {
	dst := bk.Object(name).Retryer(storage.WithPolicy(storage.RetryAlways))
	c := dst.CopierFrom(bk.Object(st.Name).Generation(st.Generation))
	c.ObjectAttrs = attrs
	return c.Run(ctx)
}

// sortedKeys returns m's keys in order (for deterministic output).
func sortedKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}
