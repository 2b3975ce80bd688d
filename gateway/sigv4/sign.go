package sigv4

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Credentials is an access key pair.
type Credentials struct {
	AccessKeyID, SecretAccessKey string
}

// signedHeaderNames returns host, every x-amz-* header, and content-type and
// content-md5 when present, lower-case and sorted.
func signedHeaderNames(r *http.Request) []string {
	names := []string{"host"}
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") || lk == "content-type" || lk == "content-md5" {
			if lk != "x-amz-signature" && !contains(names, lk) {
				names = append(names, lk)
			}
		}
	}
	sort.Strings(names)
	return names
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func signingURI(r *http.Request, service string) string {
	raw := rawPath(r)
	if service == "s3" {
		return canonicalURIS3(raw)
	}
	return canonicalURIGeneric(raw, true)
}

func checkRequest(r *http.Request, c Credentials) error {
	if r == nil || r.URL == nil {
		return errors.New("sigv4: request without URL")
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return errors.New("sigv4: empty credentials")
	}
	if r.Host == "" && r.URL.Host == "" {
		return errors.New("sigv4: request without host")
	}
	return nil
}

// SignRequest signs r with SigV4 in the Authorization header. It sets
// X-Amz-Date and X-Amz-Content-Sha256 (payloadHash: a hex SHA-256,
// "UNSIGNED-PAYLOAD" or one of the STREAMING-* modes) and signs host, every
// x-amz-* header and Content-Type / Content-MD5 when present.
func SignRequest(r *http.Request, payloadHash string, c Credentials, region, service string, t time.Time) error {
	if err := checkRequest(r, c); err != nil {
		return err
	}
	if payloadHash == "" {
		payloadHash = emptySHA256
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	t = t.UTC()
	r.Header.Del("Authorization")
	r.Header.Set("X-Amz-Date", t.Format(amzDateFormat))
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	sig := seedSignature(r, payloadHash, c, region, service, t)
	r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		algorithm, c.AccessKeyID, scope(t.Format(shortDateFormat), region, service),
		strings.Join(signedHeaderNames(r), ";"), sig))
	return nil
}

func seedSignature(r *http.Request, payloadHash string, c Credentials, region, service string, t time.Time) string {
	signed := signedHeaderNames(r)
	date := t.Format(shortDateFormat)
	creq := canonicalRequest(r.Method, signingURI(r, service), canonicalQuery(rawQuery(r), nil),
		canonicalHeaders(r, signed), signed, payloadHash)
	return signHex(signingKey(c.SecretAccessKey, date, region, service), stringToSign(t, scope(date, region, service), creq))
}

// Presign returns r's URL with SigV4 query authentication valid for expires
// (X-Amz-Expires, whole seconds). Headers of r that are signed (see
// SignRequest) must be sent with the URL.
func Presign(r *http.Request, c Credentials, region, service string, t time.Time, expires time.Duration) (string, error) {
	if err := checkRequest(r, c); err != nil {
		return "", err
	}
	secs := int64(expires / time.Second)
	if secs < 1 || secs > maxPresignExpires {
		return "", fmt.Errorf("sigv4: presign expiry %v out of range [1s, 7d]", expires)
	}
	t = t.UTC()
	date := t.Format(shortDateFormat)
	signed := signedHeaderNames(r)
	add := "X-Amz-Algorithm=" + algorithm +
		"&X-Amz-Credential=" + uriEncode(c.AccessKeyID+"/"+scope(date, region, service), true) +
		"&X-Amz-Date=" + t.Format(amzDateFormat) +
		"&X-Amz-Expires=" + strconv.FormatInt(secs, 10) +
		"&X-Amz-SignedHeaders=" + uriEncode(strings.Join(signed, ";"), true)
	u := *r.URL
	if u.RawQuery != "" {
		u.RawQuery += "&" + add
	} else {
		u.RawQuery = add
	}
	r2 := r.Clone(r.Context())
	r2.URL = &u
	r2.RequestURI = ""
	creq := canonicalRequest(r.Method, signingURI(r2, service), canonicalQuery(u.RawQuery, nil),
		canonicalHeaders(r2, signed), signed, unsignedPayload)
	sig := signHex(signingKey(c.SecretAccessKey, date, region, service), stringToSign(t, scope(date, region, service), creq))
	u.RawQuery += "&X-Amz-Signature=" + sig
	if u.Host == "" {
		u.Host = r.Host
	}
	return u.String(), nil
}

