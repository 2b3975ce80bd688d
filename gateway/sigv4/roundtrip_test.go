package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

var (
	testCreds = Credentials{AccessKeyID: "AKIDRAYA", SecretAccessKey: "s3cr3t/Key+example"}
	testTime  = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

func testVerifier(now time.Time) *Verifier {
	return &Verifier{
		Lookup: func(_ context.Context, ak string) (string, error) {
			if ak == testCreds.AccessKeyID {
				return testCreds.SecretAccessKey, nil
			}
			return "", ErrUnknownKey
		},
		Now: func() time.Time { return now },
	}
}

// serverView makes a client request look like the server's view of it.
func serverView(r *http.Request) *http.Request {
	s := r.Clone(context.Background())
	s.RequestURI = r.URL.RequestURI()
	if s.Host == "" {
		s.Host = r.URL.Host
	}
	s.Body = r.Body
	if s.Body == nil {
		s.Body = http.NoBody
	}
	return s
}

func mustReq(t *testing.T, method, u string, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestSignRequestRoundTrip(t *testing.T) {
	body := []byte("payload bytes")
	tests := []struct {
		name     string
		url      string
		hash     string
		mutate   func(r *http.Request)
		now      time.Time
		wantCode string
		wantBody string // Read error code, if any
	}{
		{name: "signed payload", url: "https://h.example/b/k%20ey+~x?versionId=1&a=b+c", hash: sha(body)},
		{name: "unsigned payload", url: "https://h.example/b/k", hash: unsignedPayload},
		{name: "slash key", url: "http://h:9000/b//a/./../c%2Fd", hash: sha(body)},
		{name: "skew", url: "https://h.example/b/k", hash: sha(body), now: testTime.Add(16 * time.Minute), wantCode: CodeRequestTimeTooSkewed},
		{name: "skew past", url: "https://h.example/b/k", hash: sha(body), now: testTime.Add(-16 * time.Minute), wantCode: CodeRequestTimeTooSkewed},
		{name: "tampered path", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) { r.RequestURI = "/b/k2" }, wantCode: CodeSignatureDoesNotMatch},
		{name: "tampered query", url: "https://h.example/b/k?x=1", hash: sha(body),
			mutate: func(r *http.Request) { r.URL.RawQuery = "x=2" }, wantCode: CodeSignatureDoesNotMatch},
		{name: "tampered host", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) { r.Host = "evil.example" }, wantCode: CodeSignatureDoesNotMatch},
		{name: "tampered amz header", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "2") }, wantCode: CodeSignatureDoesNotMatch},
		{name: "tampered method", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) { r.Method = "DELETE" }, wantCode: CodeSignatureDoesNotMatch},
		{name: "tampered body", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("payload bytez")) }, wantBody: CodeXAmzContentSHA256Mismatch},
		{name: "unknown key", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AKIDRAYA", "NOPE", 1))
			}, wantCode: CodeInvalidAccessKeyID},
		{name: "missing content sha", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, wantCode: CodeInvalidRequest},
		{name: "bad content sha", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "nope") }, wantCode: CodeInvalidArgument},
		{name: "credential date mismatch", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20250602T000100Z") }, now: time.Date(2025, 6, 2, 0, 1, 0, 0, time.UTC), wantCode: CodeAuthorizationHeaderMalformed},
		{name: "missing date", url: "https://h.example/b/k", hash: sha(body),
			mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date") }, wantCode: CodeAccessDenied},
		{name: "two auth mechanisms", url: "https://h.example/b/k?X-Amz-Signature=00", hash: sha(body), wantCode: CodeInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustReq(t, "PUT", tc.url, body)
			r.Header.Set("X-Amz-Meta-A", "1")
			r.Header.Set("Content-Type", "text/plain")
			if err := SignRequest(r, tc.hash, testCreds, "any-region", "s3", testTime); err != nil {
				t.Fatal(err)
			}
			s := serverView(r)
			if tc.mutate != nil {
				tc.mutate(s)
			}
			now := tc.now
			if now.IsZero() {
				now = testTime.Add(time.Minute)
			}
			res, err := testVerifier(now).Verify(s, "")
			if tc.wantCode != "" {
				if !isCode(err, tc.wantCode) {
					t.Fatalf("Verify = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.AccessKeyID != testCreds.AccessKeyID || res.Anonymous || res.Presigned {
				t.Errorf("result %+v", res)
			}
			got, err := io.ReadAll(res.Body)
			if tc.wantBody != "" {
				if !isCode(err, tc.wantBody) {
					t.Fatalf("Read = %v, want %s", err, tc.wantBody)
				}
				return
			}
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("body %q, %v", got, err)
			}
		})
	}
}

