package objects

import (
	"net/http"
	"strings"
	"time"

	"github.com/cloudraya/raya/gateway/s3err"
)

// Conditions are the HTTP preconditions of a request (or of a copy source).
type Conditions struct {
	IfMatch           string
	IfNoneMatch       string
	IfModifiedSince   string
	IfUnmodifiedSince string
}

// ReadConditions reads If-* headers, or x-amz-copy-source-if-* when prefix
// is "x-amz-copy-source-".
func ReadConditions(h http.Header, prefix string) Conditions {
	return Conditions{
		IfMatch:           h.Get(prefix + "If-Match"),
		IfNoneMatch:       h.Get(prefix + "If-None-Match"),
		IfModifiedSince:   h.Get(prefix + "If-Modified-Since"),
		IfUnmodifiedSince: h.Get(prefix + "If-Unmodified-Since"),
	}
}

// Empty reports whether no condition is set.
func (c Conditions) Empty() bool { return c == Conditions{} }

// ETagMatches reports whether an If-Match / If-None-Match list matches etag.
func ETagMatches(list, etag string) bool {
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(v, "W/")
		if v == "*" || strings.Trim(v, `"`) == etag {
			return true
		}
	}
	return false
}

func parseHTTPTime(s string) (time.Time, bool) {
	t, err := http.ParseTime(s)
	return t, err == nil
}

// Check evaluates the conditions against an object's ETag and modification
// time the way S3 does for GET and HEAD: it returns nil, PreconditionFailed
// (412) or NotModified (304). With forCopy, a failed If-None-Match or
// If-Modified-Since is a 412 as well.
func (c Conditions) Check(etag string, modified time.Time, forCopy bool) *s3err.Error {
	modified = modified.Truncate(time.Second)
	notModified := s3err.NotModified
	if forCopy {
		notModified = s3err.PreconditionFailed
	}
	if c.IfMatch != "" {
		if !ETagMatches(c.IfMatch, etag) {
			return s3err.PreconditionFailed
		}
	} else if t, ok := parseHTTPTime(c.IfUnmodifiedSince); ok && c.IfUnmodifiedSince != "" && modified.After(t) {
		return s3err.PreconditionFailed
	}
	if c.IfNoneMatch != "" {
		if ETagMatches(c.IfNoneMatch, etag) {
			return notModified
		}
	} else if t, ok := parseHTTPTime(c.IfModifiedSince); ok && c.IfModifiedSince != "" && !modified.After(t) {
		return notModified
	}
	return nil
}
