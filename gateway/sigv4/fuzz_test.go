package sigv4

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func FuzzParseAuthHeader(f *testing.F) {
	sig := strings.Repeat("0a", 32)
	f.Add("AWS4-HMAC-SHA256 Credential=AK/20250601/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig)
	f.Add("AWS4-HMAC-SHA256 Credential=AK/20250601/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=" + sig)
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f/aws4_request, SignedHeaders=;;, Signature==")
	f.Add("AWS AK:c2lnbmF0dXJl")
	f.Add("AWS4-HMAC-SHA256")
	f.Add("")
	v := testVerifier(testTime)
	f.Fuzz(func(t *testing.T, h string) {
		if ah, err := parseAuthHeader(h); err == nil {
			if len(ah.Signature) != 64 || !contains(ah.SignedHeaders, "host") || ah.Credential.AccessKeyID == "" {
				t.Fatalf("accepted invalid header %q: %+v", h, ah)
			}
		}
		r, _ := http.NewRequest("PUT", "https://h.example/b/k", strings.NewReader("x"))
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", testTime.Format(amzDateFormat))
		r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
		if res, err := v.Verify(serverView(r), "/b/k"); err == nil && !res.Anonymous {
			t.Fatalf("fuzzed Authorization %q verified", h)
		}
	})
}

func FuzzPresignQuery(f *testing.F) {
	r, _ := http.NewRequest("GET", "https://h.example/b/k?versionId=1", nil)
	u, _ := Presign(r, testCreds, "us-east-1", "s3", testTime, 3600e9)
	pu, _ := url.Parse(u)
	f.Add(pu.RawQuery)
	u2, _ := PresignV2(r, testCreds, "/b/k", testTime.Add(3600e9))
	pu2, _ := url.Parse(u2)
	f.Add(pu2.RawQuery)
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=-1&X-Amz-Date=&X-Amz-Credential=%2F%2F%2F%2F")
	f.Add("a=%zz&%=&+=+&&=&acl")
	v := testVerifier(testTime)
	f.Fuzz(func(t *testing.T, q string) {
		_ = canonicalQuery(q, nil)
		_ = canonicalResourceV2("/b/k", q)
		_, _ = parsePresignQuery(parseQuery(q))
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/b/k", RawQuery: q}, Host: "h.example",
			RequestURI: "/b/k?" + q, Header: http.Header{}, Body: http.NoBody}
		res, err := v.Verify(r, "/b/k")
		if err == nil && !res.Anonymous && q != pu.RawQuery && q != pu2.RawQuery {
			// Only a query equivalent to a signed one may verify.
			if canonicalQuery(q, nil) != canonicalQuery(pu.RawQuery, nil) && canonicalQuery(q, nil) != canonicalQuery(pu2.RawQuery, nil) {
				t.Fatalf("fuzzed query %q verified", q)
			}
		}
	})
}

func FuzzChunkedDecoder(f *testing.F) {
	seedSigner := func(r *http.Request) chunkSigner {
		ah, err := parseAuthHeader(r.Header.Get("Authorization"))
		if err != nil {
			f.Fatal(err)
		}
		return chunkSigner{key: signingKey(testCreds.SecretAccessKey, "20250601", "us-east-1", "s3"),
			amzDate: testTime.Format(amzDateFormat), scope: scope("20250601", "us-east-1", "s3"), prevSig: ah.Signature}
	}
	r0, signedBody := signedChunkedRequest(f, payloadOf(100), 30, nil)
	r1, trailerBody := signedChunkedRequest(f, payloadOf(10), 4, http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}})
	signers := [2]chunkSigner{seedSigner(r0), seedSigner(r1)}
	f.Add(signedBody, uint8(0), int64(100))
	f.Add(trailerBody, uint8(1), int64(10))
	f.Add(EncodeChunkedUnsigned(payloadOf(50), 16, http.Header{"x-amz-checksum-crc32": {"AAAAAA=="}}), uint8(2), int64(50))
	f.Add([]byte("3\nabc\n0\n\n"), uint8(2), int64(-1))
	f.Add([]byte("ffffffffffffffff\r\n"), uint8(2), int64(-1))
	f.Fuzz(func(t *testing.T, body []byte, mode uint8, decodedLen int64) {
		if decodedLen < -1 {
			decodedLen = -1
		}
		var signer *chunkSigner
		trailer := true
		switch mode % 3 {
		case 0, 1:
			s := signers[mode%3] // a copy: prevSig advances
			signer = &s
			trailer = mode%3 == 1
		}
		cr := newChunkedReader(io.NopCloser(bytes.NewReader(body)), signer, trailer, decodedLen)
		var out bytes.Buffer
		_, err := io.Copy(&out, cr)
		if err == nil && decodedLen >= 0 && int64(out.Len()) != decodedLen {
			t.Fatalf("decoded %d bytes without error, declared %d", out.Len(), decodedLen)
		}
		if err == nil && out.Len() > len(body) {
			t.Fatalf("decoded more than the body")
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("non-*Error %T %v", err, err)
			}
		}
		_ = cr.Trailer()
	})
}

// The fuzz seeds must decode, or the fuzzer starts from nothing useful.
func TestFuzzSeedsDecode(t *testing.T) {
	r0, b0 := signedChunkedRequest(t, payloadOf(100), 30, nil)
	if _, got, err := verifyAndRead(t, r0, false); err != nil || len(got) != 100 {
		t.Fatal(err)
	}
	_ = b0
}
