package sigv4

import (
	"strconv"
	"strings"
	"time"
)

// credential is the parsed Credential=AK/DATE/REGION/SERVICE/aws4_request.
type credential struct {
	AccessKeyID string
	Date        string // YYYYMMDD
	Region      string
	Service     string
}

func (c credential) scope() string { return scope(c.Date, c.Region, c.Service) }

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	Credential    credential
	SignedHeaders []string
	Signature     string
}

const maxAuthLen = 16 << 10

// parseCredential parses AK/DATE/REGION/SERVICE/aws4_request. code is the
// error code to report (header or query flavour).
func parseCredential(s, code string) (credential, *Error) {
	parts := strings.Split(s, "/")
	if len(parts) < 5 {
		return credential{}, errorf(code, "the Credential %q is malformed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"", s)
	}
	n := len(parts)
	c := credential{
		AccessKeyID: strings.Join(parts[:n-4], "/"),
		Date:        parts[n-4],
		Region:      parts[n-3],
		Service:     parts[n-2],
	}
	if parts[n-1] != "aws4_request" {
		return credential{}, errorf(code, "the Credential is mal-formed; incorrect terminal %q, this endpoint uses \"aws4_request\"", parts[n-1])
	}
	if c.AccessKeyID == "" {
		return credential{}, errorf(code, "the Credential is malformed: empty access key")
	}
	if _, err := time.Parse(shortDateFormat, c.Date); err != nil || len(c.Date) != 8 {
		return credential{}, errorf(code, "the Credential is malformed: invalid date %q", c.Date)
	}
	if c.Region == "" || c.Service == "" {
		return credential{}, errorf(code, "the Credential is malformed: empty region or service")
	}
	return c, nil
}

// parseSignedHeaders parses "host;x-amz-date" into lower-case names.
func parseSignedHeaders(s, code string) ([]string, *Error) {
	if s == "" {
		return nil, errorf(code, "SignedHeaders is empty")
	}
	names := strings.Split(s, ";")
	seen := make(map[string]bool, len(names))
	hasHost := false
	for i, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" || !validHeaderName(n) {
			return nil, errorf(code, "SignedHeaders contains an invalid header name")
		}
		if seen[n] {
			return nil, errorf(code, "SignedHeaders contains %q twice", n)
		}
		seen[n] = true
		if n == "host" {
			hasHost = true
		}
		names[i] = n
	}
	if !hasHost {
		return nil, errorf(code, "SignedHeaders must include host")
	}
	return names, nil
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ':' || c == ';' || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

func validSignature(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// parseAuthHeader parses
//
//	AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex
//
// tolerating spaces and commas in the variations real clients produce.
func parseAuthHeader(h string) (*authHeader, *Error) {
	const code = CodeAuthorizationHeaderMalformed
	if len(h) > maxAuthLen {
		return nil, errorf(code, "the authorization header is too long")
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), algorithm)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return nil, errorf(code, "the authorization header is malformed; unsupported algorithm")
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.FieldsFuncSeq(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, errorf(code, "the authorization header is malformed; %q is not a key=value pair", part)
		}
		var dst *string
		var have *bool
		switch k {
		case "Credential":
			dst, have = &cred, &haveCred
		case "SignedHeaders":
			dst, have = &signed, &haveSigned
		case "Signature":
			dst, have = &sig, &haveSig
		default:
			return nil, errorf(code, "the authorization header is malformed; unknown component %q", k)
		}
		if *have {
			return nil, errorf(code, "the authorization header is malformed; %s appears twice", k)
		}
		*dst, *have = v, true
	}
	if !haveCred || !haveSigned || !haveSig {
		return nil, errorf(code, "the authorization header is malformed; Credential, SignedHeaders and Signature are required")
	}
	c, err := parseCredential(cred, code)
	if err != nil {
		return nil, err
	}
	names, err := parseSignedHeaders(signed, code)
	if err != nil {
		return nil, err
	}
	sig = strings.ToLower(sig)
	if !validSignature(sig) {
		return nil, errorf(code, "the authorization header is malformed; invalid Signature")
	}
	return &authHeader{Credential: c, SignedHeaders: names, Signature: sig}, nil
}

// presignParams is a parsed SigV4 presigned query.
type presignParams struct {
	authHeader
	Date    time.Time
	Expires time.Duration
	// PayloadHash is X-Amz-Content-Sha256 from the query, or UNSIGNED-PAYLOAD.
	PayloadHash string
}

const maxPresignExpires = 604800

// parsePresignQuery parses the SigV4 query parameters of a presigned URL.
func parsePresignQuery(q map[string][]string) (*presignParams, *Error) {
	const code = CodeAuthorizationQueryParametersError
	get := func(k string) (string, *Error) {
		vs := q[k]
		if len(vs) == 0 {
			return "", errorf(code, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; %s is missing", k)
		}
		if len(vs) > 1 {
			return "", errorf(code, "%s appears more than once", k)
		}
		return vs[0], nil
	}
	alg, err := get("X-Amz-Algorithm")
	if err != nil {
		return nil, err
	}
	if alg != algorithm {
		return nil, errorf(code, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	var p presignParams
	vals := make(map[string]string, 5)
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		v, err := get(k)
		if err != nil {
			return nil, err
		}
		vals[k] = v
	}
	c, err := parseCredential(vals["X-Amz-Credential"], code)
	if err != nil {
		return nil, err
	}
	p.Credential = c
	t, perr := time.Parse(amzDateFormat, vals["X-Amz-Date"])
	if perr != nil {
		return nil, errorf(code, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	p.Date = t
	exp := vals["X-Amz-Expires"]
	n, perr := strconv.ParseInt(exp, 10, 64)
	if perr != nil || len(exp) > 10 {
		return nil, errorf(code, "X-Amz-Expires should be a number")
	}
	if n < 1 {
		return nil, errorf(code, "X-Amz-Expires must be non-negative and greater than zero")
	}
	if n > maxPresignExpires {
		return nil, errorf(code, "X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	p.Expires = time.Duration(n) * time.Second
	names, err := parseSignedHeaders(vals["X-Amz-SignedHeaders"], code)
	if err != nil {
		return nil, err
	}
	p.SignedHeaders = names
	sig := strings.ToLower(vals["X-Amz-Signature"])
	if !validSignature(sig) {
		return nil, errorf(code, "X-Amz-Signature is malformed")
	}
	p.Signature = sig
	p.PayloadHash = unsignedPayload
	if v, ok := first(q, "X-Amz-Content-Sha256"); ok && v != "" {
		p.PayloadHash = v
	}
	return &p, nil
}
