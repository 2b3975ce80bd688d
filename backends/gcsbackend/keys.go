package gcsbackend

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cloudraya/raya/backends"
)

// Object names.
//
// S3 keys are opaque byte strings (valid UTF-8) of up to 1024 bytes; GCS
// object names are almost the same, but may not contain CR or LF, may not
// be exactly "." or "..", and may not start with
// ".well-known/acme-challenge/". A key is stored under an encoded name that
// is identical to the key for every key without control bytes 0x00-0x0D:
//
//   - each byte c in 0x00..0x0D becomes the two bytes 0x01, 0x10+c;
//   - the keys "." and ".." get the terminator 0x01 0x0F appended.
//
// The per-byte map is a prefix code that preserves byte order, so
// encode(p) is a prefix of encode(k) exactly when p is a prefix of k, and
// encoded names sort like the keys they encode: GCS prefix queries and
// StartOffset work on encoded names directly.
//
// Names starting with 0x01 0x1E never result from encoding a key; that
// namespace holds the backend's hidden objects (temporary uploads and
// multipart parts), which listings skip.
const (
	escByte    = 0x01
	escBase    = 0x10 // second byte of an escape is escBase + c
	escMax     = 0x0D // highest escaped byte (CR)
	terminator = "\x01\x0F"
	hidden     = "\x01\x1E"
	maxNameLen = 1024 // GCS limit on the UTF-8 length of an object name

	tmpPrefix    = hidden + "t/" // temporary objects of in-flight puts
	uploadPrefix = hidden + "u/" // multipart uploads: marker u/<id>, parts u/<id>/<nnnnn>
)

// encodeBytes applies the per-byte map (without the "." / ".." rule). It
// is used for keys and for list prefixes.
func encodeBytes(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] <= escMax {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= escMax {
			b.WriteByte(escByte)
			b.WriteByte(escBase + c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// encodeLoose encodes any string that sorts like a key (StartAfter values),
// without validation.
func encodeLoose(key string) string {
	s := encodeBytes(key)
	if key == "." || key == ".." {
		s += terminator
	}
	return s
}

// encodeKey returns the object name of a key, or ErrInvalidKey for keys GCS
// cannot store even encoded.
func encodeKey(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty key", backends.ErrInvalidKey)
	}
	if !utf8.ValidString(key) {
		return "", fmt.Errorf("%w: key is not valid UTF-8", backends.ErrInvalidKey)
	}
	s := encodeLoose(key)
	if len(s) > maxNameLen {
		return "", fmt.Errorf("%w: encoded key is %d bytes, GCS allows %d", backends.ErrInvalidKey, len(s), maxNameLen)
	}
	if strings.HasPrefix(s, ".well-known/acme-challenge/") {
		return "", fmt.Errorf("%w: GCS reserves the prefix .well-known/acme-challenge/", backends.ErrInvalidKey)
	}
	return s, nil
}

// decodeName returns the key stored under an object name; ok is false for
// hidden objects. Names that are not valid encodings (objects written to the
// bucket by something else) decode leniently, byte for byte.
func decodeName(name string) (key string, ok bool) {
	if strings.HasPrefix(name, hidden) {
		return "", false
	}
	if strings.IndexByte(name, escByte) < 0 {
		return name, true
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == escByte && i+1 < len(name) {
			d := name[i+1]
			if d >= escBase && d <= escBase+escMax {
				b.WriteByte(d - escBase)
				i++
				continue
			}
			if name[i:] == terminator {
				break
			}
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// Bucket names.
//
// A Raya bucket maps to the GCS bucket BucketPrefix+name when that is a valid
// GCS name without dots (dotted GCS names require domain verification).
// Otherwise it maps to BucketPrefix + a readable stem + "_" + 20 hex digits of
// SHA-256(name). S3 names never contain "_", so the two forms cannot collide.

func validGCSBucket(n string) bool {
	if len(n) < 3 || len(n) > 63 || strings.HasPrefix(n, "goog") ||
		strings.Contains(n, "google") || strings.Contains(n, "g00gle") {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' || c == '_':
			if i == 0 || i == len(n)-1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func gcsBucketName(prefix, name string) string {
	if n := prefix + name; validGCSBucket(n) {
		return n
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:])[:20]
	stem := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		default:
			return '-'
		}
	}, name)
	if strings.Contains(stem, "google") || strings.Contains(stem, "g00gle") {
		stem = ""
	}
	room := 63 - len(prefix) - 1 - len(h)
	if room < 0 {
		room = 0
	}
	if len(stem) > room {
		stem = stem[:room]
	}
	stem = strings.Trim(stem, "-")
	if prefix == "" && (stem == "" || strings.HasPrefix(stem, "goog")) {
		stem = "x" + stem
		if len(stem) > room {
			stem = stem[:room]
		}
	}
	return prefix + stem + "_" + h
}