func TestLookupErrorPassthrough(t *testing.T) {
	boom := errors.New("store down")
	v := &Verifier{Lookup: func(context.Context, string) (string, error) { return "", boom }, Now: func() time.Time { return testTime }}
	r := mustReq(t, "GET", "https://h.example/b/k", nil)
	if err := SignRequest(r, emptySHA256, testCreds, "us-east-1", "s3", testTime); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(serverView(r), ""); err != boom {
		t.Fatalf("Verify = %v, want the Lookup error unchanged", err)
	}
}

func TestAnonymous(t *testing.T) {
	r := serverView(mustReq(t, "GET", "https://h.example/b/k?list-type=2", nil))
	res, err := testVerifier(testTime).Verify(r, "/b/k")
	if err != nil || !res.Anonymous || res.AccessKeyID != "" || res.Body == nil || res.Trailer == nil || res.Trailer() == nil {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

func TestPresignRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		expires  time.Duration
		now      time.Time
		mutate   func(u string) string
		wantCode string
	}{
		{name: "valid", expires: time.Hour, now: testTime.Add(59 * time.Minute)},
		{name: "max expiry", expires: 7 * 24 * time.Hour, now: testTime.Add(6 * 24 * time.Hour)},
		{name: "expired", expires: time.Hour, now: testTime.Add(61 * time.Minute), wantCode: CodeAccessDenied},
		{name: "not yet valid", expires: time.Hour, now: testTime.Add(-time.Hour), wantCode: CodeAccessDenied},
		{name: "tampered expiry", expires: time.Hour, now: testTime.Add(2 * time.Hour),
			mutate: func(u string) string { return strings.Replace(u, "X-Amz-Expires=3600", "X-Amz-Expires=9000", 1) }, wantCode: CodeSignatureDoesNotMatch},
		{name: "expires too long", expires: time.Hour, now: testTime,
			mutate: func(u string) string { return strings.Replace(u, "X-Amz-Expires=3600", "X-Amz-Expires=604801", 1) }, wantCode: CodeAuthorizationQueryParametersError},
		{name: "expires zero", expires: time.Hour, now: testTime,
			mutate: func(u string) string { return strings.Replace(u, "X-Amz-Expires=3600", "X-Amz-Expires=0", 1) }, wantCode: CodeAuthorizationQueryParametersError},
		{name: "missing signed headers", expires: time.Hour, now: testTime,
			mutate: func(u string) string { return strings.Replace(u, "X-Amz-SignedHeaders=", "X-Amz-Foo=", 1) }, wantCode: CodeAuthorizationQueryParametersError},
		{name: "bad algorithm", expires: time.Hour, now: testTime,
			mutate: func(u string) string { return strings.Replace(u, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1) }, wantCode: CodeAuthorizationQueryParametersError},
		{name: "checksum in query is only signed", expires: time.Hour, now: testTime,
			mutate: func(u string) string { return u + "&x-amz-checksum-crc32=AAAAAA%3D%3D" }, wantCode: CodeSignatureDoesNotMatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustReq(t, "GET", "https://h.example/b/dir/a%20b+c?response-content-type=text%2Fplain", nil)
			u, err := Presign(r, testCreds, "us-east-1", "s3", testTime, tc.expires)
			if err != nil {
				t.Fatal(err)
			}
			if tc.mutate != nil {
				u = tc.mutate(u)
			}
			s := serverView(mustReq(t, "GET", u, nil))
			res, err := testVerifier(tc.now).Verify(s, "")
			if tc.wantCode != "" {
				if !isCode(err, tc.wantCode) {
					t.Fatalf("Verify = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil || !res.Presigned || res.AccessKeyID != testCreds.AccessKeyID {
				t.Fatalf("Verify = %+v, %v", res, err)
			}
		})
	}
}

// JS SDK v3 signs x-amz-checksum-* query parameters into presigned PUT URLs
// and then uploads any body: the checksum must not be enforced.
func TestPresignChecksumQueryIgnored(t *testing.T) {
	r := mustReq(t, "PUT", "https://h.example/b/k?x-amz-checksum-crc32=AAAAAA%3D%3D&x-amz-sdk-checksum-algorithm=CRC32", nil)
	u, err := Presign(r, testCreds, "us-east-1", "s3", testTime, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s := serverView(mustReq(t, "PUT", u, []byte("not empty")))
	res, err := testVerifier(testTime).Verify(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(res.Body); err != nil || string(b) != "not empty" {
		t.Fatalf("body %q %v", b, err)
	}
}

func TestPresignV2RoundTrip(t *testing.T) {
	exp := testTime.Add(time.Hour)
	for _, tc := range []struct {
		name, url, resource string
		now                 time.Time
		mutate              func(string) string
		wantCode            string
	}{
		{name: "path style", url: "https://h.example/b/a%20b?versionId=3&response-content-disposition=x%3By", resource: "/b/a%20b", now: testTime},
		{name: "virtual host", url: "https://b.h.example/k", resource: "/b/k", now: testTime},
		{name: "expired", url: "https://h.example/b/k", resource: "/b/k", now: exp.Add(time.Second), wantCode: CodeAccessDenied},
		{name: "tampered resource", url: "https://h.example/b/k", resource: "/b/k", now: testTime,
			mutate: func(u string) string { return strings.Replace(u, "/b/k", "/b/j", 1) }, wantCode: CodeSignatureDoesNotMatch},
		{name: "tampered subresource", url: "https://h.example/b/k", resource: "/b/k", now: testTime,
			mutate: func(u string) string { return u + "&acl" }, wantCode: CodeSignatureDoesNotMatch},
		{name: "unsigned non-subresource ok", url: "https://h.example/b/k", resource: "/b/k", now: testTime,
			mutate: func(u string) string { return u + "&foo=bar" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := PresignV2(mustReq(t, "GET", tc.url, nil), testCreds, tc.resource, exp)
			if err != nil {
				t.Fatal(err)
			}
			res := tc.resource
			if tc.mutate != nil {
				u = tc.mutate(u)
				if strings.Contains(u, "/b/j") {
					res = "/b/j"
				}
			}
			pu, _ := url.Parse(u)
			_ = pu
			got, err := testVerifier(tc.now).Verify(serverView(mustReq(t, "GET", u, nil)), res)
			if tc.wantCode != "" {
				if !isCode(err, tc.wantCode) {
					t.Fatalf("Verify = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil || !got.Presigned || got.AccessKeyID != testCreds.AccessKeyID {
				t.Fatalf("Verify = %+v, %v", got, err)
			}
		})
	}
}

func TestSignV2HeaderRoundTrip(t *testing.T) {
	r := mustReq(t, "PUT", "https://h.example/b/k?uploadId=7&partNumber=2", []byte("x"))
	r.Header.Set("X-Amz-Meta-Z", "a   b")
	r.Header.Set("Content-Md5", "1B2M2Y8AsgTpgAmY7PhCfg==")
	if err := SignV2Request(r, testCreds, "/b/k", testTime); err != nil {
		t.Fatal(err)
	}
	if _, err := testVerifier(testTime).Verify(serverView(r), "/b/k"); err != nil {
		t.Fatal(err)
	}
	s := serverView(r)
	s.Header.Set("Content-Md5", "XXXXXXXXXXXXXXXXXXXXXX==")
	if _, err := testVerifier(testTime).Verify(s, "/b/k"); !isCode(err, CodeSignatureDoesNotMatch) {
		t.Fatalf("tampered md5: %v", err)
	}
	if _, err := testVerifier(testTime.Add(time.Hour)).Verify(serverView(r), "/b/k"); !isCode(err, CodeRequestTimeTooSkewed) {
		t.Fatalf("skew: %v", err)
	}
}

func TestAuthHeaderParsing(t *testing.T) {
	good := "Credential=AK/20250601/us-east-1/s3/aws4_request"
	sig := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host;x-amz-date, Signature=" + sig, true},
		{"AWS4-HMAC-SHA256 " + good + ",SignedHeaders=host;x-amz-date,Signature=" + sig, true},
		{"AWS4-HMAC-SHA256  " + good + " , SignedHeaders=host , Signature=" + sig + " ", true},
		{"AWS4-HMAC-SHA256 " + good + ", SignedHeaders=x-amz-date, Signature=" + sig, false}, // no host
		{"AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host", false},
		{"AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host, Signature=xyz", false},
		{"AWS4-HMAC-SHA256 Credential=AK/2025061/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, false},
		{"AWS4-HMAC-SHA256 Credential=AK/20250601/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=" + sig, false},
		{"AWS4-HMAC-SHA256 " + good + ", " + good + ", SignedHeaders=host, Signature=" + sig, false},
		{"AWS4-HMAC-SHA256X " + good + ", SignedHeaders=host, Signature=" + sig, false},
		{"", false},
	} {
		_, err := parseAuthHeader(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseAuthHeader(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestCanonicalURIS3(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/b/a b", "/b/a%20b"},
		{"/b/a%20b", "/b/a%20b"},
		{"/b/%7Ea~", "/b/~a~"},
		{"/b/a%2Fb", "/b/a%2Fb"},
		{"/b//./../k", "/b//./../k"},
		{"/b/a+b", "/b/a%2Bb"},
		{"/b/%e1%88%b4", "/b/%E1%88%B4"},
		{"/b/100%", "/b/100%25"},
		{"", "/"},
	} {
		if got := canonicalURIS3(tc.in); got != tc.want {
			t.Errorf("canonicalURIS3(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"b=2&a=1", "a=1&b=2"},
		{"a=2&a=1", "a=1&a=2"},
		{"acl", "acl="},
		{"a+b=c+d", "a%20b=c%20d"},
		{"x=%2b%7e", "x=%2B~"},
		{"k=a/b", "k=a%2Fb"},
		{"", ""},
	} {
		if got := canonicalQuery(tc.in, nil); got != tc.want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
