package sigv4

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// signedChunkedRequest builds a server-side view of a signed aws-chunked PUT.
func signedChunkedRequest(t testing.TB, payload []byte, chunk int, trailer http.Header) (*http.Request, []byte) {
	t.Helper()
	r, err := http.NewRequest("PUT", "https://h.example/b/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignChunked(r, payload, chunk, trailer, testCreds, "us-east-1", testTime); err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	s := serverView(r)
	s.Body = io.NopCloser(bytes.NewReader(body))
	return s, body
}

func verifyAndRead(t *testing.T, r *http.Request, oneByte bool) (*Result, []byte, error) {
	t.Helper()
	res, err := testVerifier(testTime).Verify(r, "")
	if err != nil {
		return nil, nil, err
	}
	var rd io.Reader = res.Body
	if oneByte {
		rd = iotest.OneByteReader(rd)
	}
	b, err := io.ReadAll(rd)
	return res, b, err
}

func TestChunkedSigned(t *testing.T) {
	crc := http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}}
	for _, tc := range []struct {
		size, chunk int
		trailer     http.Header
	}{
		{0, 64, nil}, {1, 64, nil}, {64, 64, nil}, {65, 64, nil}, {1000, 7, nil},
		{70000, 65536, nil}, {0, 8, crc}, {100, 8, crc}, {8192, 8192, crc},
	} {
		for _, oneByte := range []bool{false, true} {
			name := fmt.Sprintf("size=%d/chunk=%d/trailer=%v/onebyte=%v", tc.size, tc.chunk, tc.trailer != nil, oneByte)
			t.Run(name, func(t *testing.T) {
				payload := payloadOf(tc.size)
				r, _ := signedChunkedRequest(t, payload, tc.chunk, tc.trailer)
				res, got, err := verifyAndRead(t, r, oneByte)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, payload) {
					t.Fatalf("payload mismatch: %d bytes, want %d", len(got), len(payload))
				}
				if res.ContentLength != int64(tc.size) {
					t.Errorf("ContentLength %d", res.ContentLength)
				}
				if tc.trailer != nil && res.Trailer().Get("x-amz-checksum-crc32") != "AAAAAA==" {
					t.Errorf("trailer %v", res.Trailer())
				}
			})
		}
	}
}

func TestChunkedSignedFailures(t *testing.T) {
	crc := http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}}
	payload := payloadOf(200)
	for _, tc := range []struct {
		name    string
		trailer http.Header
		mutate  func(r *http.Request, body []byte) []byte
		code    string
	}{
		{"corrupt data", nil, func(_ *http.Request, b []byte) []byte {
			i := bytes.Index(b, []byte("\r\n")) + 5
			b[i] ^= 1
			return b
		}, CodeSignatureDoesNotMatch},
		{"corrupt chunk signature", nil, func(_ *http.Request, b []byte) []byte {
			i := bytes.Index(b, []byte("chunk-signature=")) + 16
			b[i] = flipHex(b[i])[0]
			return b
		}, CodeSignatureDoesNotMatch},
		{"corrupt final signature", nil, func(_ *http.Request, b []byte) []byte {
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + 16
			b[i] = flipHex(b[i])[0]
			return b
		}, CodeSignatureDoesNotMatch},
		{"chunks reordered", nil, func(_ *http.Request, b []byte) []byte {
			parts := bytes.SplitAfter(b, []byte("\r\n"))
			// parts: hdr1 data1 hdr2 data2 ...; swap the first two chunks
			out := append([]byte{}, parts[2]...)
			out = append(out, parts[3]...)
			out = append(out, parts[0]...)
			out = append(out, parts[1]...)
			for _, p := range parts[4:] {
				out = append(out, p...)
			}
			return out
		}, CodeSignatureDoesNotMatch},
		{"truncated in data", nil, func(_ *http.Request, b []byte) []byte { return b[:100] }, CodeIncompleteBody},
		{"truncated before final chunk", nil, func(_ *http.Request, b []byte) []byte {
			return b[:bytes.LastIndex(b, []byte("0;chunk-signature"))]
		}, CodeIncompleteBody},
		{"decoded length too small", nil, func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Decoded-Content-Length", "199")
			return b
		}, CodeSignatureDoesNotMatch}, // the header is signed
		{"chunk longer than size", nil, func(_ *http.Request, b []byte) []byte {
			return bytes.Replace(b, []byte("40;"), []byte("3f;"), 1)
		}, CodeInvalidRequest},
		{"missing chunk signature", nil, func(_ *http.Request, b []byte) []byte {
			i := bytes.Index(b, []byte(";chunk-signature="))
			return append(b[:i:i], b[i+81:]...)
		}, CodeInvalidRequest},
		{"huge line", nil, func(_ *http.Request, b []byte) []byte {
			return append(bytes.Repeat([]byte("0"), 10000), b...)
		}, CodeInvalidRequest},
		{"huge size", nil, func(_ *http.Request, b []byte) []byte {
			return append([]byte("fffffffffffffffff;"), b...)
		}, CodeInvalidRequest},
		{"bad trailer signature", crc, func(_ *http.Request, b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + 24
			b[i] = flipHex(b[i])[0]
			return b
		}, CodeSignatureDoesNotMatch},
		{"tampered trailer value", crc, func(_ *http.Request, b []byte) []byte {
			return bytes.Replace(b, []byte("AAAAAA=="), []byte("AAAAAB=="), 1)
		}, CodeSignatureDoesNotMatch},
		{"missing trailer signature", crc, func(_ *http.Request, b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:"))
			return append(b[:i:i], "\r\n"...)
		}, CodeSignatureDoesNotMatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, body := signedChunkedRequest(t, payload, 64, tc.trailer)
			body = tc.mutate(r, body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			res, err := testVerifier(testTime).Verify(r, "")
			if err == nil {
				_, err = io.ReadAll(res.Body)
				if err == nil {
					t.Fatal("no error")
				}
			}
			if !isCode(err, tc.code) {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
			// The error is sticky.
			if res != nil {
				if _, err2 := res.Body.Read(make([]byte, 10)); !isCode(err2, tc.code) {
					t.Errorf("second Read = %v", err2)
				}
			}
		})
	}
}

