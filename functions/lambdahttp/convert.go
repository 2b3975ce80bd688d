package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Source names the kind of event a request came in.
type Source int

// The event sources.
const (
	FunctionURL Source = iota + 1 // Lambda Function URL (payload 2.0)
	HTTPAPI                       // API Gateway HTTP API, payload 2.0
	REST                          // API Gateway REST API (or HTTP API payload 1.0)
	ALB                           // Application Load Balancer target group
)

func (s Source) String() string {
	switch s {
	case FunctionURL:
		return "function-url"
	case HTTPAPI:
		return "http-api"
	case REST:
		return "rest-api"
	case ALB:
		return "alb"
	}
	return "unknown"
}

// PathEncoding says how the path an event carries is encoded.
type PathEncoding int

const (
	// PathAuto (the default) keeps every %XX escape as it is and escapes
	// whatever cannot appear literally in an escaped path (space, '?', '#',
	// a '%' not followed by two hex digits, non-ASCII, controls). It is
	// right for escaped paths (Function URLs, REST APIs and ALBs deliver the
	// path as the client sent it) and for decoded ones (HTTP APIs decode
	// rawPath), except for a decoded key that itself contains '%' followed
	// by two hex digits, which it takes as an escape.
	PathAuto PathEncoding = iota
	// PathEscaped takes the path as sent by the client; an invalid escape
	// is an InvalidURI error.
	PathEscaped
	// PathDecoded takes the path as already decoded and escapes it again.
	// An escaped slash (%2F) in a key cannot be told from '/' then.
	PathDecoded
)

// ParsePathEncoding parses "auto", "escaped" or "decoded".
func ParsePathEncoding(s string) (PathEncoding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return PathAuto, nil
	case "escaped", "encoded", "raw":
		return PathEscaped, nil
	case "decoded":
		return PathDecoded, nil
	}
	return 0, fmt.Errorf("path encoding %q: want auto, escaped or decoded", s)
}

// errInvalidURI is returned when an event's path or query cannot make a
// request URI.
var errInvalidURI = errors.New("lambdahttp: the event's path or query is not a valid request URI")

// wire is what every event source reduces to before it becomes a request.
type wire struct {
	source   Source
	method   string
	path     string // as the event carries it; see encoding
	encoding PathEncoding
	query    string // escaped, as on the wire
	header   http.Header
	domain   string // requestContext.domainName, if any
	body     string
	base64   bool
	remoteIP string
	// stage is a path prefix that the client sent and signed but that is
	// not part of the S3 path (a REST API stage on its default endpoint).
	stage string
}

// FunctionURLRequest converts a Function URL event.
func (c *Converter) FunctionURLRequest(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*http.Request, error) {
	h := headerFromMap(ev.Headers)
	addCookies(h, ev.Cookies)
	return c.build(ctx, &wire{
		source: FunctionURL, method: ev.RequestContext.HTTP.Method,
		path: ev.RawPath, encoding: c.pathEncoding(FunctionURL), query: ev.RawQueryString,
		header: h, domain: ev.RequestContext.DomainName,
		body: ev.Body, base64: ev.IsBase64Encoded, remoteIP: ev.RequestContext.HTTP.SourceIP,
	})
}

// HTTPAPIRequest converts an API Gateway HTTP API (payload 2.0) event.
func (c *Converter) HTTPAPIRequest(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	h := headerFromMap(ev.Headers)
	addCookies(h, ev.Cookies)
	w := &wire{
		source: HTTPAPI, method: ev.RequestContext.HTTP.Method,
		path: ev.RawPath, encoding: c.pathEncoding(HTTPAPI), query: ev.RawQueryString,
		header: h, domain: ev.RequestContext.DomainName,
		body: ev.Body, base64: ev.IsBase64Encoded, remoteIP: ev.RequestContext.HTTP.SourceIP,
	}
	// A named stage on the default endpoint stays in rawPath.
	if st := ev.RequestContext.Stage; st != "" && st != "$default" && strings.HasPrefix(w.path, "/"+st+"/") && isAWSHost(hostOf(h, w.domain)) {
		w.stage = "/" + st
	}
	return c.build(ctx, w)
}

