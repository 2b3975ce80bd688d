package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Lookup returns the secret for an access key ID. It returns ErrUnknownKey
// for a key that does not exist; other errors (e.g. store unavailable) are
// passed through unchanged by Verify.
type Lookup func(ctx context.Context, accessKeyID string) (secret string, err error)

// Verifier authenticates S3 requests. The zero value plus a Lookup is ready
// to use; a Verifier is safe for concurrent use.
type Verifier struct {
	Lookup  Lookup
	Now     func() time.Time // nil = time.Now
	MaxSkew time.Duration    // 0 = 15 minutes

	// vector, set only by tests, lets the AWS test suite (service "service",
	// optionally normalized paths, payload hash computed from the body) run
	// through the same code.
	vector *vectorMode
}

type vectorMode struct {
	normalize bool
}

// Result is the outcome of a successful Verify.
type Result struct {
	AccessKeyID string // "" for an anonymous request
	Anonymous   bool
	Presigned   bool
	// Body is the payload as the application sees it: aws-chunked decoded,
	// and verified while streaming. A verification failure (payload SHA-256
	// mismatch, bad chunk signature, bad trailer signature, malformed chunk,
	// short body vs x-amz-decoded-content-length) is returned as a *Error
	// from Read, at the latest instead of io.EOF, never as a silent EOF.
	Body io.ReadCloser
	// ContentLength is the decoded payload length:
	// x-amz-decoded-content-length for aws-chunked, else r.ContentLength;
	// -1 if unknown.
	ContentLength int64
	// Trailer returns the trailing headers (e.g. x-amz-checksum-crc32) of an
	// aws-chunked body with trailer, with lower-case names; valid only after
	// Body returned io.EOF. Never nil; returns an empty header when none.
	Trailer func() http.Header
	// Signature is the request's (seed) signature, lower-case hex; "" for
	// anonymous requests. Useful for logging and for POST policy checks.
	Signature string
}

func emptyTrailer() http.Header { return http.Header{} }

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return 15 * time.Minute
}