// unsignedTrailerRequest signs headers only, like botocore over HTTPS.
func unsignedTrailerRequest(t *testing.T, body []byte, decodedLen int) *http.Request {
	t.Helper()
	r, err := http.NewRequest("PUT", "https://h.example/b/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	if decodedLen >= 0 {
		r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(decodedLen))
	}
	if err := SignRequest(r, streamingUnsTrl, testCreds, "us-east-1", "s3", testTime); err != nil {
		t.Fatal(err)
	}
	s := serverView(r)
	s.Body = io.NopCloser(bytes.NewReader(body))
	s.ContentLength = -1
	s.TransferEncoding = []string{"chunked"}
	return s
}

func TestChunkedUnsignedTrailer(t *testing.T) {
	tr := http.Header{"x-amz-checksum-crc32": {"X4gLJQ=="}}
	p := payloadOf(100)
	enc := EncodeChunkedUnsigned(p, 33, tr)
	for _, tc := range []struct {
		name       string
		body       string
		decodedLen int
		want       string
		trailer    string
		code       string
	}{
		{name: "sdk form", body: string(enc), decodedLen: 100, want: string(p), trailer: "X4gLJQ=="},
		{name: "unknown decoded length", body: string(enc), decodedLen: -1, want: string(p), trailer: "X4gLJQ=="},
		{name: "empty", body: "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", decodedLen: 0, trailer: "AAAAAA=="},
		{name: "no trailer lines", body: "3\r\nabc\r\n0\r\n\r\n", decodedLen: 3, want: "abc"},
		{name: "bare LF", body: "3\nabc\n0\nx-amz-checksum-crc32:X4gLJQ==\n\n", decodedLen: 3, want: "abc", trailer: "X4gLJQ=="},
		{name: "no final CRLF", body: "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:X4gLJQ==\r\n", decodedLen: 3, want: "abc", trailer: "X4gLJQ=="},
		{name: "no final line ending", body: "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:X4gLJQ==", decodedLen: 3, want: "abc", trailer: "X4gLJQ=="},
		{name: "chunk extension", body: "3;foo=bar\r\nabc\r\n0\r\n\r\n", decodedLen: 3, want: "abc"},
		{name: "upper hex size", body: "A\r\n0123456789\r\n0\r\n\r\n", decodedLen: 10, want: "0123456789"},
		{name: "short vs decoded length", body: "3\r\nabc\r\n0\r\n\r\n", decodedLen: 4, code: CodeIncompleteBody},
		{name: "long vs decoded length", body: "3\r\nabc\r\n0\r\n\r\n", decodedLen: 2, code: CodeInvalidRequest},
		{name: "truncated", body: "3\r\nab", decodedLen: 3, code: CodeIncompleteBody},
		{name: "no last chunk", body: "3\r\nabc\r\n", decodedLen: 3, code: CodeIncompleteBody},
		{name: "bad size", body: "x3\r\nabc\r\n0\r\n\r\n", decodedLen: 3, code: CodeInvalidRequest},
		{name: "empty body", body: "", decodedLen: 0, code: CodeIncompleteBody},
		{name: "garbage trailer", body: "0\r\nnocolon\r\n\r\n", decodedLen: 0, code: CodeInvalidRequest},
		{name: "too many trailers", body: "0\r\n" + strings.Repeat("x-a:b\r\n", 100) + "\r\n", decodedLen: 0, code: CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, got, err := verifyAndRead(t, unsignedTrailerRequest(t, []byte(tc.body), tc.decodedLen), false)
			if tc.code != "" {
				if !isCode(err, tc.code) {
					t.Fatalf("error %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("payload %q, want %q", got, tc.want)
			}
			if g := res.Trailer().Get("x-amz-checksum-crc32"); g != tc.trailer {
				t.Errorf("trailer %q, want %q", g, tc.trailer)
			}
			if res.ContentLength != int64(tc.decodedLen) {
				t.Errorf("ContentLength %d", res.ContentLength)
			}
		})
	}
}

func TestTrailerBeforeEOF(t *testing.T) {
	res, err := testVerifier(testTime).Verify(unsignedTrailerRequest(t, []byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:X4gLJQ==\r\n\r\n"), 3), "")
	if err != nil {
		t.Fatal(err)
	}
	if h := res.Trailer(); h == nil || len(h) != 0 {
		t.Fatalf("Trailer before EOF = %v", h)
	}
}

// Read errors from the connection pass through unchanged.
func TestChunkedSourceError(t *testing.T) {
	r := unsignedTrailerRequest(t, nil, 3)
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader("3\r\na"), iotest.ErrReader(io.ErrClosedPipe)))
	_, _, err := verifyAndRead(t, r, false)
	if err != io.ErrClosedPipe {
		t.Fatalf("err %v", err)
	}
}
