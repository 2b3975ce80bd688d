package s3api

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/cloudraya/raya/gateway/s3err"
)

// route finds the bucket and key of a request from the Host header and the
// raw path. Keys are never cleaned: "//", "./", "../" and "%2F" are legal
// parts of a key.
func (h *Handler) route(r *http.Request) (bucket, key string, vhost bool, err error) {
	raw := r.URL.EscapedPath()
	path, perr := url.PathUnescape(raw)
	if perr != nil {
		return "", "", false, s3err.InvalidURI
	}
	if b := h.hostBucket(r.Host); b != "" {
		return b, strings.TrimPrefix(path, "/"), true, nil
	}
	p := strings.TrimPrefix(path, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key, false, nil
}

// hostBucket returns the bucket of a virtual-hosted-style Host, or "".
func (h *Handler) hostBucket(host string) string {
	if len(h.opts.Domains) == 0 {
		return ""
	}
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range h.opts.Domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
			return b
		}
	}
	return ""
}

// parseQuery decodes a raw query string. Unlike url.ParseQuery it keeps
// '+' as a plus sign only where S3 clients mean it: they always encode
// spaces as %20, and a literal '+' in a query is decoded as a space, as AWS
// does.
func parseQuery(raw string) (map[string][]string, error) {
	m := map[string][]string{}
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		m[k] = append(m[k], v)
	}
	return m, nil
}
