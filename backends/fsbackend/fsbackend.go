// Package fsbackend is Raya's local-disk backend: the default storage of
// `raya serve` on one machine.
//
// S3 keys are not mapped to file paths (that breaks on "a" next to "a/b",
// on "//", "../", 1024-byte segments and on byte-order listing). Instead:
//
//   - object and part bytes live in files with random names,
//     root/data/<2 hex>/<32 hex>, written first under root/tmp and renamed
//     into place once complete and synced;
//   - an index in a bbolt database, root/index.db, maps bucket -> key -> a
//     JSON record {size, mtime, metadata, segments}. A bbolt cursor yields S3
//     byte-order listings; prefixes, StartAfter and delimiters are Seeks.
//   - an object is a list of segment files: a single put has one, a
//     multipart object has one per chosen part, so completing an upload
//     copies no bytes. GET streams across segments; ranges map onto them.
//
// A put becomes visible in one bbolt transaction that swaps the index
// record; the replaced object's files are removed after the commit. Every
// failure (reader error, cancelled context, Finish error) removes the
// temporary file, so nothing becomes visible.
//
// Readers and concurrent replacement: GetObject pins the segment files of
// the record it read (an in-process reference count, taken atomically with
// respect to deletions); files of a replaced or deleted object are unlinked
// only when the last reader closes. An open GET therefore always streams the
// version it started with, and never needs more than one open file.
//
// Crash safety: files are fsynced before the index commit (unless
// Options.NoSync). At New, root/tmp is emptied and a background pass removes
// data files the index does not reference (left by a crash between writing a
// file and committing, or between committing and unlinking). The index
// keeps a set of live file names so that pass needs no memory proportional
// to the number of objects.
//
// The data folder belongs to one process: bbolt's file lock makes a second
// New on the same root fail after Options.LockTimeout.
package fsbackend

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudraya/raya/backends"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options configure the backend. The zero value (or nil) means defaults.
type Options struct {
	// LockTimeout bounds how long New waits for the index lock held by
	// another process; default 2s.
	LockTimeout time.Duration
	// NoSync skips fsync of data files, directories and the index: faster,
	// but a power loss can lose acknowledged writes. For tests and
	// benchmarks.
	NoSync bool
	// NoOrphanScan disables the background removal of unreferenced data
	// files at New. CollectGarbage still does it on demand.
	NoOrphanScan bool
	// BufferSize is the size of the copy buffers; default 1 MiB.
	BufferSize int
	// Logger receives the outcome of background work; default slog.Default().
	Logger *slog.Logger
}

// Backend stores buckets and objects under one local folder.
type Backend struct {
	root  string
	data  string
	tmp   string
	db    *bolt.DB
	opts  Options
	bufs  sync.Pool
	files fileRefs

	stop   context.CancelFunc
	bgDone chan struct{}
}

// Interface guards.
var (
	_ backends.Backend = (*Backend)(nil)
	_ backends.Copier  = (*Backend)(nil)
)

// Names of bbolt buckets. The top level holds "buckets" (one nested bbolt
// bucket per S3 bucket) and "files" (the set of live data file names).
// Each S3 bucket holds "o" (key -> objectRecord) and "u" (upload ID ->
// nested bucket with "key" and "p": big-endian part number -> partRecord).
var (
	bktBuckets = []byte("buckets")
	bktFiles   = []byte("files")
	bktObjects = []byte("o")
	bktUploads = []byte("u")
	bktParts   = []byte("p")
	keyKey     = []byte("key")
	keyCreated = []byte("created")
	live       = []byte{1} // value of the "files" set
)

type objectRecord struct {
	Size     int64             `json:"size"`
	MTime    int64             `json:"mtime"` // Unix nanoseconds
	Meta     backends.Metadata `json:"meta"`
	Segments []string          `json:"segs,omitempty"`
	SegSizes []int64           `json:"segSizes,omitempty"`
}

type partRecord struct {
	Size      int64             `json:"size"`
	MTime     int64             `json:"mtime"`
	ETag      string            `json:"etag,omitempty"`
	Checksums map[string]string `json:"checksums,omitempty"`
	File      string            `json:"file"`
}

