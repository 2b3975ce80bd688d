package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudraya/raya/backends"
)

// memory is a backends.Backend that keeps everything in memory. Object
// bytes are immutable once stored, so an open reader keeps streaming the
// version it opened while the key is replaced or deleted.
type memory struct {
	maxBytes int64 // 0: unlimited

	mu      sync.Mutex
	used    int64
	buckets map[string]*bucket
}

// Interface guards.
var (
	_ backends.Backend = (*memory)(nil)
	_ backends.Copier  = (*memory)(nil)
)

type bucket struct {
	objects map[string]*object
	uploads map[string]*upload
}

type object struct {
	data []byte
	info backends.ObjectInfo
}

type upload struct {
	key   string
	parts map[int]*part
}

type part struct {
	data []byte
	info backends.PartInfo
}

// errFull is returned when max_bytes would be exceeded.
var errFull = errors.New("example: storage full (max_bytes)")

func newMemory(maxBytes int64) *memory {
	return &memory{maxBytes: maxBytes, buckets: map[string]*bucket{}}
}

func (m *memory) bucket(name string) (*bucket, error) {
	b, ok := m.buckets[name]
	if !ok {
		return nil, backends.ErrBucketNotFound
	}
	return b, nil
}

func cloneMeta(md backends.Metadata) backends.Metadata {
	md.User = maps.Clone(md.User)
	md.Checksums = maps.Clone(md.Checksums)
	md.PartSizes = slices.Clone(md.PartSizes)
	return md
}

func (m *memory) CreateBucket(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[name]; ok {
		return backends.ErrBucketExists
	}
	m.buckets[name] = &bucket{objects: map[string]*object{}, uploads: map[string]*upload{}}
	return nil
}

func (m *memory) DeleteBucket(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(name)
	if err != nil {
		return err
	}
	if len(b.objects) > 0 {
		return backends.ErrBucketNotEmpty
	}
	for _, u := range b.uploads {
		for _, p := range u.parts {
			m.used -= int64(len(p.data))
		}
	}
	delete(m.buckets, name)
	return nil
}

// readAll reads r to the end within the size budget, honouring ctx.
func (m *memory) readAll(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	if r == nil {
		r = bytes.NewReader(nil)
	}
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(min(size, 64<<20)))
	}
	chunk := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if m.maxBytes > 0 && int64(buf.Len()) > m.maxBytes {
			return nil, errFull
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if size >= 0 && int64(buf.Len()) != size {
		return nil, fmt.Errorf("example: read %d bytes, the put announced %d", buf.Len(), size)
	}
	return buf.Bytes(), nil
}

func putArgs(opts *backends.PutOptions) (int64, func() (backends.Metadata, error)) {
	if opts == nil {
		return -1, nil
	}
	return opts.Size, opts.Finish
}

