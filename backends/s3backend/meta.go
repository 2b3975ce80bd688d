package s3backend

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cloudraya/raya/backends"
)

// rayaMetaKey is the user-metadata name (x-amz-meta-raya) of the encoded
// record. User metadata whose name starts with "raya" is always kept inside
// the record, so it never collides.
const rayaMetaKey = "raya"

// maxHeaderMeta is S3's limit on x-amz-meta-* (names, with the prefix
// counted to be safe, plus values).
const maxHeaderMeta = 2048

// record is what x-amz-meta-raya holds: the parts of backends.Metadata that
// have no native S3 place, in compact JSON.
type record struct {
	ETag string `json:"e,omitempty"`
	// NoType is set when ContentType was empty: the upstream would report
	// its default type instead.
	NoType       bool              `json:"n,omitempty"`
	Expires      string            `json:"x,omitempty"`
	User         map[string]string `json:"u,omitempty"` // entries not stored natively
	Checksums    map[string]string `json:"c,omitempty"`
	ChecksumType string            `json:"t,omitempty"`
	// Parts is PartSizes run-length encoded: [size, count] pairs.
	Parts [][2]int64 `json:"p,omitempty"`
	// Ref names a sidecar in the meta bucket holding the whole Metadata,
	// used when it does not fit in headers.
	Ref string `json:"r,omitempty"`
}