// New opens (or creates) a backend rooted at root.
func New(ctx context.Context, root string, opts *Options) (*Backend, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("fsbackend: %w", err)
	}
	b := &Backend{
		root: root,
		data: filepath.Join(root, "data"),
		tmp:  filepath.Join(root, "tmp"),
		opts: o,
	}
	b.bufs.New = func() any { p := make([]byte, o.BufferSize); return &p }
	b.files.init()

	db, err := bolt.Open(filepath.Join(root, "index.db"), 0o600, &bolt.Options{
		Timeout:      o.LockTimeout,
		NoSync:       o.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("fsbackend: data folder %s in use by another process (index lock not acquired within %v)", root, o.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("fsbackend: open index: %w", err)
	}
	b.db = db
	fail := func(err error) (*Backend, error) {
		db.Close()
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktBuckets, bktFiles} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fail(fmt.Errorf("fsbackend: init index: %w", err))
	}
	// We hold the index lock, so nobody else writes under tmp.
	if err := os.RemoveAll(b.tmp); err != nil {
		return fail(fmt.Errorf("fsbackend: clean tmp: %w", err))
	}
	if err := os.MkdirAll(b.tmp, 0o750); err != nil {
		return fail(fmt.Errorf("fsbackend: %w", err))
	}
	if err := os.MkdirAll(b.data, 0o750); err != nil {
		return fail(fmt.Errorf("fsbackend: %w", err))
	}
	bg, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.bgDone = make(chan struct{})
	if o.NoOrphanScan {
		close(b.bgDone)
	} else {
		go func() {
			defer close(b.bgDone)
			start := time.Now()
			n, err := b.CollectGarbage(bg)
			switch {
			case err != nil && bg.Err() == nil:
				o.Logger.Error("fsbackend: orphan scan failed", "root", root, "removed", n, "err", err)
			case n > 0:
				o.Logger.Info("fsbackend: removed orphan data files", "root", root, "removed", n, "took", time.Since(start))
			}
		}()
	}
	return b, nil
}

// Close stops background work and closes the index. Readers returned by
// GetObject that are still open keep working until closed.
func (b *Backend) Close() error {
	b.stop()
	<-b.bgDone
	return b.db.Close()
}

// ---- helpers ----

func newID() string {
	var p [16]byte
	if _, err := rand.Read(p[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(p[:])
}

func (b *Backend) dataPath(name string) string {
	return filepath.Join(b.data, name[:2], name)
}

func partKey(n int) []byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], uint32(n))
	return k[:]
}

func checkKey(key string) error {
	if key == "" || len(key) > bolt.MaxKeySize {
		return fmt.Errorf("%w: %d bytes", backends.ErrInvalidKey, len(key))
	}
	return nil
}

// s3bucket returns the nested bbolt bucket of an S3 bucket.
func s3bucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	if name == "" {
		return nil, backends.ErrBucketNotFound
	}
	bk := tx.Bucket(bktBuckets).Bucket([]byte(name))
	if bk == nil {
		return nil, fmt.Errorf("%w: %s", backends.ErrBucketNotFound, name)
	}
	return bk, nil
}

// upload returns the nested bbolt bucket of an upload, checking its key.
func upload(tx *bolt.Tx, bucket, key, uploadID string) (*bolt.Bucket, error) {
	bk, err := s3bucket(tx, bucket)
	if err != nil {
		return nil, err
	}
	if uploadID == "" {
		return nil, backends.ErrUploadNotFound
	}
	up := bk.Bucket(bktUploads).Bucket([]byte(uploadID))
	if up == nil || string(up.Get(keyKey)) != key {
		return nil, fmt.Errorf("%w: %s", backends.ErrUploadNotFound, uploadID)
	}
	return up, nil
}

func getObject(bk *bolt.Bucket, key string) (*objectRecord, error) {
	v := bk.Bucket(bktObjects).Get([]byte(key))
	if v == nil {
		return nil, backends.ErrNotFound
	}
	var rec objectRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("fsbackend: corrupt index record for %q: %w", key, err)
	}
	return &rec, nil
}