// RESTRequest converts an API Gateway REST API event (also the payload 1.0
// of an HTTP API). Its query parameters arrive decoded and are re-encoded.
func (c *Converter) RESTRequest(ctx context.Context, ev *events.APIGatewayProxyRequest) (*http.Request, error) {
	h := headerFromMulti(ev.MultiValueHeaders, ev.Headers)
	q := ev.MultiValueQueryStringParameters
	if len(q) == 0 {
		q = single(ev.QueryStringParameters)
	}
	w := &wire{
		source: REST, method: ev.HTTPMethod,
		path: ev.Path, encoding: c.pathEncoding(REST), query: encodeQuery(q, true),
		header: h, domain: ev.RequestContext.DomainName,
		body: ev.Body, base64: ev.IsBase64Encoded, remoteIP: ev.RequestContext.Identity.SourceIP,
	}
	// On the default endpoint the client sent and signed /STAGE/PATH;
	// ev.Path lacks the stage, requestContext.path has it.
	if st := ev.RequestContext.Stage; st != "" && ev.RequestContext.Path == "/"+st+ev.Path {
		w.stage = "/" + st
		w.path = w.stage + ev.Path
	}
	return c.build(ctx, w)
}

// ALBRequest converts an Application Load Balancer event. ALB passes the
// query parameters as sent, without decoding them.
func (c *Converter) ALBRequest(ctx context.Context, ev *events.ALBTargetGroupRequest) (*http.Request, error) {
	h := headerFromMulti(ev.MultiValueHeaders, ev.Headers)
	q := ev.MultiValueQueryStringParameters
	if len(q) == 0 {
		q = single(ev.QueryStringParameters)
	}
	var ip string
	if xff := h.Get("X-Forwarded-For"); xff != "" {
		ip = strings.TrimSpace(xff[strings.LastIndexByte(xff, ',')+1:])
	}
	return c.build(ctx, &wire{
		source: ALB, method: ev.HTTPMethod,
		path: ev.Path, encoding: c.pathEncoding(ALB), query: encodeQuery(q, false),
		header: h, body: ev.Body, base64: ev.IsBase64Encoded, remoteIP: ip,
	})
}

func (c *Converter) pathEncoding(Source) PathEncoding { return c.opts.PathEncoding }