// PresignV2 returns a SigV2 query-presigned URL (AWSAccessKeyId, Expires,
// Signature) as aws-cli 1.x and boto3 produce. resource is the path-style
// resource "/bucket/key" as in Verify.
func PresignV2(r *http.Request, c Credentials, resource string, expires time.Time) (string, error) {
	if err := checkRequest(r, c); err != nil {
		return "", err
	}
	exp := strconv.FormatInt(expires.Unix(), 10)
	sig := signV2(c.SecretAccessKey, stringToSignV2(r, exp, resource))
	u := *r.URL
	add := "AWSAccessKeyId=" + url.QueryEscape(c.AccessKeyID) + "&Signature=" + url.QueryEscape(sig) + "&Expires=" + exp
	if u.RawQuery != "" {
		u.RawQuery += "&" + add
	} else {
		u.RawQuery = add
	}
	if u.Host == "" {
		u.Host = r.Host
	}
	return u.String(), nil
}

// SignV2Request signs r with SigV2 in the Authorization header
// ("AWS AK:signature"), setting Date to t. resource is as in Verify.
func SignV2Request(r *http.Request, c Credentials, resource string, t time.Time) error {
	if err := checkRequest(r, c); err != nil {
		return err
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	date := t.UTC().Format(http.TimeFormat)
	r.Header.Set("Date", date)
	r.Header.Set("Authorization", "AWS "+c.AccessKeyID+":"+signV2(c.SecretAccessKey, stringToSignV2(r, date, resource)))
	return nil
}

// SignChunked signs r for a signed aws-chunked upload of payload
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or -TRAILER when trailer is not nil)
// cut into chunkSize chunks, and sets r.Body, r.ContentLength and the
// Content-Encoding, X-Amz-Decoded-Content-Length and X-Amz-Trailer headers.
// Trailer names are sent lower-case in the order given by sorting.
func SignChunked(r *http.Request, payload []byte, chunkSize int, trailer http.Header, c Credentials, region string, t time.Time) error {
	if chunkSize <= 0 {
		return errors.New("sigv4: chunk size must be positive")
	}
	if err := checkRequest(r, c); err != nil {
		return err
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	mode := streamingSigned
	if trailer != nil {
		mode = streamingTrailer
		r.Header.Set("X-Amz-Trailer", strings.Join(sortedLowerKeys(trailer), ","))
	}
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
	t = t.UTC()
	if err := SignRequest(r, mode, c, region, "s3", t); err != nil {
		return err
	}
	ah, perr := parseAuthHeader(r.Header.Get("Authorization"))
	if perr != nil {
		return perr
	}
	date := t.Format(shortDateFormat)
	s := &chunkSigner{
		key:     signingKey(c.SecretAccessKey, date, region, "s3"),
		amzDate: t.Format(amzDateFormat),
		scope:   scope(date, region, "s3"),
		prevSig: ah.Signature,
	}
	var b bytes.Buffer
	writeChunk := func(chunk []byte) {
		h := sha256.Sum256(chunk)
		sig := s.chunkSig(h[:])
		s.prevSig = sig
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", len(chunk), sig)
		if len(chunk) > 0 {
			b.Write(chunk)
			b.WriteString("\r\n")
		}
	}
	for off := 0; off < len(payload); off += chunkSize {
		writeChunk(payload[off:min(off+chunkSize, len(payload))])
	}
	writeChunk(nil)
	if trailer != nil {
		var tb bytes.Buffer
		for _, kv := range trailerLines(trailer) {
			tb.WriteString(kv + "\n")
		}
		b.WriteString(strings.ReplaceAll(tb.String(), "\n", "\r\n"))
		b.WriteString("x-amz-trailer-signature:" + s.trailerSig(tb.Bytes()) + "\r\n")
	}
	b.WriteString("\r\n")
	setBody(r, b.Bytes())
	return nil
}

// EncodeChunkedUnsigned returns payload in the STREAMING-UNSIGNED-PAYLOAD-TRAILER
// encoding ("hex-size\r\n data\r\n" ... "0\r\n" trailer lines "\r\n"), as
// the AWS SDKs send it.
func EncodeChunkedUnsigned(payload []byte, chunkSize int, trailer http.Header) []byte {
	if chunkSize <= 0 {
		chunkSize = len(payload) + 1
	}
	var b bytes.Buffer
	for off := 0; off < len(payload); off += chunkSize {
		chunk := payload[off:min(off+chunkSize, len(payload))]
		fmt.Fprintf(&b, "%x\r\n", len(chunk))
		b.Write(chunk)
		b.WriteString("\r\n")
	}
	b.WriteString("0\r\n")
	for _, kv := range trailerLines(trailer) {
		b.WriteString(kv + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func sortedLowerKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, strings.ToLower(k))
	}
	sort.Strings(keys)
	return keys
}

// trailerLines renders h as sorted "name:value" lines with lower-case names.
func trailerLines(h http.Header) []string {
	var lines []string
	for k, vs := range h {
		for _, v := range vs {
			lines = append(lines, strings.ToLower(k)+":"+trimAll(v))
		}
	}
	sort.Strings(lines)
	return lines
}

func setBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}