// putObjectRecord stores rec under key, registers its segments as live and
// returns the segments of the record it replaced (to be released after the
// commit).
func putObjectRecord(tx *bolt.Tx, bk *bolt.Bucket, key string, rec *objectRecord) (old []string, err error) {
	prev, err := getObject(bk, key)
	if err != nil && !errors.Is(err, backends.ErrNotFound) {
		return nil, err
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if err := bk.Bucket(bktObjects).Put([]byte(key), v); err != nil {
		return nil, err
	}
	files := tx.Bucket(bktFiles)
	if prev != nil {
		for _, s := range prev.Segments {
			if err := files.Delete([]byte(s)); err != nil {
				return nil, err
			}
		}
		old = prev.Segments
	}
	for _, s := range rec.Segments {
		if err := files.Put([]byte(s), live); err != nil {
			return nil, err
		}
	}
	return old, nil
}

func unregister(tx *bolt.Tx, names []string) error {
	files := tx.Bucket(bktFiles)
	for _, n := range names {
		if err := files.Delete([]byte(n)); err != nil {
			return err
		}
	}
	return nil
}

func (rec *objectRecord) info(key string) *backends.ObjectInfo {
	return &backends.ObjectInfo{
		Key:          key,
		Size:         rec.Size,
		LastModified: time.Unix(0, rec.MTime),
		Metadata:     rec.Meta,
	}
}

func cloneMeta(m backends.Metadata) backends.Metadata {
	if m.User != nil {
		u := make(map[string]string, len(m.User))
		for k, v := range m.User {
			u[k] = v
		}
		m.User = u
	}
	if m.Checksums != nil {
		c := make(map[string]string, len(m.Checksums))
		for k, v := range m.Checksums {
			c[k] = v
		}
		m.Checksums = c
	}
	if m.PartSizes != nil {
		m.PartSizes = append([]int64(nil), m.PartSizes...)
	}
	return m
}

// ---- buckets ----

// CreateBucket makes an empty bucket.
func (b *Backend) CreateBucket(ctx context.Context, bucket string) error {
	if bucket == "" {
		return fmt.Errorf("fsbackend: empty bucket name")
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		top := tx.Bucket(bktBuckets)
		if top.Bucket([]byte(bucket)) != nil {
			return fmt.Errorf("%w: %s", backends.ErrBucketExists, bucket)
		}
		bk, err := top.CreateBucket([]byte(bucket))
		if err != nil {
			return err
		}
		if _, err := bk.CreateBucket(bktObjects); err != nil {
			return err
		}
		_, err = bk.CreateBucket(bktUploads)
		return err
	})
}

// DeleteBucket removes an empty bucket and its unfinished uploads.
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	var dead []string
	err := b.db.Update(func(tx *bolt.Tx) error {
		dead = dead[:0]
		bk, err := s3bucket(tx, bucket)
		if err != nil {
			return err
		}
		if k, _ := bk.Bucket(bktObjects).Cursor().First(); k != nil {
			return fmt.Errorf("%w: %s", backends.ErrBucketNotEmpty, bucket)
		}
		err = bk.Bucket(bktUploads).ForEachBucket(func(id []byte) error {
			files, err := uploadFiles(bk.Bucket(bktUploads).Bucket(id))
			dead = append(dead, files...)
			return err
		})
		if err != nil {
			return err
		}
		if err := unregister(tx, dead); err != nil {
			return err
		}
		return tx.Bucket(bktBuckets).DeleteBucket([]byte(bucket))
	})
	if err != nil {
		return err
	}
	b.release(dead)
	return nil
}

func uploadFiles(up *bolt.Bucket) ([]string, error) {
	var out []string
	err := up.Bucket(bktParts).ForEach(func(_, v []byte) error {
		var p partRecord
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		out = append(out, p.File)
		return nil
	})
	return out, err
}

// ---- writing files ----

// spool streams r into a new data file. It calls finish (if any) after EOF,
// syncs, and renames the file into the data folder, marking it in flight.
// On success the caller must commit the index and then call
// b.files.landed(name), or on failure b.discard(name).
func (b *Backend) spool(ctx context.Context, r io.Reader, opts *backends.PutOptions) (name string, size int64, meta backends.Metadata, err error) {
	if err := ctx.Err(); err != nil {
		return "", 0, meta, err
	}
	name = newID()
	tmp := filepath.Join(b.tmp, name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", 0, meta, fmt.Errorf("fsbackend: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	size, err = b.copyIn(ctx, f, r)
	if err != nil {
		return "", 0, meta, err
	}
	if opts != nil && opts.Size >= 0 && size != opts.Size {
		return "", 0, meta, fmt.Errorf("fsbackend: reader yielded %d bytes, expected %d: %w", size, opts.Size, io.ErrUnexpectedEOF)
	}
	if opts != nil && opts.Finish != nil {
		meta, err = opts.Finish()
		if err != nil {
			return "", 0, meta, err
		}
		meta = cloneMeta(meta)
	}
	if !b.opts.NoSync {
		if err := f.Sync(); err != nil {
			return "", 0, meta, fmt.Errorf("fsbackend: sync: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return "", 0, meta, fmt.Errorf("fsbackend: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", 0, meta, err
	}
	b.files.inflight(name)
	final := b.dataPath(name)
	if err := b.place(func() error { return os.Rename(tmp, final) }, final); err != nil {
		b.files.landed(name)
		return "", 0, meta, fmt.Errorf("fsbackend: %w", err)
	}
	ok = true
	if !b.opts.NoSync {
		if err := syncDir(filepath.Dir(final)); err != nil {
			b.discard(name)
			return "", 0, meta, err
		}
	}
	return name, size, meta, nil
}

// place runs op, which creates the data file path; if the file's fan-out
// directory does not exist yet, it creates it (durably) and retries.
func (b *Backend) place(op func() error, path string) error {
	err := op()
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Mkdir(filepath.Dir(path), 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if !b.opts.NoSync {
		if err := syncDir(b.data); err != nil {
			return err
		}
	}
	return op()
}

// discard removes a spooled file that never made it into the index.
func (b *Backend) discard(name string) {
	os.Remove(b.dataPath(name))
	b.files.landed(name)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsbackend: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsbackend: sync dir: %w", err)
	}
	return nil
}

// copyIn copies r into w with a pooled buffer, checking ctx between chunks.
func (b *Backend) copyIn(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	bp := b.bufs.Get().(*[]byte)
	defer b.bufs.Put(bp)
	buf := *bp
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		// Fill the buffer as far as the reader allows, so that writes are
		// large even when reads are small.
		n, rerr := io.ReadAtLeast(r, buf, len(buf))
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return total, fmt.Errorf("fsbackend: write: %w", err)
			}
			total += int64(n)
		}
		switch {
		case rerr == nil:
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			if err := ctx.Err(); err != nil {
				return total, err
			}
			return total, nil
		default:
			return total, rerr
		}
	}
}

