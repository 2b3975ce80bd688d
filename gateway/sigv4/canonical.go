package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm        = "AWS4-HMAC-SHA256"
	amzDateFormat    = "20060102T150405Z"
	shortDateFormat  = "20060102"
	unsignedPayload  = "UNSIGNED-PAYLOAD"
	emptySHA256      = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	streamingSigned  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsTrl  = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// uriEncode applies the AWS UriEncode rule: unreserved characters
// (A-Z a-z 0-9 - . _ ~) are kept, '/' is kept unless encodeSlash, every other
// byte becomes %XX with upper-case hex.
func uriEncode(s string, encodeSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// percentDecode decodes %XX escapes; a '%' that does not start a valid escape
// is kept literally. With plusSpace, '+' decodes to a space (query strings).
func percentDecode(s string, plusSpace bool) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s):
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
			b = append(b, c)
		case c == '+' && plusSpace:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// rawPath returns the request path exactly as the client sent it.
func rawPath(r *http.Request) string {
	if u := r.RequestURI; u != "" && u != "*" {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		if !strings.HasPrefix(u, "/") {
			// absolute-form: scheme://authority/path
			if i := strings.Index(u, "://"); i >= 0 {
				rest := u[i+3:]
				if j := strings.IndexByte(rest, '/'); j >= 0 {
					return rest[j:]
				}
				return "/"
			}
		}
		return u
	}
	if r.URL == nil {
		return "/"
	}
	return r.URL.EscapedPath()
}

// rawQuery returns the query string exactly as the client sent it.
func rawQuery(r *http.Request) string {
	if r.URL != nil {
		return r.URL.RawQuery
	}
	return ""
}

// canonicalURIS3 is the S3 canonical URI: the path as sent, percent-decoded
// and re-encoded byte by byte with UriEncode, '/' kept, an encoded slash
// (%2F) kept encoded, no normalization, no double encoding.
func canonicalURIS3(raw string) string {
	if raw == "" {
		return "/"
	}
	segs := strings.Split(raw, "/")
	for i, s := range segs {
		segs[i] = uriEncode(percentDecode(s, false), true)
	}
	return strings.Join(segs, "/")
}

// canonicalURIGeneric is the canonical URI for non-S3 services (and the AWS
// vector suite): optionally normalized (dot segments removed, duplicate
// slashes collapsed), then the escaped path is encoded once more.
func canonicalURIGeneric(raw string, normalize bool) string {
	if raw == "" {
		raw = "/"
	}
	if normalize {
		raw = normalizePath(raw)
	}
	return uriEncode(raw, false)
}

// normalizePath removes "." and ".." segments and empty segments, keeping a
// trailing slash.
func normalizePath(p string) string {
	trailing := strings.HasSuffix(p, "/")
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch s {
		case "", ".":
			if i == len(segs)-1 {
				trailing = true
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				trailing = true
			}
		default:
			out = append(out, s)
		}
	}
	res := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		res += "/"
	}
	return res
}

type queryPair struct{ k, v string }

// canonicalQuery canonicalizes a raw query string: each key and value is
// decoded ('+' as space) and re-encoded with UriEncode, pairs are sorted by
// key then value. Keys for which skip returns true are dropped.
func canonicalQuery(raw string, skip func(key string) bool) string {
	if raw == "" {
		return ""
	}
	var pairs []queryPair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k = percentDecode(k, true)
		if skip != nil && skip(k) {
			continue
		}
		pairs = append(pairs, queryPair{uriEncode(k, true), uriEncode(percentDecode(v, true), true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// parseQuery decodes a raw query into a map of first values, keeping the
// AWS interpretation ('+' is a space).
func parseQuery(raw string) map[string][]string {
	m := make(map[string][]string)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k = percentDecode(k, true)
		m[k] = append(m[k], percentDecode(v, true))
	}
	return m
}

func first(m map[string][]string, k string) (string, bool) {
	v, ok := m[k]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// trimAll trims a header value and collapses runs of spaces and tabs (and
// folded line breaks) to one space.
func trimAll(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// headerValues returns the values of a signed header as the client sent
// them, restoring what net/http moves out of r.Header.
func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		h := r.Host
		if h == "" && r.URL != nil {
			h = r.URL.Host
		}
		return []string{h}
	}
	if vs, ok := r.Header[http.CanonicalHeaderKey(name)]; ok {
		return vs
	}
	// Header maps built by hand may hold non-canonical keys.
	for k, vs := range r.Header {
		if strings.EqualFold(k, name) {
			return vs
		}
	}
	switch name {
	case "content-length":
		if r.ContentLength > 0 || (r.ContentLength == 0 && r.Body != nil && r.Body != http.NoBody) {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
	}
	return nil
}

// canonicalHeaders renders the canonical headers block (each line ending in
// '\n') for the given lower-case, sorted signed header names.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range headerValues(r, name) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimAll(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// canonicalRequest assembles the canonical request.
func canonicalRequest(method, uri, query, headers string, signed []string, payloadHash string) string {
	return method + "\n" + uri + "\n" + query + "\n" + headers + "\n" + strings.Join(signed, ";") + "\n" + payloadHash
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// scope is the credential scope date/region/service/aws4_request.
func scope(date, region, service string) string {
	return date + "/" + region + "/" + service + "/aws4_request"
}

func stringToSign(t time.Time, scope, creq string) string {
	return algorithm + "\n" + t.UTC().Format(amzDateFormat) + "\n" + scope + "\n" + sha256Hex(creq)
}

// signingKey derives the SigV4 signing key.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func signHex(key []byte, sts string) string {
	return hex.EncodeToString(hmacSHA256(key, sts))
}

// constantTimeEqual compares two signatures in constant time.
func constantTimeEqual(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}
