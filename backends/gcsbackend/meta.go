package gcsbackend

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/cloudraya/raya/backends"
)

// Metadata layout on a GCS object.
//
// Content headers are stored natively (ContentType, ContentEncoding,
// ContentDisposition, ContentLanguage, CacheControl), so GCS serves them to
// anyone reading the bucket directly. GCS gives every object a content type,
// so an empty one is recorded with the custom key raya-no-content-type and
// the native field holds application/octet-stream. Everything else lives in
// custom metadata under raya-* keys:
//
//	raya-etag            gateway ETag
//	raya-expires         Expires header value
//	raya-user            user metadata, JSON object (names may hold spaces, values may be empty)
//	raya-checksums       checksums, JSON object
//	raya-checksum-type   FULL_OBJECT or COMPOSITE
//	raya-parts           part sizes, run-length coded: "5242880*3,17"
//
// GCS limits custom metadata to 8 KiB (keys plus values); larger metadata
// fails with ErrMetadataTooLarge before anything becomes visible.
const (
	mdETag         = "raya-etag"
	mdExpires      = "raya-expires"
	mdUser         = "raya-user"
	mdChecksums    = "raya-checksums"
	mdChecksumType = "raya-checksum-type"
	mdParts        = "raya-parts"
	mdNoCT         = "raya-no-content-type"
	mdUploadKey    = "raya-upload-key" // on an upload marker: the key, as JSON string

	defaultContentType = "application/octet-stream"
	maxCustomMetadata  = 8 << 10
)

// ErrMetadataTooLarge reports metadata that does not fit in GCS's 8 KiB of
// custom metadata (in practice: a multipart object with thousands of parts
// of different sizes).
var ErrMetadataTooLarge = errors.New("gcsbackend: metadata exceeds the 8 KiB GCS allows")

// encodeMeta returns the object attributes that store m (Name and Bucket
// are left empty).
func encodeMeta(m backends.Metadata) (storage.ObjectAttrs, error) {
	a := storage.ObjectAttrs{
		ContentType:        m.ContentType,
		ContentEncoding:    m.ContentEncoding,
		ContentDisposition: m.ContentDisposition,
		ContentLanguage:    m.ContentLanguage,
		CacheControl:       m.CacheControl,
	}
	md := map[string]string{}
	if m.ContentType == "" {
		a.ContentType = defaultContentType
		md[mdNoCT] = "1"
	}
	set := func(k, v string) {
		if v != "" {
			md[k] = v
		}
	}
	set(mdETag, m.ETag)
	set(mdExpires, m.Expires)
	set(mdChecksumType, m.ChecksumType)
	set(mdParts, encodePartSizes(m.PartSizes))
	for k, v := range map[string]map[string]string{mdUser: m.User, mdChecksums: m.Checksums} {
		if len(v) == 0 {
			continue
		}
		j, err := json.Marshal(v)
		if err != nil {
			return a, err
		}
		md[k] = string(j)
	}
	total := 0
	for k, v := range md {
		total += len(k) + len(v)
	}
	if total > maxCustomMetadata {
		return a, fmt.Errorf("%w: %d bytes", ErrMetadataTooLarge, total)
	}
	a.Metadata = md
	return a, nil
}

// decodeMeta is the inverse of encodeMeta.
func decodeMeta(a *storage.ObjectAttrs) (backends.Metadata, error) {
	m := backends.Metadata{
		ContentType:        a.ContentType,
		ContentEncoding:    a.ContentEncoding,
		ContentDisposition: a.ContentDisposition,
		ContentLanguage:    a.ContentLanguage,
		CacheControl:       a.CacheControl,
	}
	md := a.Metadata
	if _, ok := md[mdNoCT]; ok {
		m.ContentType = ""
	}
	m.ETag = md[mdETag]
	m.Expires = md[mdExpires]
	m.ChecksumType = md[mdChecksumType]
	var err error
	if m.PartSizes, err = decodePartSizes(md[mdParts]); err != nil {
		return m, fmt.Errorf("gcsbackend: object %q: %w", a.Name, err)
	}
	for k, dst := range map[string]*map[string]string{mdUser: &m.User, mdChecksums: &m.Checksums} {
		if v := md[k]; v != "" {
			if err := json.Unmarshal([]byte(v), dst); err != nil {
				return m, fmt.Errorf("gcsbackend: object %q: bad %s: %w", a.Name, k, err)
			}
		}
	}
	return m, nil
}

// encodePartSizes writes sizes as comma-separated runs "size" or
// "size*count": a typical upload (equal parts and a shorter last one) takes
// a few bytes whatever its part count.
func encodePartSizes(sizes []int64) string {
	var b strings.Builder
	for i := 0; i < len(sizes); {
		j := i + 1
		for j < len(sizes) && sizes[j] == sizes[i] {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(sizes[i], 10))
		if n := j - i; n > 1 {
			b.WriteByte('*')
			b.WriteString(strconv.Itoa(n))
		}
		i = j
	}
	return b.String()
}

const maxParts = 10000

func decodePartSizes(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	var out []int64
	for run := range strings.SplitSeq(s, ",") {
		val, cnt, hasCnt := strings.Cut(run, "*")
		size, err := strconv.ParseInt(val, 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad part sizes %q", s)
		}
		n := 1
		if hasCnt {
			if n, err = strconv.Atoi(cnt); err != nil || n < 1 {
				return nil, fmt.Errorf("bad part sizes %q", s)
			}
		}
		if len(out)+n > maxParts {
			return nil, fmt.Errorf("bad part sizes %q: more than %d parts", s, maxParts)
		}
		for range n {
			out = append(out, size)
		}
	}
	return out, nil
}

// partMeta is what a part object records: the part ETag and checksums.
func encodePartMeta(m backends.Metadata) (storage.ObjectAttrs, error) {
	return encodeMeta(backends.Metadata{ETag: m.ETag, Checksums: maps.Clone(m.Checksums)})
}