// ---- objects ----

// PutObject stores an object atomically.
func (b *Backend) PutObject(ctx context.Context, bucket, key string, r io.Reader, opts *backends.PutOptions) (*backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := b.db.View(func(tx *bolt.Tx) error { _, err := s3bucket(tx, bucket); return err }); err != nil {
		return nil, err
	}
	name, size, meta, err := b.spool(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	rec := &objectRecord{Size: size, MTime: time.Now().UnixNano(), Meta: meta, Segments: []string{name}, SegSizes: []int64{size}}
	return b.commitObject(bucket, key, rec, []string{name})
}

// commitObject swaps the index record of key to rec. fresh names the newly
// spooled files of rec: they are discarded if the commit fails.
func (b *Backend) commitObject(bucket, key string, rec *objectRecord, fresh []string) (*backends.ObjectInfo, error) {
	var old []string
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := s3bucket(tx, bucket)
		if err != nil {
			return err
		}
		old, err = putObjectRecord(tx, bk, key, rec)
		return err
	})
	if err != nil {
		for _, n := range fresh {
			b.discard(n)
		}
		return nil, err
	}
	for _, n := range fresh {
		b.files.landed(n)
	}
	b.release(old)
	info := rec.info(key)
	info.Metadata = cloneMeta(info.Metadata)
	return info, nil
}

// HeadObject returns an object's info.
func (b *Backend) HeadObject(ctx context.Context, bucket, key string) (*backends.ObjectInfo, error) {
	var info *backends.ObjectInfo
	err := b.db.View(func(tx *bolt.Tx) error {
		bk, err := s3bucket(tx, bucket)
		if err != nil {
			return err
		}
		rec, err := getObject(bk, key)
		if err != nil {
			return err
		}
		info = rec.info(key)
		return nil
	})
	return info, err
}

// GetObject opens an object or a range of it. The reader streams the
// version current at the call even if the object is replaced or deleted
// meanwhile; it stops with ctx's error once ctx ends.
func (b *Backend) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (*backends.ObjectInfo, io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var rec *objectRecord
	err := b.files.pin(func() ([]string, error) {
		err := b.db.View(func(tx *bolt.Tx) error {
			bk, err := s3bucket(tx, bucket)
			if err != nil {
				return err
			}
			rec, err = getObject(bk, key)
			return err
		})
		if err != nil {
			return nil, err
		}
		return rec.Segments, nil
	})
	if err != nil {
		return nil, nil, err
	}
	off, n := int64(0), rec.Size
	if rng != nil {
		off, n, err = rng.Resolve(rec.Size)
		if err != nil {
			b.unpin(rec.Segments)
			return nil, nil, err
		}
	}
	r := newSegmentReader(b, ctx, rec, off, n)
	return rec.info(key), r, nil
}

// DeleteObject removes an object.
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) error {
	var old []string
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := s3bucket(tx, bucket)
		if err != nil {
			return err
		}
		rec, err := getObject(bk, key)
		if err != nil {
			return err
		}
		if err := bk.Bucket(bktObjects).Delete([]byte(key)); err != nil {
			return err
		}
		old = rec.Segments
		return unregister(tx, old)
	})
	if err != nil {
		return err
	}
	b.release(old)
	return nil
}

