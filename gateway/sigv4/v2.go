package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// v2SubResources are the query parameters that enter the SigV2
// CanonicalizedResource (botocore's list plus the ones S3 documents).
var v2SubResources = map[string]bool{
	"accelerate": true, "acl": true, "analytics": true, "cors": true, "defaultObjectAcl": true,
	"delete": true, "inventory": true, "lifecycle": true, "location": true, "logging": true,
	"metrics": true, "notification": true, "object-lock": true, "partNumber": true,
	"policy": true, "replication": true, "requestPayment": true, "restore": true,
	"select": true, "select-type": true, "storageClass": true, "tagging": true,
	"torrent": true, "uploadId": true, "uploads": true, "versionId": true,
	"versioning": true, "versions": true, "website": true,
	"response-cache-control": true, "response-content-disposition": true,
	"response-content-encoding": true, "response-content-language": true,
	"response-content-type": true, "response-expires": true,
}

// canonicalResourceV2 appends the sub-resources found in rawQuery to
// resource, as botocore does: keys matched as sent, values percent-decoded,
// sorted by key.
func canonicalResourceV2(resource, rawQuery string) string {
	type kv struct {
		k, v  string
		hasEq bool
	}
	var subs []kv
	for part := range strings.SplitSeq(rawQuery, "&") {
		k, v, eq := strings.Cut(part, "=")
		if !v2SubResources[k] {
			continue
		}
		subs = append(subs, kv{k, percentDecode(v, false), eq})
	}
	if len(subs) == 0 {
		return resource
	}
	sort.SliceStable(subs, func(i, j int) bool { return subs[i].k < subs[j].k })
	var b strings.Builder
	b.WriteString(resource)
	b.WriteByte('?')
	for i, s := range subs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(s.k)
		if s.hasEq {
			b.WriteByte('=')
			b.WriteString(s.v)
		}
	}
	return b.String()
}

// canonicalAmzHeadersV2 renders the x-amz-* headers, each "name:value\n".
func canonicalAmzHeadersV2(h http.Header) string {
	m := map[string][]string{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") {
			for _, v := range vs {
				m[lk] = append(m[lk], unfold(v))
			}
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ":" + strings.Join(m[k], ",") + "\n")
	}
	return b.String()
}

// unfold trims a SigV2 header value and replaces folded line breaks with one
// space; unlike SigV4, inner runs of spaces are kept.
func unfold(v string) string {
	v = strings.TrimSpace(v)
	if !strings.ContainsAny(v, "\r\n") {
		return v
	}
	var b strings.Builder
	for i, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.TrimSpace(l))
	}
	return b.String()
}

// stringToSignV2 builds the SigV2 string to sign; date is the Date header
// value (header auth) or the Expires value (query auth).
func stringToSignV2(r *http.Request, date, resource string) string {
	return r.Method + "\n" +
		strings.TrimSpace(r.Header.Get("Content-Md5")) + "\n" +
		strings.TrimSpace(r.Header.Get("Content-Type")) + "\n" +
		date + "\n" +
		canonicalAmzHeadersV2(r.Header) +
		canonicalResourceV2(resource, rawQuery(r))
}

func signV2(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func sigV2Mismatch() *Error {
	return errorf(CodeSignatureDoesNotMatch, "the request signature we calculated does not match the signature you provided; check your key and signing method")
}

func (v *Verifier) verifyV2Header(r *http.Request, header string, resource string) (*Result, error) {
	cred := strings.TrimSpace(strings.TrimPrefix(header, "AWS "))
	i := strings.LastIndexByte(cred, ':')
	if i <= 0 || i == len(cred)-1 {
		return nil, errorf(CodeAuthorizationHeaderMalformed, "the authorization header is malformed; expecting \"AWS AccessKeyId:Signature\"")
	}
	ak, sig := cred[:i], cred[i+1:]
	t, terr := requestTime(r)
	if terr != nil {
		return nil, terr
	}
	if err := v.checkSkew(t); err != nil {
		return nil, err
	}
	secret, err := v.lookup(r.Context(), ak)
	if err != nil {
		return nil, err
	}
	// AWS leaves the Date line empty when x-amz-date is used; botocore and
	// others put the Date header there anyway. Accept both.
	dates := []string{strings.TrimSpace(r.Header.Get("Date"))}
	if r.Header.Get("X-Amz-Date") != "" && dates[0] != "" {
		dates = append(dates, "")
	}
	ok := false
	for _, d := range dates {
		if constantTimeEqual(signV2(secret, stringToSignV2(r, d, resource)), sig) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, sigV2Mismatch()
	}
	return v.v2Result(r, ak, sig, false)
}

func (v *Verifier) verifyV2Query(r *http.Request, q map[string][]string, resource string) (*Result, error) {
	const code = CodeAuthorizationQueryParametersError
	ak, ok1 := first(q, "AWSAccessKeyId")
	sig, ok2 := first(q, "Signature")
	exp, ok3 := first(q, "Expires")
	// A client that left '+' of the base64 signature unescaped.
	sig = strings.ReplaceAll(sig, " ", "+")
	if !ok1 || !ok2 || !ok3 || ak == "" || sig == "" {
		return nil, errorf(code, "query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || n < 0 || len(exp) > 12 {
		return nil, errorf(code, "invalid Expires parameter")
	}
	if v.now().After(time.Unix(n, 0)) {
		return nil, errorf(CodeAccessDenied, "Request has expired")
	}
	secret, lerr := v.lookup(r.Context(), ak)
	if lerr != nil {
		return nil, lerr
	}
	if !constantTimeEqual(signV2(secret, stringToSignV2(r, exp, resource)), sig) {
		return nil, sigV2Mismatch()
	}
	return v.v2Result(r, ak, sig, true)
}

// v2Result wraps the body: SigV2 does not sign the payload, but a declared
// x-amz-content-sha256 or unsigned aws-chunked encoding is still honoured.
func (v *Verifier) v2Result(r *http.Request, ak, sig string, presigned bool) (*Result, error) {
	res := &Result{AccessKeyID: ak, Presigned: presigned, Body: r.Body, ContentLength: r.ContentLength, Trailer: emptyTrailer, Signature: sig}
	if ph := strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256")); ph != "" {
		if err := wrapPayload(r, res, ph, nil); err != nil {
			return nil, err
		}
	}
	return res, nil
}