// Verify authenticates r. v2Resource is the path-style resource
// "/bucket/key" exactly as percent-encoded in the request (for
// virtual-hosted requests the router prepends the bucket); it is used only
// for SigV2. Anonymous requests (no Authorization header, no X-Amz-Signature
// or Signature query parameter) give Result{Anonymous: true}.
//
// Authentication errors are *Error; an error from Lookup other than
// ErrUnknownKey is returned unchanged.
func (v *Verifier) Verify(r *http.Request, v2Resource string) (*Result, error) {
	if r.Body == nil {
		r.Body = http.NoBody
	}
	authz := r.Header.Values("Authorization")
	q := parseQuery(rawQuery(r))
	_, v4q := q["X-Amz-Signature"]
	_, v4alg := q["X-Amz-Algorithm"]
	_, v4cred := q["X-Amz-Credential"]
	_, v2sig := q["Signature"]
	_, v2ak := q["AWSAccessKeyId"]
	isV4Query := v4q || v4alg || v4cred
	isV2Query := v2sig || v2ak
	if len(authz) > 1 {
		return nil, errorf(CodeInvalidArgument, "only one Authorization header is allowed")
	}
	if len(authz) == 1 && (isV4Query || isV2Query) || isV4Query && isV2Query {
		return nil, errorf(CodeInvalidArgument, "only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	}
	switch {
	case len(authz) == 1:
		a := strings.TrimSpace(authz[0])
		switch {
		case strings.HasPrefix(a, algorithm):
			return v.verifyV4Header(r, a)
		case strings.HasPrefix(a, "AWS "):
			return v.verifyV2Header(r, a, v2Resource)
		case a == "":
			return v.anonymous(r)
		default:
			return nil, errorf(CodeInvalidArgument, "unsupported Authorization type")
		}
	case isV4Query:
		return v.verifyV4Query(r, q)
	case isV2Query:
		return v.verifyV2Query(r, q, v2Resource)
	}
	return v.anonymous(r)
}

// anonymous passes the body through, still honouring a declared payload hash
// or an unsigned aws-chunked encoding.
func (v *Verifier) anonymous(r *http.Request) (*Result, error) {
	res := &Result{Anonymous: true, Body: r.Body, ContentLength: r.ContentLength, Trailer: emptyTrailer}
	if ph := r.Header.Get("X-Amz-Content-Sha256"); ph != "" {
		switch {
		case ph == streamingSigned || ph == streamingTrailer:
			return nil, errorf(CodeInvalidRequest, "signed aws-chunked payload in an anonymous request")
		default:
			if err := wrapPayload(r, res, ph, nil); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

func (v *Verifier) lookup(ctx context.Context, ak string) (string, error) {
	if v.Lookup == nil {
		return "", errors.New("sigv4: Verifier.Lookup is nil")
	}
	secret, err := v.Lookup(ctx, ak)
	if errors.Is(err, ErrUnknownKey) {
		return "", errorf(CodeInvalidAccessKeyID, "the AWS access key Id you provided does not exist in our records")
	}
	return secret, err
}

// checkService accepts "s3" (any region); other services only in vector mode.
func (v *Verifier) checkService(c credential, code string) *Error {
	if c.Service == "s3" || v.vector != nil {
		return nil
	}
	return errorf(code, "the Credential is mal-formed; incorrect service %q, this endpoint is \"s3\"", c.Service)
}

// requestTime reads X-Amz-Date, or Date when X-Amz-Date is absent.
func requestTime(r *http.Request) (time.Time, *Error) {
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		t, err := time.Parse(amzDateFormat, strings.TrimSpace(s))
		if err != nil {
			return time.Time{}, errorf(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
		}
		return t, nil
	}
	if s := r.Header.Get("Date"); s != "" {
		t, err := http.ParseTime(strings.TrimSpace(s))
		if err != nil {
			return time.Time{}, errorf(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
		}
		return t.UTC(), nil
	}
	return time.Time{}, errorf(CodeAccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
}

func (v *Verifier) checkSkew(t time.Time) *Error {
	d := v.now().Sub(t)
	if d < 0 {
		d = -d
	}
	if d > v.maxSkew() {
		return errorf(CodeRequestTimeTooSkewed, "the difference between the request time and the server's time is too large")
	}
	return nil
}

// uriCandidates returns the canonical URIs to try: the S3 canonical form
// (decoded and re-encoded), then the path exactly as sent when it differs,
// for clients that sign their own (non-canonical) escaping.
func (v *Verifier) uriCandidates(r *http.Request) []string {
	raw := rawPath(r)
	if v.vector != nil && v.vector.normalize {
		return []string{canonicalURIGeneric(raw, true)}
	}
	c := canonicalURIS3(raw)
	if raw != c && raw != "" && !strings.ContainsAny(raw, " \t\r\n") {
		return []string{c, raw}
	}
	return []string{c}
}

// v4Check holds one SigV4 seed-signature computation.
type v4Check struct {
	cred          credential
	signed        []string
	signature     string
	t             time.Time
	payloadHash   string
	skipQuery     func(string) bool
	key           []byte
	canonical     string // the candidate that matched, or the first one
	stringToSign  string
	computedMatch bool
}

func (v *Verifier) checkSignature(r *http.Request, c *v4Check, secret string) *Error {
	c.key = signingKey(secret, c.cred.Date, c.cred.Region, c.cred.Service)
	query := canonicalQuery(rawQuery(r), c.skipQuery)
	headers := canonicalHeaders(r, c.signed)
	sc := c.cred.scope()
	for i, uri := range v.uriCandidates(r) {
		creq := canonicalRequest(r.Method, uri, query, headers, c.signed, c.payloadHash)
		sts := stringToSign(c.t, sc, creq)
		if i == 0 {
			c.canonical, c.stringToSign = creq, sts
		}
		if constantTimeEqual(signHex(c.key, sts), c.signature) {
			c.canonical, c.stringToSign, c.computedMatch = creq, sts, true
			return nil
		}
	}
	return errorf(CodeSignatureDoesNotMatch, "the request signature we calculated does not match the signature you provided; check your key and signing method")
}

func (v *Verifier) verifyV4Header(r *http.Request, header string) (*Result, error) {
	ah, perr := parseAuthHeader(header)
	if perr != nil {
		return nil, perr
	}
	if err := v.checkService(ah.Credential, CodeAuthorizationHeaderMalformed); err != nil {
		return nil, err
	}
	t, terr := requestTime(r)
	if terr != nil {
		return nil, terr
	}
	if t.Format(shortDateFormat) != ah.Credential.Date {
		return nil, errorf(CodeAuthorizationHeaderMalformed, "invalid credential date %q: it is not the same as X-Amz-Date %q", ah.Credential.Date, t.Format(shortDateFormat))
	}
	if err := v.checkSkew(t); err != nil {
		return nil, err
	}
	ph := strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256"))
	if ph == "" {
		if v.vector == nil {
			return nil, errorf(CodeInvalidRequest, "missing required header for this request: x-amz-content-sha256")
		}
		var err error
		if ph, err = hashBody(r); err != nil {
			return nil, err
		}
	}
	if err := validPayloadHash(ph); err != nil {
		return nil, err
	}
	secret, err := v.lookup(r.Context(), ah.Credential.AccessKeyID)
	if err != nil {
		return nil, err
	}
	c := &v4Check{cred: ah.Credential, signed: ah.SignedHeaders, signature: ah.Signature, t: t, payloadHash: ph}
	if err := v.checkSignature(r, c, secret); err != nil {
		return nil, err
	}
	res := &Result{AccessKeyID: ah.Credential.AccessKeyID, Body: r.Body, ContentLength: r.ContentLength, Trailer: emptyTrailer, Signature: ah.Signature}
	signer := &chunkSigner{key: c.key, amzDate: t.Format(amzDateFormat), scope: ah.Credential.scope(), prevSig: ah.Signature}
	if err := wrapPayload(r, res, ph, signer); err != nil {
		return nil, err
	}
	return res, nil
}

func (v *Verifier) verifyV4Query(r *http.Request, q map[string][]string) (*Result, error) {
	p, perr := parsePresignQuery(q)
	if perr != nil {
		return nil, perr
	}
	if err := v.checkService(p.Credential, CodeAuthorizationQueryParametersError); err != nil {
		return nil, err
	}
	if p.Date.Format(shortDateFormat) != p.Credential.Date {
		return nil, errorf(CodeAuthorizationQueryParametersError, "invalid credential date %q: it is not the same as X-Amz-Date %q", p.Credential.Date, p.Date.Format(shortDateFormat))
	}
	now := v.now()
	if p.Date.Sub(now) > v.maxSkew() {
		return nil, errorf(CodeAccessDenied, "request is not valid yet")
	}
	if now.After(p.Date.Add(p.Expires)) {
		return nil, errorf(CodeAccessDenied, "Request has expired")
	}
	ph := p.PayloadHash
	if v.vector != nil {
		var err error
		if ph, err = hashBody(r); err != nil {
			return nil, err
		}
	}
	secret, err := v.lookup(r.Context(), p.Credential.AccessKeyID)
	if err != nil {
		return nil, err
	}
	c := &v4Check{cred: p.Credential, signed: p.SignedHeaders, signature: p.Signature, t: p.Date, payloadHash: ph,
		skipQuery: func(k string) bool { return k == "X-Amz-Signature" }}
	if err := v.checkSignature(r, c, secret); err != nil {
		return nil, err
	}
	res := &Result{AccessKeyID: p.Credential.AccessKeyID, Presigned: true, Body: r.Body, ContentLength: r.ContentLength, Trailer: emptyTrailer, Signature: p.Signature}
	// The body of a presigned request is not signed, except by a payload
	// hash in the query; an unsigned aws-chunked body is still decoded.
	mode := ph
	if hp := strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256")); mode == unsignedPayload && hp == streamingUnsTrl {
		mode = hp
	}
	if v.vector == nil {
		if err := wrapPayload(r, res, mode, nil); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// validPayloadHash accepts the x-amz-content-sha256 values S3 knows.
func validPayloadHash(ph string) *Error {
	switch ph {
	case unsignedPayload, streamingSigned, streamingTrailer, streamingUnsTrl:
		return nil
	}
	if len(ph) == 64 {
		if _, err := hex.DecodeString(ph); err == nil {
			return nil
		}
	}
	if strings.HasPrefix(ph, "STREAMING-") {
		return errorf(CodeInvalidRequest, "unsupported x-amz-content-sha256 value %q", truncate(ph))
	}
	return errorf(CodeInvalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 value")
}

// wrapPayload sets res.Body, res.ContentLength and res.Trailer for the
// payload mode ph. signer is nil for anonymous and presigned requests.
func wrapPayload(r *http.Request, res *Result, ph string, signer *chunkSigner) *Error {
	if err := validPayloadHash(ph); err != nil {
		return err
	}
	switch ph {
	case unsignedPayload:
		return nil
	case streamingSigned, streamingTrailer, streamingUnsTrl:
		if signer == nil && ph != streamingUnsTrl {
			return errorf(CodeInvalidRequest, "signed aws-chunked payload without a signed request")
		}
		if ph == streamingUnsTrl {
			signer = nil
		}
		dl := int64(-1)
		if s := r.Header.Get("X-Amz-Decoded-Content-Length"); s != "" {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || n < 0 {
				return errorf(CodeInvalidArgument, "invalid x-amz-decoded-content-length")
			}
			dl = n
		}
		cr := newChunkedReader(r.Body, signer, ph != streamingSigned, dl)
		res.Body, res.ContentLength, res.Trailer = cr, dl, cr.Trailer
		return nil
	}
	want, _ := hex.DecodeString(ph)
	res.Body = &hashReader{src: r.Body, h: sha256.New(), want: want}
	return nil
}

// hashBody reads the whole body to hash it (vector mode only) and restores it.
func hashBody(r *http.Request) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return "", err
	}
	r.Body = io.NopCloser(strings.NewReader(string(b)))
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}