// CopyObject copies an object with new metadata. Segment files are hard
// linked under new names, so no bytes are copied and both objects own their
// files independently.
func (b *Backend) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta backends.Metadata) (*backends.ObjectInfo, error) {
	if err := checkKey(dstKey); err != nil {
		return nil, err
	}
	var rec *objectRecord
	err := b.files.pin(func() ([]string, error) {
		err := b.db.View(func(tx *bolt.Tx) error {
			if _, err := s3bucket(tx, dstBucket); err != nil {
				return err
			}
			bk, err := s3bucket(tx, srcBucket)
			if err != nil {
				return err
			}
			rec, err = getObject(bk, srcKey)
			return err
		})
		if err != nil {
			return nil, err
		}
		return rec.Segments, nil
	})
	if err != nil {
		return nil, err
	}
	defer b.unpin(rec.Segments)
	var fresh []string
	cleanup := func() {
		for _, n := range fresh {
			b.discard(n)
		}
	}
	for _, s := range rec.Segments {
		if err := ctx.Err(); err != nil {
			cleanup()
			return nil, err
		}
		name := newID()
		b.files.inflight(name)
		fresh = append(fresh, name)
		dst := b.dataPath(name)
		if err := b.place(func() error { return os.Link(b.dataPath(s), dst) }, dst); err != nil {
			cleanup()
			return nil, fmt.Errorf("fsbackend: copy: %w", err)
		}
	}
	if !b.opts.NoSync {
		dirs := map[string]bool{}
		for _, n := range fresh {
			dirs[filepath.Dir(b.dataPath(n))] = true
		}
		for d := range dirs {
			if err := syncDir(d); err != nil {
				cleanup()
				return nil, err
			}
		}
	}
	nrec := &objectRecord{Size: rec.Size, MTime: time.Now().UnixNano(), Meta: cloneMeta(meta), Segments: fresh, SegSizes: rec.SegSizes}
	return b.commitObject(dstBucket, dstKey, nrec, fresh)
}

// ---- reading ----

// segmentReader streams a byte range across an object's segment files,
// opening one file at a time. Its segments are pinned until Close.
type segmentReader struct {
	b         *Backend
	ctx       context.Context
	rec       *objectRecord
	starts    []int64 // starts[i] is the object offset of segment i; len = segments+1
	off       int64   // object offset of the next byte
	remaining int64
	seg       int // index of the open segment, valid when f != nil
	f         *os.File
	closed    bool
}

func newSegmentReader(b *Backend, ctx context.Context, rec *objectRecord, off, n int64) *segmentReader {
	starts := make([]int64, len(rec.SegSizes)+1)
	for i, s := range rec.SegSizes {
		starts[i+1] = starts[i] + s
	}
	return &segmentReader{b: b, ctx: ctx, rec: rec, starts: starts, off: off, remaining: n}
}

// open opens the segment holding r.off, positioned at r.off, and returns
// how many bytes of the range it holds from there.
func (r *segmentReader) open() (int64, error) {
	if r.f == nil {
		// The segment i with starts[i] <= off < starts[i+1] (skipping empty ones).
		seg := sort.Search(len(r.starts), func(i int) bool { return r.starts[i] > r.off }) - 1
		if seg < 0 || seg >= len(r.rec.Segments) {
			return 0, fmt.Errorf("fsbackend: index record shorter than its size")
		}
		f, err := os.Open(r.b.dataPath(r.rec.Segments[seg]))
		if err != nil {
			return 0, fmt.Errorf("fsbackend: open segment: %w", err)
		}
		if within := r.off - r.starts[seg]; within > 0 {
			if _, err := f.Seek(within, io.SeekStart); err != nil {
				f.Close()
				return 0, fmt.Errorf("fsbackend: %w", err)
			}
		}
		r.f, r.seg = f, seg
	}
	return min(r.remaining, r.starts[r.seg+1]-r.off), nil
}

// advance accounts for n bytes read from the open segment and closes it at
// its end.
func (r *segmentReader) advance(n int64) {
	r.off += n
	r.remaining -= n
	if r.off >= r.starts[r.seg+1] || r.remaining <= 0 {
		r.f.Close()
		r.f = nil
	}
}

func (r *segmentReader) truncated() error {
	return fmt.Errorf("fsbackend: segment %s shorter than recorded: %w", r.rec.Segments[r.seg], io.ErrUnexpectedEOF)
}