func (m *memory) PutObject(ctx context.Context, bkt, key string, r io.Reader, opts *backends.PutOptions) (*backends.ObjectInfo, error) {
	m.mu.Lock()
	_, err := m.bucket(bkt)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	size, finish := putArgs(opts)
	data, err := m.readAll(ctx, r, size)
	if err != nil {
		return nil, err
	}
	var md backends.Metadata
	if finish != nil {
		if md, err = finish(); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	obj := &object{data: data, info: backends.ObjectInfo{Key: key, Size: int64(len(data)), LastModified: time.Now(), Metadata: cloneMeta(md)}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.commitLocked(bkt, key, obj); err != nil {
		return nil, err
	}
	info := obj.info
	info.Metadata = cloneMeta(info.Metadata)
	return &info, nil
}

// commitLocked makes obj visible under key, within the size budget.
func (m *memory) commitLocked(bkt, key string, obj *object) error {
	b, err := m.bucket(bkt) // it may have been deleted meanwhile
	if err != nil {
		return err
	}
	delta := int64(len(obj.data))
	if old, ok := b.objects[key]; ok {
		delta -= int64(len(old.data))
	}
	if m.maxBytes > 0 && m.used+delta > m.maxBytes {
		return errFull
	}
	m.used += delta
	b.objects[key] = obj
	return nil
}

func (m *memory) lookup(bkt, key string) (*object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bkt)
	if err != nil {
		return nil, err
	}
	obj, ok := b.objects[key]
	if !ok {
		return nil, backends.ErrNotFound
	}
	return obj, nil
}

func (m *memory) GetObject(ctx context.Context, bkt, key string, rng *backends.Range) (*backends.ObjectInfo, io.ReadCloser, error) {
	obj, err := m.lookup(bkt, key)
	if err != nil {
		return nil, nil, err
	}
	data := obj.data
	if rng != nil {
		off, n, err := rng.Resolve(int64(len(data)))
		if err != nil {
			return nil, nil, err
		}
		data = data[off : off+n]
	}
	info := obj.info
	info.Metadata = cloneMeta(info.Metadata)
	return &info, io.NopCloser(bytes.NewReader(data)), nil
}

func (m *memory) HeadObject(ctx context.Context, bkt, key string) (*backends.ObjectInfo, error) {
	obj, err := m.lookup(bkt, key)
	if err != nil {
		return nil, err
	}
	info := obj.info
	info.Metadata = cloneMeta(info.Metadata)
	return &info, nil
}

func (m *memory) DeleteObject(ctx context.Context, bkt, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bkt)
	if err != nil {
		return err
	}
	obj, ok := b.objects[key]
	if !ok {
		return backends.ErrNotFound
	}
	m.used -= int64(len(obj.data))
	delete(b.objects, key)
	return nil
}

func (m *memory) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta backends.Metadata) (*backends.ObjectInfo, error) {
	src, err := m.lookup(srcBucket, srcKey)
	if err != nil {
		return nil, err
	}
	// Bytes are immutable: the copy shares them.
	obj := &object{data: src.data, info: backends.ObjectInfo{Key: dstKey, Size: src.info.Size, LastModified: time.Now(), Metadata: cloneMeta(meta)}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.commitLocked(dstBucket, dstKey, obj); err != nil {
		return nil, err
	}
	info := obj.info
	info.Metadata = cloneMeta(info.Metadata)
	return &info, nil
}

func (m *memory) ListObjects(ctx context.Context, bkt string, opts *backends.ListOptions) (*backends.ListPage, error) {
	var o backends.ListOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 1000
	}
	m.mu.Lock()
	b, err := m.bucket(bkt)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		if strings.HasPrefix(k, o.Prefix) && k > o.StartAfter {
			keys = append(keys, k)
		}
	}
	objs := make(map[string]backends.ObjectInfo, len(keys))
	for _, k := range keys {
		info := b.objects[k].info
		info.Metadata = cloneMeta(info.Metadata)
		objs[k] = info
	}
	m.mu.Unlock()

	slices.Sort(keys)
	page := &backends.ListPage{}
	for _, k := range keys {
		entry, isPrefix := k, false
		if o.Delimiter != "" {
			if i := strings.Index(k[len(o.Prefix):], o.Delimiter); i >= 0 {
				entry, isPrefix = k[:len(o.Prefix)+i+len(o.Delimiter)], true
			}
		}
		if entry <= o.StartAfter {
			// A common prefix that StartAfter lies inside was already
			// returned on an earlier page.
			continue
		}
		if isPrefix && len(page.CommonPrefixes) > 0 && page.CommonPrefixes[len(page.CommonPrefixes)-1] == entry {
			continue
		}
		if len(page.Objects)+len(page.CommonPrefixes) == o.MaxKeys {
			page.IsTruncated = true
			break
		}
		if isPrefix {
			page.CommonPrefixes = append(page.CommonPrefixes, entry)
		} else {
			page.Objects = append(page.Objects, objs[k])
		}
		page.NextStartAfter = entry
	}
	if !page.IsTruncated {
		page.NextStartAfter = ""
	}
	return page, nil
}