// build turns a wire request into an *http.Request.
func (c *Converter) build(ctx context.Context, w *wire) (*http.Request, error) {
	method := strings.ToUpper(w.method)
	if method == "" {
		return nil, errors.New("lambdahttp: the event has no HTTP method")
	}
	path, ok := escapePath(w.path, w.encoding)
	if !ok {
		return nil, errInvalidURI
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	// What the client signed: the full path, with a stage prefix if any.
	signed := path
	if c.opts.PathPrefix != "" && w.stage == "" {
		if rest, ok := strings.CutPrefix(path, c.opts.PathPrefix); ok && (rest == "" || rest[0] == '/') {
			w.stage = c.opts.PathPrefix
		}
	}
	route := path
	if w.stage != "" {
		route = strings.TrimPrefix(path, w.stage)
		if route == "" {
			route = "/"
		}
	}
	query := strings.TrimPrefix(w.query, "?")
	uri := route
	if query != "" {
		uri += "?" + query
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, errInvalidURI
	}

	var body []byte
	if w.base64 {
		body, err = base64.StdEncoding.DecodeString(w.body)
		if err != nil {
			return nil, fmt.Errorf("lambdahttp: body is not valid base64: %w", err)
		}
	} else {
		body = []byte(w.body)
	}

	host := c.host(w.header, w.domain)
	w.header.Del("Host")
	u.Host = host

	r := (&http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     w.header,
		Host:       host,
		RemoteAddr: net.JoinHostPort(orDefault(w.remoteIP, "0.0.0.0"), "0"),
		RequestURI: signed + strings.TrimPrefix(uri, route),
	}).WithContext(ctx)
	// The platform has already de-chunked the body; what reaches us is
	// whole and its length is known.
	r.ContentLength = int64(len(body))
	if len(body) > 0 {
		r.Body = newBody(body)
		r.GetBody = func() (io.ReadCloser, error) { return newBody(body), nil }
	} else {
		r.Body = http.NoBody
		r.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	return r, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// host returns the host name the client signed.
func (c *Converter) host(h http.Header, domain string) string {
	if name := c.opts.ForwardedHostHeader; name != "" {
		if v := h.Get(name); v != "" {
			return v
		}
	}
	host := hostOf(h, domain)
	if c.opts.PublicHost != "" && (host == "" || isAWSHost(host)) {
		return c.opts.PublicHost
	}
	return host
}

func hostOf(h http.Header, domain string) string {
	if v := h.Get("Host"); v != "" {
		return v
	}
	return domain
}

// isAWSHost reports whether host is a domain AWS generated for an API,
// a Function URL or a load balancer, rather than one an operator chose.
func isAWSHost(host string) bool {
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, s := range []string{".amazonaws.com", ".amazonaws.com.cn", ".on.aws"} {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// headerFromMap builds a header from a single-value map: each value is one
// header line, kept whole (Lambda joins repeated headers with ",", the very
// form SigV4 canonicalizes them to).
func headerFromMap(m map[string]string) http.Header {
	h := make(http.Header, len(m))
	for k, v := range m {
		h[http.CanonicalHeaderKey(k)] = append(h[http.CanonicalHeaderKey(k)], v)
	}
	return h
}

// headerFromMulti builds a header from a multi-value map (each value one
// header line, as sent), or from the single-value map when there is none.
func headerFromMulti(multi map[string][]string, m map[string]string) http.Header {
	if len(multi) == 0 {
		return headerFromMap(m)
	}
	h := make(http.Header, len(multi))
	for k, vs := range multi {
		ck := http.CanonicalHeaderKey(k)
		h[ck] = append(h[ck], vs...)
	}
	return h
}

// addCookies restores the Cookie header payload 2.0 moves to "cookies".
func addCookies(h http.Header, cookies []string) {
	if len(cookies) > 0 && h.Get("Cookie") == "" {
		h.Set("Cookie", strings.Join(cookies, "; "))
	}
}

func single(m map[string]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}

// encodeQuery renders parameters as a query string in sorted key order.
// With decoded true, keys and values are escaped with the SigV4 encoding
// (unreserved characters kept, everything else %XX, space as %20), which
// gives the canonical query the client signed whatever escaping it used;
// otherwise they are taken as sent.
func encodeQuery(q map[string][]string, decoded bool) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := q[k]
		if len(vs) == 0 {
			vs = []string{""}
		}
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			if decoded {
				b.WriteString(sigv4Escape(k, true))
				b.WriteByte('=')
				b.WriteString(sigv4Escape(v, true))
			} else {
				b.WriteString(k)
				b.WriteByte('=')
				b.WriteString(v)
			}
		}
	}
	return b.String()
}

const upperhex = "0123456789ABCDEF"

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// sigv4Escape is SigV4's UriEncode: every byte but the unreserved ones
// (and '/' when slash is false) becomes %XX.
func sigv4Escape(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (c == '/' && !slash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperhex[c>>4])
		b.WriteByte(upperhex[c&15])
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// pathLiteral reports whether c may appear unescaped in an escaped path
// (RFC 3986 pchar and '/', without '%').
func pathLiteral(c byte) bool {
	if unreserved(c) {
		return true
	}
	switch c {
	case '/', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}

// escapePath returns the escaped path for p as the event carried it.
func escapePath(p string, enc PathEncoding) (string, bool) {
	switch enc {
	case PathDecoded:
		return sigv4Escape(p, false), true
	case PathEscaped:
		for i := 0; i < len(p); i++ {
			c := p[i]
			if c == '%' {
				if i+2 >= len(p) || !ishex(p[i+1]) || !ishex(p[i+2]) {
					return "", false
				}
				continue
			}
			if !pathLiteral(c) {
				return "", false
			}
		}
		return p, true
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%' && i+2 < len(p) && ishex(p[i+1]) && ishex(p[i+2]):
			b.WriteByte(c)
		case c != '%' && pathLiteral(c):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(upperhex[c>>4])
			b.WriteByte(upperhex[c&15])
		}
	}
	return b.String(), true
}

// declaredLength is the largest body size a request announces: its
// Content-Length, its x-amz-decoded-content-length (aws-chunked), and the
// bytes that arrived.
func declaredLength(r *http.Request) int64 {
	n := r.ContentLength
	for _, name := range []string{"Content-Length", "X-Amz-Decoded-Content-Length"} {
		if v, err := strconv.ParseInt(strings.TrimSpace(r.Header.Get(name)), 10, 64); err == nil && v > n {
			n = v
		}
	}
	return n
}

func newBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