func (r *segmentReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, os.ErrClosed
	}
	if r.remaining <= 0 {
		return 0, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	want, err := r.open()
	if err != nil {
		return 0, err
	}
	if int64(len(p)) > want {
		p = p[:want]
	}
	n, err := r.f.Read(p)
	if err == io.EOF {
		if n == 0 {
			return 0, r.truncated()
		}
		err = nil
	}
	if err != nil {
		return n, err
	}
	r.advance(int64(n))
	if r.remaining <= 0 {
		return n, io.EOF
	}
	return n, nil
}

// sendChunk bounds one uninterrupted transfer in WriteTo; the context is
// checked between chunks.
const sendChunk = 64 << 20

// WriteTo streams the range into w. It hands w an *io.LimitedReader over
// the segment file, so w can use sendfile(2) (net/http over TCP) or
// copy_file_range(2) (*os.File).
func (r *segmentReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.remaining > 0 {
		if r.closed {
			return total, os.ErrClosed
		}
		if err := r.ctx.Err(); err != nil {
			return total, err
		}
		want, err := r.open()
		if err != nil {
			return total, err
		}
		want = min(want, sendChunk)
		f := r.f
		n, err := copyPooled(r.b, w, &io.LimitedReader{R: f, N: want})
		total += n
		r.advance(n)
		if err != nil {
			return total, err
		}
		if n < want {
			return total, r.truncated()
		}
	}
	return total, nil
}

// copyPooled is io.CopyBuffer with a pooled buffer.
func copyPooled(b *Backend, w io.Writer, r io.Reader) (int64, error) {
	bp := b.bufs.Get().(*[]byte)
	defer b.bufs.Put(bp)
	return io.CopyBuffer(w, r, *bp)
}

func (r *segmentReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	r.b.unpin(r.rec.Segments)
	return nil
}

// ---- listing ----

// successor returns the smallest string greater than every string with
// prefix p, and false when there is none (p is all 0xff bytes).
func successor(p []byte) ([]byte, bool) {
	s := bytes.Clone(p)
	for len(s) > 0 && s[len(s)-1] == 0xff {
		s = s[:len(s)-1]
	}
	if len(s) == 0 {
		return nil, false
	}
	s[len(s)-1]++
	return s, true
}