func newUploadID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (m *memory) CreateMultipartUpload(ctx context.Context, bkt, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bkt)
	if err != nil {
		return "", err
	}
	id := newUploadID()
	b.uploads[id] = &upload{key: key, parts: map[int]*part{}}
	return id, nil
}

// uploadLocked finds an upload of key in bkt.
func (m *memory) uploadLocked(bkt, key, id string) (*upload, error) {
	b, err := m.bucket(bkt)
	if err != nil {
		return nil, err
	}
	u, ok := b.uploads[id]
	if !ok || u.key != key {
		return nil, backends.ErrUploadNotFound
	}
	return u, nil
}

func (m *memory) UploadPart(ctx context.Context, bkt, key, uploadID string, partNumber int, r io.Reader, opts *backends.PutOptions) (*backends.PartInfo, error) {
	m.mu.Lock()
	_, err := m.uploadLocked(bkt, key, uploadID)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	size, finish := putArgs(opts)
	data, err := m.readAll(ctx, r, size)
	if err != nil {
		return nil, err
	}
	var md backends.Metadata
	if finish != nil {
		if md, err = finish(); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &part{data: data, info: backends.PartInfo{
		PartNumber: partNumber, Size: int64(len(data)), LastModified: time.Now(), ETag: md.ETag, Checksums: maps.Clone(md.Checksums),
	}}
	m.mu.Lock()
	defer m.mu.Unlock()
	u, err := m.uploadLocked(bkt, key, uploadID)
	if err != nil {
		return nil, err
	}
	delta := int64(len(data))
	if old, ok := u.parts[partNumber]; ok {
		delta -= int64(len(old.data))
	}
	if m.maxBytes > 0 && m.used+delta > m.maxBytes {
		return nil, errFull
	}
	m.used += delta
	u.parts[partNumber] = p
	info := p.info
	info.Checksums = maps.Clone(info.Checksums)
	return &info, nil
}

func (m *memory) ListParts(ctx context.Context, bkt, key, uploadID string) ([]backends.PartInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, err := m.uploadLocked(bkt, key, uploadID)
	if err != nil {
		return nil, err
	}
	nums := slices.Sorted(maps.Keys(u.parts))
	out := make([]backends.PartInfo, 0, len(nums))
	for _, n := range nums {
		info := u.parts[n].info
		info.Checksums = maps.Clone(info.Checksums)
		out = append(out, info)
	}
	return out, nil
}

func (m *memory) CompleteMultipartUpload(ctx context.Context, bkt, key, uploadID string, parts []int, meta backends.Metadata) (*backends.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, err := m.uploadLocked(bkt, key, uploadID)
	if err != nil {
		return nil, err
	}
	var size int
	for _, n := range parts {
		p, ok := u.parts[n]
		if !ok {
			return nil, fmt.Errorf("%w: part %d", backends.ErrPartNotFound, n)
		}
		size += len(p.data)
	}
	data := make([]byte, 0, size)
	for _, n := range parts {
		data = append(data, u.parts[n].data...)
	}
	obj := &object{data: data, info: backends.ObjectInfo{Key: key, Size: int64(size), LastModified: time.Now(), Metadata: cloneMeta(meta)}}
	// The parts' bytes leave the budget as the object's enter it.
	for _, p := range u.parts {
		m.used -= int64(len(p.data))
	}
	if err := m.commitLocked(bkt, key, obj); err != nil {
		for _, p := range u.parts {
			m.used += int64(len(p.data))
		}
		return nil, err
	}
	delete(m.buckets[bkt].uploads, uploadID)
	info := obj.info
	info.Metadata = cloneMeta(info.Metadata)
	return &info, nil
}

func (m *memory) AbortMultipartUpload(ctx context.Context, bkt, key, uploadID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, err := m.uploadLocked(bkt, key, uploadID)
	if err != nil {
		return err
	}
	for _, p := range u.parts {
		m.used -= int64(len(p.data))
	}
	delete(m.buckets[bkt].uploads, uploadID)
	return nil
}

func (m *memory) Close() error { return nil }