// encoded is Metadata as upstream write parameters.
type encoded struct {
	contentType, contentEncoding, contentDisposition, contentLanguage, cacheControl *string
	user                                                                            map[string]string
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// nativeUserKey reports whether a user metadata name survives as an HTTP
// header name through S3 unchanged.
func nativeUserKey(k string) bool {
	if k == "" || strings.HasPrefix(k, rayaMetaKey) {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// nativeUserValue reports whether a value survives as an HTTP header value
// unchanged: printable ASCII, not empty, no surrounding blanks.
func nativeUserValue(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func encodeParts(sizes []int64) [][2]int64 {
	var out [][2]int64
	for _, s := range sizes {
		if n := len(out); n > 0 && out[n-1][0] == s {
			out[n-1][1]++
			continue
		}
		out = append(out, [2]int64{s, 1})
	}
	return out
}

func decodeParts(runs [][2]int64) ([]int64, error) {
	var out []int64
	for _, r := range runs {
		if r[1] <= 0 || int64(len(out))+r[1] > 10000 {
			return nil, errors.New("bad part size runs")
		}
		for range r[1] {
			out = append(out, r[0])
		}
	}
	return out, nil
}

// encodeMeta splits m into native headers and the raya record. When the
// result exceeds S3's metadata limit it returns spill=true: the caller
// stores m in a sidecar and uses encodeSpilled.
func encodeMeta(m backends.Metadata) (e encoded, spill bool) {
	rec := record{
		ETag:         m.ETag,
		NoType:       m.ContentType == "",
		Expires:      m.Expires,
		Checksums:    m.Checksums,
		ChecksumType: m.ChecksumType,
		Parts:        encodeParts(m.PartSizes),
	}
	e = encoded{
		contentType:        optional(m.ContentType),
		contentEncoding:    optional(m.ContentEncoding),
		contentDisposition: optional(m.ContentDisposition),
		contentLanguage:    optional(m.ContentLanguage),
		cacheControl:       optional(m.CacheControl),
		user:               map[string]string{},
	}
	for k, v := range m.User {
		if nativeUserKey(k) && nativeUserValue(v) {
			e.user[k] = v
			continue
		}
		if rec.User == nil {
			rec.User = map[string]string{}
		}
		rec.User[k] = v
	}
	e.user[rayaMetaKey] = encodeRecord(rec)
	size := 0
	for k, v := range e.user {
		size += len("x-amz-meta-") + len(k) + len(v)
	}
	return e, size > maxHeaderMeta
}

// encodeSpilled is the header form of m when the whole Metadata lives in
// the sidecar ref.
func encodeSpilled(m backends.Metadata, ref string) encoded {
	e, _ := encodeMeta(backends.Metadata{
		ETag: m.ETag, ContentType: m.ContentType, ContentEncoding: m.ContentEncoding,
		ContentDisposition: m.ContentDisposition, ContentLanguage: m.ContentLanguage, CacheControl: m.CacheControl,
	})
	e.user = map[string]string{rayaMetaKey: encodeRecord(record{ETag: m.ETag, Ref: ref})}
	return e
}

func encodeRecord(r record) string {
	p, err := json.Marshal(r)
	if err != nil {
		panic(err) // strings, maps of strings and integers always marshal
	}
	return base64.RawURLEncoding.EncodeToString(p)
}

func decodeRecord(s string) (record, error) {
	var r record
	p, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return r, err
	}
	err = json.Unmarshal(p, &r)
	return r, err
}

// headers are the upstream response fields decodeMeta reads.
type headers struct {
	etag                                                                            *string
	contentType, contentEncoding, contentDisposition, contentLanguage, cacheControl *string
	expires                                                                         *string
	user                                                                            map[string]string
}

// decodeMeta rebuilds Metadata from upstream response headers. ref is the
// sidecar to read when not empty (m then holds only the ETag).
func decodeMeta(h headers) (m backends.Metadata, ref string, err error) {
	m = backends.Metadata{
		ContentType:        aws.ToString(h.contentType),
		ContentEncoding:    aws.ToString(h.contentEncoding),
		ContentDisposition: aws.ToString(h.contentDisposition),
		ContentLanguage:    aws.ToString(h.contentLanguage),
		CacheControl:       aws.ToString(h.cacheControl),
	}
	raw, ok := "", false
	user := map[string]string{}
	for k, v := range h.user {
		k = strings.ToLower(k)
		if k == rayaMetaKey {
			raw, ok = v, true
			continue
		}
		user[k] = v
	}
	if !ok { // not written by us
		m.ETag = unquote(aws.ToString(h.etag))
		m.Expires = aws.ToString(h.expires)
		if len(user) > 0 {
			m.User = user
		}
		return m, "", nil
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return m, "", fmt.Errorf("s3backend: corrupt x-amz-meta-raya: %w", err)
	}
	if rec.Ref != "" {
		return backends.Metadata{ETag: rec.ETag}, rec.Ref, nil
	}
	m.ETag = rec.ETag
	if rec.NoType {
		m.ContentType = ""
	}
	m.Expires = rec.Expires
	maps.Copy(user, rec.User)
	if len(user) > 0 {
		m.User = user
	}
	m.Checksums = rec.Checksums
	m.ChecksumType = rec.ChecksumType
	if m.PartSizes, err = decodeParts(rec.Parts); err != nil {
		return m, "", fmt.Errorf("s3backend: corrupt x-amz-meta-raya: %w", err)
	}
	return m, "", nil
}

func unquote(etag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(etag, `"`), `"`)
}

func cloneMeta(m backends.Metadata) backends.Metadata {
	m.User = maps.Clone(m.User)
	m.Checksums = maps.Clone(m.Checksums)
	if m.PartSizes != nil {
		m.PartSizes = append([]int64(nil), m.PartSizes...)
	}
	return m
}

// ---- errors ----

// mapErr translates an upstream error into the backends vocabulary,
// keeping the original in the chain.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var sentinel error
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			sentinel = backends.ErrBucketNotFound
		case "NoSuchKey", "NotFound":
			sentinel = backends.ErrNotFound
		case "NoSuchUpload":
			sentinel = backends.ErrUploadNotFound
		case "InvalidPart":
			sentinel = backends.ErrPartNotFound
		case "InvalidRange":
			sentinel = backends.ErrInvalidRange
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			sentinel = backends.ErrBucketExists
		case "BucketNotEmpty":
			sentinel = backends.ErrBucketNotEmpty
		case "KeyTooLongError":
			sentinel = backends.ErrInvalidKey
		case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout":
			sentinel = backends.ErrUnavailable
		}
	}
	if sentinel == nil {
		var re *smithyhttp.ResponseError
		var se *smithyhttp.RequestSendError
		var ne net.Error
		switch {
		case errors.As(err, &re):
			switch code := re.HTTPStatusCode(); {
			case code == http.StatusNotFound:
				sentinel = backends.ErrNotFound
			case code == http.StatusRequestedRangeNotSatisfiable:
				sentinel = backends.ErrInvalidRange
			case code >= 500:
				sentinel = backends.ErrUnavailable
			}
		case errors.As(err, &se), errors.As(err, &ne):
			sentinel = backends.ErrUnavailable
		}
	}
	if sentinel == nil {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// wrap maps err and names the operation.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("s3backend: %s: %w", op, mapErr(err))
}