// ListObjects lists a page of keys and common prefixes in byte order.
func (b *Backend) ListObjects(ctx context.Context, bucket string, opts *backends.ListOptions) (*backends.ListPage, error) {
	var o backends.ListOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 1000
	}
	page := &backends.ListPage{}
	err := b.db.View(func(tx *bolt.Tx) error {
		bk, err := s3bucket(tx, bucket)
		if err != nil {
			return err
		}
		c := bk.Bucket(bktObjects).Cursor()
		prefix := []byte(o.Prefix)
		start := prefix
		if o.StartAfter > o.Prefix {
			start = []byte(o.StartAfter)
		}
		k, v := c.Seek(start)
		count := 0
		for k != nil && bytes.HasPrefix(k, prefix) {
			if err := ctx.Err(); err != nil {
				return err
			}
			if o.Delimiter != "" {
				if i := bytes.Index(k[len(prefix):], []byte(o.Delimiter)); i >= 0 {
					cp := k[:len(prefix)+i+len(o.Delimiter)]
					if string(cp) > o.StartAfter {
						if count == o.MaxKeys {
							page.IsTruncated = true
							break
						}
						page.CommonPrefixes = append(page.CommonPrefixes, string(cp))
						page.NextStartAfter = string(cp)
						count++
					}
					next, ok := successor(cp)
					if !ok {
						break
					}
					k, v = c.Seek(next)
					continue
				}
			}
			if string(k) > o.StartAfter {
				if count == o.MaxKeys {
					page.IsTruncated = true
					break
				}
				var rec objectRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("fsbackend: corrupt index record for %q: %w", k, err)
				}
				page.Objects = append(page.Objects, *rec.info(string(k)))
				page.NextStartAfter = string(k)
				count++
			}
			k, v = c.Next()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !page.IsTruncated {
		page.NextStartAfter = ""
	}
	return page, nil
}

// ---- multipart ----

// CreateMultipartUpload starts an upload.
func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	id := newID()
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := s3bucket(tx, bucket)
		if err != nil {
			return err
		}
		up, err := bk.Bucket(bktUploads).CreateBucket([]byte(id))
		if err != nil {
			return err
		}
		if err := up.Put(keyKey, []byte(key)); err != nil {
			return err
		}
		ts, _ := time.Now().MarshalText()
		if err := up.Put(keyCreated, ts); err != nil {
			return err
		}
		_, err = up.CreateBucket(bktParts)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// UploadPart stores or replaces one part.
func (b *Backend) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts *backends.PutOptions) (*backends.PartInfo, error) {
	if partNumber < 1 || partNumber > 10000 {
		return nil, fmt.Errorf("%w: part number %d out of 1..10000", backends.ErrPartNotFound, partNumber)
	}
	if err := b.db.View(func(tx *bolt.Tx) error { _, err := upload(tx, bucket, key, uploadID); return err }); err != nil {
		return nil, err
	}
	name, size, meta, err := b.spool(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	rec := partRecord{Size: size, MTime: time.Now().UnixNano(), ETag: meta.ETag, Checksums: meta.Checksums, File: name}
	var old []string
	err = b.db.Update(func(tx *bolt.Tx) error {
		old = nil
		up, err := upload(tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		parts := up.Bucket(bktParts)
		if v := parts.Get(partKey(partNumber)); v != nil {
			var prev partRecord
			if err := json.Unmarshal(v, &prev); err != nil {
				return err
			}
			old = []string{prev.File}
			if err := unregister(tx, old); err != nil {
				return err
			}
		}
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := parts.Put(partKey(partNumber), v); err != nil {
			return err
		}
		return tx.Bucket(bktFiles).Put([]byte(name), live)
	})
	if err != nil {
		b.discard(name)
		return nil, err
	}
	b.files.landed(name)
	b.release(old)
	return &backends.PartInfo{
		PartNumber:   partNumber,
		Size:         size,
		LastModified: time.Unix(0, rec.MTime),
		ETag:         rec.ETag,
		Checksums:    cloneMeta(backends.Metadata{Checksums: rec.Checksums}).Checksums,
	}, nil
}

// ListParts returns an upload's parts ordered by number.
func (b *Backend) ListParts(ctx context.Context, bucket, key, uploadID string) ([]backends.PartInfo, error) {
	var out []backends.PartInfo
	err := b.db.View(func(tx *bolt.Tx) error {
		up, err := upload(tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		return up.Bucket(bktParts).ForEach(func(k, v []byte) error {
			var p partRecord
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			out = append(out, backends.PartInfo{
				PartNumber:   int(binary.BigEndian.Uint32(k)),
				Size:         p.Size,
				LastModified: time.Unix(0, p.MTime),
				ETag:         p.ETag,
				Checksums:    p.Checksums,
			})
			return nil
		})
	})
	return out, err
}

// CompleteMultipartUpload makes the named parts, in order, one object whose
// segments are the part files themselves.
func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, meta backends.Metadata) (*backends.ObjectInfo, error) {
	rec := &objectRecord{MTime: time.Now().UnixNano(), Meta: cloneMeta(meta)}
	var dead []string
	err := b.db.Update(func(tx *bolt.Tx) error {
		dead = nil
		rec.Size, rec.Segments, rec.SegSizes = 0, nil, nil
		bk, err := s3bucket(tx, bucket)
		if err != nil {
			return err
		}
		up, err := upload(tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		pb := up.Bucket(bktParts)
		chosen := make(map[int]bool, len(parts))
		for _, n := range parts {
			if chosen[n] {
				return fmt.Errorf("%w: part %d listed twice", backends.ErrPartNotFound, n)
			}
			chosen[n] = true
			v := pb.Get(partKey(n))
			if n < 1 || n > 10000 || v == nil {
				return fmt.Errorf("%w: %d", backends.ErrPartNotFound, n)
			}
			var p partRecord
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			rec.Size += p.Size
			rec.Segments = append(rec.Segments, p.File)
			rec.SegSizes = append(rec.SegSizes, p.Size)
		}
		err = pb.ForEach(func(k, v []byte) error {
			if chosen[int(binary.BigEndian.Uint32(k))] {
				return nil
			}
			var p partRecord
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			dead = append(dead, p.File)
			return nil
		})
		if err != nil {
			return err
		}
		if err := unregister(tx, dead); err != nil {
			return err
		}
		if err := bk.Bucket(bktUploads).DeleteBucket([]byte(uploadID)); err != nil {
			return err
		}
		old, err := putObjectRecord(tx, bk, key, rec)
		dead = append(dead, old...)
		return err
	})
	if err != nil {
		return nil, err
	}
	b.release(dead)
	info := rec.info(key)
	info.Metadata = cloneMeta(info.Metadata)
	return info, nil
}

// AbortMultipartUpload ends an upload and discards its parts.
func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	var dead []string
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := s3bucket(tx, bucket)
		if err != nil {
			return err
		}
		up, err := upload(tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		if dead, err = uploadFiles(up); err != nil {
			return err
		}
		if err := unregister(tx, dead); err != nil {
			return err
		}
		return bk.Bucket(bktUploads).DeleteBucket([]byte(uploadID))
	})
	if err != nil {
		return err
	}
	b.release(dead)
	return nil
}

// ---- file lifetimes ----

// fileRefs tracks data files in use by readers and files between rename
// and index commit, so that deletion and garbage collection never remove a
// file someone still needs.
//
// Protocol: a reader reads the index and pins the files it found while
// holding gate for reading; release (after an index commit that dropped
// files) holds gate for writing while it decides, so a reader either pinned
// the files before (they are doomed and unlinked at the last unpin) or reads
// the index after the commit (and never sees them).
type fileRefs struct {
	gate   sync.RWMutex
	mu     sync.Mutex
	refs   map[string]int
	doomed map[string]bool
	flight map[string]bool
}

func (f *fileRefs) init() {
	f.refs = map[string]int{}
	f.doomed = map[string]bool{}
	f.flight = map[string]bool{}
}

func (f *fileRefs) inflight(name string) {
	f.mu.Lock()
	f.flight[name] = true
	f.mu.Unlock()
}

func (f *fileRefs) landed(name string) {
	f.mu.Lock()
	delete(f.flight, name)
	f.mu.Unlock()
}

// pin runs lookup, which reads the index, and pins the files it returns.
func (f *fileRefs) pin(lookup func() ([]string, error)) error {
	f.gate.RLock()
	defer f.gate.RUnlock()
	names, err := lookup()
	if err != nil {
		return err
	}
	f.mu.Lock()
	for _, n := range names {
		f.refs[n]++
	}
	f.mu.Unlock()
	return nil
}

// unpin drops the pins of names and unlinks doomed files no one reads.
func (b *Backend) unpin(names []string) {
	f := &b.files
	var rm []string
	f.mu.Lock()
	for _, n := range names {
		f.refs[n]--
		if f.refs[n] <= 0 {
			delete(f.refs, n)
			if f.doomed[n] {
				delete(f.doomed, n)
				rm = append(rm, n)
			}
		}
	}
	f.mu.Unlock()
	for _, n := range rm {
		os.Remove(b.dataPath(n))
	}
}

// release unlinks files the index no longer references, or dooms them if a
// reader has them pinned.
func (b *Backend) release(names []string) {
	if len(names) == 0 {
		return
	}
	f := &b.files
	var rm []string
	f.gate.Lock()
	f.mu.Lock()
	for _, n := range names {
		if f.refs[n] > 0 {
			f.doomed[n] = true
		} else if !f.flight[n] {
			rm = append(rm, n)
		}
	}
	f.mu.Unlock()
	f.gate.Unlock()
	for _, n := range rm {
		os.Remove(b.dataPath(n))
	}
}

// CollectGarbage removes data files that the index does not reference:
// leftovers of a crash between writing a file and committing it, or between
// committing and unlinking a replaced file. It is safe to run while the
// backend serves requests. New runs it once in the background unless
// Options.NoOrphanScan is set. It returns the number of files removed.
func (b *Backend) CollectGarbage(ctx context.Context) (int, error) {
	removed := 0
	dirs, err := os.ReadDir(b.data)
	if err != nil {
		return 0, fmt.Errorf("fsbackend: %w", err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(b.data, d.Name()))
		if err != nil {
			return removed, fmt.Errorf("fsbackend: %w", err)
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			if e.Type().IsRegular() && len(e.Name()) == 32 && strings.HasPrefix(e.Name(), d.Name()) {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for len(names) > 0 {
			if err := ctx.Err(); err != nil {
				return removed, err
			}
			batch := names[:min(len(names), 512)]
			names = names[len(batch):]
			// Skip files in flight first, then consult the index: a file
			// that left flight has either been committed (visible to the
			// View below) or removed by its writer.
			cand := make([]string, 0, len(batch))
			b.files.mu.Lock()
			for _, n := range batch {
				if !b.files.flight[n] {
					cand = append(cand, n)
				}
			}
			b.files.mu.Unlock()
			var orphans []string
			err := b.db.View(func(tx *bolt.Tx) error {
				files := tx.Bucket(bktFiles)
				for _, n := range cand {
					if files.Get([]byte(n)) == nil {
						orphans = append(orphans, n)
					}
				}
				return nil
			})
			if err != nil {
				return removed, err
			}
			// A reader may have pinned a file just before its record was
			// dropped; release dooms instead of unlinking those.
			b.release(orphans)
			removed += len(orphans)
		}
	}
	return removed, nil
}
