package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/s3err"
)

type corsRuleXML struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds"`
}

type corsConfiguration struct {
	XMLName xml.Name      `xml:"CORSConfiguration"`
	NS      string        `xml:"xmlns,attr,omitempty"`
	Rules   []corsRuleXML `xml:"CORSRule"`
}

var errCORSForbidden = s3err.FromCode("AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.").WithStatus(403)

// bucketCORS serves Put/Get/DeleteBucketCors.
func (h *Handler) bucketCORS(q *request) error {
	b, _, err := h.bucketOf(q, q.bucket, ownerOnly)
	if err != nil {
		return err
	}
	nb := *b
	switch q.r.Method {
	case http.MethodGet:
		if len(b.CORS) == 0 {
			return s3err.NoSuchCORSConfiguration
		}
		out := corsConfiguration{NS: s3NS}
		for _, r := range b.CORS {
			x := corsRuleXML{ID: r.ID, AllowedHeaders: r.AllowedHeaders, AllowedMethods: r.AllowedMethods,
				AllowedOrigins: r.AllowedOrigins, ExposeHeaders: r.ExposeHeaders}
			if r.MaxAgeSeconds > 0 {
				age := r.MaxAgeSeconds
				x.MaxAgeSeconds = &age
			}
			out.Rules = append(out.Rules, x)
		}
		return writeXML(q.w, http.StatusOK, out)
	case http.MethodPut:
		var in corsConfiguration
		if err := readXML(q.auth.Body, &in); err != nil {
			return err
		}
		rules, err := validateCORS(in)
		if err != nil {
			return err
		}
		nb.CORS = rules
	case http.MethodDelete:
		nb.CORS = nil
	default:
		return s3err.MethodNotAllowed
	}
	return h.saveBucket(q, nb)
}

func validateCORS(in corsConfiguration) ([]meta.CORSRule, error) {
	if len(in.Rules) == 0 || len(in.Rules) > 100 {
		return nil, s3err.MalformedXML.With("A CORS configuration holds 1 to 100 rules.")
	}
	var rules []meta.CORSRule
	for _, x := range in.Rules {
		if len(x.AllowedOrigins) == 0 || len(x.AllowedMethods) == 0 {
			return nil, s3err.MalformedXML.With("Each CORSRule needs at least one AllowedOrigin and AllowedMethod.")
		}
		for _, m := range x.AllowedMethods {
			switch m {
			case "GET", "PUT", "POST", "DELETE", "HEAD":
			default:
				return nil, s3err.InvalidRequest.With("Found unsupported HTTP method in CORS config. Unsupported method is " + m)
			}
		}
		for _, o := range append(append([]string{}, x.AllowedOrigins...), x.AllowedHeaders...) {
			if strings.Count(o, "*") > 1 {
				return nil, s3err.InvalidRequest.With("AllowedOrigin and AllowedHeader can have at most one * wildcard: " + o)
			}
		}
		r := meta.CORSRule{ID: x.ID, AllowedOrigins: x.AllowedOrigins, AllowedMethods: x.AllowedMethods,
			AllowedHeaders: x.AllowedHeaders, ExposeHeaders: x.ExposeHeaders}
		if x.MaxAgeSeconds != nil {
			r.MaxAgeSeconds = *x.MaxAgeSeconds
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// wildcardMatch matches s against a pattern with at most one '*'.
func wildcardMatch(pattern, s string) bool {
	before, after, ok := strings.Cut(pattern, "*")
	if !ok {
		return pattern == s
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

// matchCORS finds the first rule allowing origin, method and every header.
func matchCORS(rules []meta.CORSRule, origin, method string, headers []string) *meta.CORSRule {
	for i := range rules {
		r := &rules[i]
		originOK := false
		for _, o := range r.AllowedOrigins {
			if wildcardMatch(o, origin) {
				originOK = true
				break
			}
		}
		methodOK := false
		for _, m := range r.AllowedMethods {
			if m == method {
				methodOK = true
				break
			}
		}
		if !originOK || !methodOK {
			continue
		}
		headersOK := true
		for _, hd := range headers {
			found := false
			for _, a := range r.AllowedHeaders {
				if wildcardMatch(strings.ToLower(a), hd) {
					found = true
					break
				}
			}
			if !found {
				headersOK = false
				break
			}
		}
		if headersOK {
			return r
		}
	}
	return nil
}

func allowsAnyOrigin(r *meta.CORSRule) bool {
	for _, o := range r.AllowedOrigins {
		if o == "*" {
			return true
		}
	}
	return false
}

// setCORSHeaders writes the CORS response headers for a matched rule.
func setCORSHeaders(h http.Header, r *meta.CORSRule, origin string) {
	if allowsAnyOrigin(r) {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(r.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	h.Add("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}

// preflight answers a CORS preflight OPTIONS request from the bucket's rules.
func (h *Handler) preflight(q *request) error {
	origin := q.r.Header.Get("Origin")
	method := q.r.Header.Get("Access-Control-Request-Method")
	if origin == "" {
		return s3err.FromCode("BadRequest", "Insufficient information. Origin request header needed.").WithStatus(400)
	}
	if method == "" {
		return s3err.FromCode("BadRequest", "Invalid Access-Control-Request-Method header.").WithStatus(400)
	}
	if q.bucket == "" {
		return errCORSForbidden
	}
	b, err := h.opts.Store.GetBucket(q.r.Context(), q.bucket)
	if errors.Is(err, meta.ErrNotFound) {
		return s3err.NoSuchBucket
	}
	if err != nil {
		return storeError(err)
	}
	if len(b.CORS) == 0 {
		return errCORSForbidden.With("CORSResponse: CORS is not enabled for this bucket.")
	}
	var headers []string
	for _, v := range q.r.Header.Values("Access-Control-Request-Headers") {
		for _, hd := range strings.Split(v, ",") {
			if hd = strings.ToLower(strings.TrimSpace(hd)); hd != "" {
				headers = append(headers, hd)
			}
		}
	}
	rule := matchCORS(b.CORS, origin, method, headers)
	if rule == nil {
		return errCORSForbidden
	}
	wh := q.w.Header()
	setCORSHeaders(wh, rule, origin)
	wh.Set("Access-Control-Allow-Methods", strings.Join(rule.AllowedMethods, ", "))
	if len(headers) > 0 {
		wh.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	}
	if rule.MaxAgeSeconds > 0 {
		wh.Set("Access-Control-Max-Age", strconv.Itoa(rule.MaxAgeSeconds))
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// corsActual adds CORS headers to a browser's actual request (one with an
// Origin header) when the bucket has a matching rule.
func (h *Handler) corsActual(q *request) {
	origin := q.r.Header.Get("Origin")
	if origin == "" || q.bucket == "" {
		return
	}
	b, err := h.opts.Store.GetBucket(q.r.Context(), q.bucket)
	if err != nil || len(b.CORS) == 0 {
		return
	}
	method := q.r.Method
	if rule := matchCORS(b.CORS, origin, method, nil); rule != nil {
		setCORSHeaders(q.w.Header(), rule, origin)
	}
}
