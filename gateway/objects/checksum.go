// Package objects is the portable object layer: the S3 rules that hold for
// every backend — ETags and Content-MD5, flexible checksums, preconditions,
// ranges, multipart bookkeeping and key validation — written once here and
// used by the S3 handler over any backends.Backend.
package objects

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strings"

	"github.com/cloudraya/raya/gateway/s3err"
)

// Checksum algorithm names, as S3 spells them.
const (
	CRC32     = "CRC32"
	CRC32C    = "CRC32C"
	CRC64NVME = "CRC64NVME"
	SHA1      = "SHA1"
	SHA256    = "SHA256"
)

// Checksum types.
const (
	FullObject = "FULL_OBJECT"
	Composite  = "COMPOSITE"
)

// Algorithms lists the supported checksum algorithms.
var Algorithms = []string{CRC32, CRC32C, CRC64NVME, SHA1, SHA256}

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// nvme is CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5.
	nvme = crc64.MakeTable(0x9a6c9329ac4bc9b5)
)

// NewHash returns a hash for a checksum algorithm, or nil when unknown.
func NewHash(alg string) hash.Hash {
	switch alg {
	case CRC32:
		return crc32.NewIEEE()
	case CRC32C:
		return crc32.New(castagnoli)
	case CRC64NVME:
		return crc64.New(nvme)
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	}
	return nil
}

// HeaderName returns the x-amz-checksum-* header for an algorithm.
func HeaderName(alg string) string { return "x-amz-checksum-" + strings.ToLower(alg) }

// ValidAlgorithm reports whether alg (any case) names a supported
// algorithm, and returns it in canonical form.
func ValidAlgorithm(alg string) (string, bool) {
	a := strings.ToUpper(strings.TrimSpace(alg))
	return a, NewHash(a) != nil
}

// rawLen is the byte length of each algorithm's digest.
func rawLen(alg string) int {
	switch alg {
	case CRC32, CRC32C:
		return 4
	case CRC64NVME:
		return 8
	case SHA1:
		return 20
	case SHA256:
		return 32
	}
	return 0
}

// Expectation is what a request says its body must hash to.
type Expectation struct {
	// MD5 is the decoded Content-MD5, nil when absent.
	MD5 []byte
	// Algorithm is the flexible checksum algorithm in use ("" when none).
	Algorithm string
	// Value is the expected base64 checksum from a header; empty when it
	// arrives in a trailer or not at all.
	Value string
	// FromTrailer: the value arrives in the trailer of an aws-chunked body.
	FromTrailer bool
}

// ParseExpectation reads Content-MD5 and the flexible checksum headers of a
// request (x-amz-checksum-*, x-amz-sdk-checksum-algorithm, x-amz-trailer).
func ParseExpectation(h http.Header) (Expectation, *s3err.Error) {
	var e Expectation
	if v := h.Get("Content-MD5"); v != "" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != md5.Size {
			return e, s3err.InvalidDigest
		}
		e.MD5 = b
	}
	for _, alg := range Algorithms {
		v := h.Get(HeaderName(alg))
		if v == "" {
			continue
		}
		if e.Algorithm != "" {
			return e, s3err.InvalidRequest.With("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		if b, err := base64.StdEncoding.DecodeString(v); err != nil || len(b) != rawLen(alg) {
			return e, s3err.InvalidRequest.With("Value for " + HeaderName(alg) + " header is invalid.")
		}
		e.Algorithm, e.Value = alg, v
	}
	if t := strings.ToLower(strings.TrimSpace(h.Get("X-Amz-Trailer"))); strings.HasPrefix(t, "x-amz-checksum-") {
		alg, ok := ValidAlgorithm(strings.TrimPrefix(t, "x-amz-checksum-"))
		if !ok {
			return e, s3err.InvalidRequest.With("The value specified in the x-amz-trailer header is not supported")
		}
		if e.Algorithm != "" && e.Algorithm != alg {
			return e, s3err.InvalidRequest.With("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		e.Algorithm, e.FromTrailer = alg, true
	}
	if e.Algorithm == "" {
		if v := h.Get("X-Amz-Sdk-Checksum-Algorithm"); v != "" {
			alg, ok := ValidAlgorithm(v)
			if !ok {
				return e, s3err.InvalidRequest.With("Checksum algorithm provided is unsupported.")
			}
			e.Algorithm = alg
		}
	}
	return e, nil
}

// HashingReader passes a body through while computing its MD5, its length
// and any number of flexible checksums.
type HashingReader struct {
	r      io.Reader
	md5    hash.Hash
	sums   map[string]hash.Hash
	n      int64
	hashes []hash.Hash
}

// NewHashingReader hashes r with MD5 and the given checksum algorithms.
func NewHashingReader(r io.Reader, algs ...string) *HashingReader {
	h := &HashingReader{r: r, md5: md5.New(), sums: map[string]hash.Hash{}}
	h.hashes = append(h.hashes, h.md5)
	for _, a := range algs {
		if a == "" || h.sums[a] != nil {
			continue
		}
		if x := NewHash(a); x != nil {
			h.sums[a] = x
			h.hashes = append(h.hashes, x)
		}
	}
	return h
}

func (h *HashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 {
		for _, x := range h.hashes {
			x.Write(p[:n])
		}
		h.n += int64(n)
	}
	return n, err
}

// N is the number of bytes read so far.
func (h *HashingReader) N() int64 { return h.n }

// MD5 returns the raw MD5 of what was read.
func (h *HashingReader) MD5() []byte { return h.md5.Sum(nil) }

// ETag returns the MD5 hex of what was read.
func (h *HashingReader) ETag() string { return hex.EncodeToString(h.MD5()) }

// Checksums returns the base64 checksums computed so far.
func (h *HashingReader) Checksums() map[string]string {
	if len(h.sums) == 0 {
		return nil
	}
	m := make(map[string]string, len(h.sums))
	for a, x := range h.sums {
		m[a] = base64.StdEncoding.EncodeToString(x.Sum(nil))
	}
	return m
}

// Verify checks what was read against the expectation: the size (when
// known, >= 0), Content-MD5 and the flexible checksum, whose value comes
// from trailer when e.FromTrailer. It returns the checksums to store.
func (h *HashingReader) Verify(e Expectation, size int64, trailer http.Header) (map[string]string, *s3err.Error) {
	if size >= 0 && h.n != size {
		return nil, s3err.IncompleteBody
	}
	if e.MD5 != nil && !bytes.Equal(e.MD5, h.MD5()) {
		return nil, s3err.BadDigest
	}
	sums := h.Checksums()
	if e.Algorithm != "" {
		want := e.Value
		if e.FromTrailer {
			want = strings.TrimSpace(trailer.Get(HeaderName(e.Algorithm)))
			if want == "" {
				return nil, s3err.InvalidRequest.With("The trailing checksum " + HeaderName(e.Algorithm) + " was not received.")
			}
		}
		if want != sums[e.Algorithm] {
			return nil, s3err.BadDigest.With("The " + e.Algorithm + " you specified did not match the calculated checksum.")
		}
	}
	return sums, nil
}
