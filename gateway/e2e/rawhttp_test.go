package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

type s3ErrorXML struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	RequestID string `xml:"RequestId"`
}

// rawDo sends req and returns status, headers and body.
func rawDo(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	mustOK(t, err, req.Method+" "+req.URL.String())
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	mustOK(t, err, "read body")
	return resp, body
}

// wantXMLError checks an S3 XML error response.
func wantXMLError(t *testing.T, s *server, what string, resp *http.Response, body []byte, statuses []int, codes ...string) {
	t.Helper()
	okStatus := false
	for _, st := range statuses {
		okStatus = okStatus || resp.StatusCode == st
	}
	var e s3ErrorXML
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: %d, body is not an S3 XML error (%v): %q", what, resp.StatusCode, err, body)
		return
	}
	okCode := len(codes) == 0
	for _, c := range codes {
		okCode = okCode || e.Code == c
	}
	if !okStatus || !okCode || e.Code == "" {
		t.Errorf("%s: got %d %s (%s), want status %v code %v", what, resp.StatusCode, e.Code, e.Message, statuses, codes)
	}
	if e.RequestID == "" || resp.Header.Get("X-Amz-Request-Id") != e.RequestID {
		t.Errorf("%s: RequestId %q in body, x-amz-request-id header %q", what, e.RequestID, resp.Header.Get("X-Amz-Request-Id"))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "xml") {
		t.Errorf("%s: Content-Type %q, want application/xml", what, ct)
	}
	if strings.Contains(string(body), s.DataDir) || strings.Contains(string(body), "goroutine ") {
		t.Errorf("%s: error body leaks internals: %q", what, body)
	}
}

func signReq(t *testing.T, req *http.Request, payloadHash string, secret string) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	// S3 signs the path as sent (no second escaping), like the SDK's S3 client.
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: rootAccessKey, SecretAccessKey: secret},
		req, payloadHash, "s3", testRegion, time.Now())
	mustOK(t, err, "sign request")
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestRawHTTP sends hand-made requests: anonymous, malformed and 100-continue.
func TestRawHTTP(t *testing.T) {
	eachScheme(t, serverOpts{}, func(t *testing.T, s *server) {
		sdk, _ := newSDKClient(t, s, sdkClientOpts{})
		hc := s.HTTPClient()
		b := uniqueBucket("raw")
		createBucket(t, sdk, b)
		putBytes(t, sdk, b, "private.txt", []byte("private"))

		for _, path := range []string{"/" + b + "/private.txt", "/" + b, "/" + b + "?list-type=2", "/"} {
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			resp, body := rawDo(t, hc, req)
			wantXMLError(t, s, "anonymous GET "+path, resp, body, []int{403}, "AccessDenied")
		}
		req, _ := http.NewRequest("PUT", s.URL+"/"+b+"/anon.txt", strings.NewReader("anon"))
		resp, body := rawDo(t, hc, req)
		wantXMLError(t, s, "anonymous PUT", resp, body, []int{403}, "AccessDenied")
		_, err := sdk.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("anon.txt")})
		wantErr(t, err, "NotFound", 404)

		// A public-read ACL opens one object to anonymous readers; overwriting
		// it without an ACL makes the new object private again.
		_, err = sdk.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("public.txt"),
			Body: strings.NewReader("for everyone"), ACL: types.ObjectCannedACLPublicRead})
		mustOK(t, err, "PutObject public-read")
		req, _ = http.NewRequest("GET", s.URL+"/"+b+"/public.txt", nil)
		resp, body = rawDo(t, hc, req)
		if resp.StatusCode != 200 || string(body) != "for everyone" {
			t.Errorf("anonymous GET of a public-read object: %d %s", resp.StatusCode, body)
		}
		putBytes(t, sdk, b, "public.txt", []byte("private again"))
		req, _ = http.NewRequest("GET", s.URL+"/"+b+"/public.txt", nil)
		resp, body = rawDo(t, hc, req)
		wantXMLError(t, s, "anonymous GET of an object overwritten without ACL", resp, body, []int{403}, "AccessDenied")

		for _, auth := range []string{
			"garbage",
			"AWS4-HMAC-SHA256 garbage",
			"AWS4-HMAC-SHA256 Credential=" + rootAccessKey + "/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=deadbeef",
			"AWS " + rootAccessKey + ":bm90IGEgc2lnbmF0dXJl",
			"Bearer abc.def.ghi",
		} {
			req, _ := http.NewRequest("GET", s.URL+"/"+b+"/private.txt", nil)
			req.Header.Set("Authorization", auth)
			req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
			resp, body := rawDo(t, hc, req)
			wantXMLError(t, s, "Authorization "+auth, resp, body, []int{400, 403})
		}

		// Expect: 100-continue with a signed body.
		payload := randomBytes(256 * 1024)
		req, _ = http.NewRequest("PUT", s.URL+"/"+b+"/continue.bin", bytes.NewReader(payload))
		req.Header.Set("Expect", "100-continue")
		req.Header.Set("Content-Type", "application/octet-stream")
		signReq(t, req, sha256Hex(payload), rootSecretKey)
		resp, body = rawDo(t, hc, req)
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != etagOf(payload) {
			t.Errorf("100-continue signed PUT: %d ETag %q body %s", resp.StatusCode, resp.Header.Get("ETag"), body)
		}
		if resp.Header.Get("X-Amz-Request-Id") == "" {
			t.Errorf("100-continue PUT: no x-amz-request-id")
		}
		got, _ := getBytes(t, sdk, b, "continue.bin")
		equalBytes(t, "100-continue object", got, payload)

		// Expect: 100-continue on an empty body (aws s3 sync of an empty file).
		// The server must answer 100 Continue before the final response:
		// botocore (1.43) keeps the status line of an early final response and
		// reuses it for the next request on the connection, which then fails
		// to parse and hangs until the read timeout.
		if first := emptyExpectPut(t, s, "/"+b+"/empty-continue"); !strings.HasPrefix(first, "HTTP/1.1 100 ") {
			t.Errorf("PUT with Content-Length: 0 and Expect: 100-continue: first response line %q, want HTTP/1.1 100 Continue", first)
		}

		// Expect: 100-continue with a bad signature is refused without storing anything.
		req, _ = http.NewRequest("PUT", s.URL+"/"+b+"/continue-bad.bin", bytes.NewReader(payload))
		req.Header.Set("Expect", "100-continue")
		signReq(t, req, sha256Hex(payload), rootSecretKey+"wrong")
		resp, body = rawDo(t, hc, req)
		wantXMLError(t, s, "100-continue PUT with a bad signature", resp, body, []int{403}, "SignatureDoesNotMatch")

		// The signed payload hash must match the body.
		req, _ = http.NewRequest("PUT", s.URL+"/"+b+"/mismatch.bin", bytes.NewReader(payload))
		signReq(t, req, sha256Hex([]byte("other body")), rootSecretKey)
		resp, body = rawDo(t, hc, req)
		wantXMLError(t, s, "PUT with a wrong x-amz-content-sha256", resp, body, []int{400}, "XAmzContentSHA256Mismatch", "BadDigest")
		_, err = sdk.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("mismatch.bin")})
		wantErr(t, err, "NotFound", 404)

		// rclone style: UNSIGNED-PAYLOAD with Content-MD5.
		sum := md5.Sum(payload)
		req, _ = http.NewRequest("PUT", s.URL+"/"+b+"/unsigned.bin", bytes.NewReader(payload))
		req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
		signReq(t, req, "UNSIGNED-PAYLOAD", rootSecretKey)
		resp, body = rawDo(t, hc, req)
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != etagOf(payload) {
			t.Errorf("UNSIGNED-PAYLOAD PUT with Content-MD5: %d ETag %q %s", resp.StatusCode, resp.Header.Get("ETag"), body)
		}

		// JS SDK v3 style: aws-chunked, unsigned, trailing CRC32, sent with
		// Transfer-Encoding: chunked and no Content-Length (even over HTTP).
		chunked := randomBytes(200_000)
		resp, body = rawDo(t, hc, chunkedPut(t, s.URL+"/"+b+"/chunked.bin", chunked, crc32.ChecksumIEEE(chunked)))
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != etagOf(chunked) {
			t.Errorf("aws-chunked PUT with trailing CRC32: %d ETag %q %s", resp.StatusCode, resp.Header.Get("ETag"), body)
		}
		if got := resp.Header.Get("X-Amz-Checksum-Crc32"); got != "" && got != b64(crcBytes32(crc32.ChecksumIEEE(chunked))) {
			t.Errorf("aws-chunked PUT: x-amz-checksum-crc32 %q", got)
		}
		got, _ = getBytes(t, sdk, b, "chunked.bin")
		equalBytes(t, "aws-chunked object", got, chunked)
		// A wrong trailing checksum aborts the put: nothing becomes visible.
		resp, body = rawDo(t, hc, chunkedPut(t, s.URL+"/"+b+"/chunked-bad.bin", chunked, crc32.ChecksumIEEE(chunked)+1))
		wantXMLError(t, s, "aws-chunked PUT with a wrong trailing CRC32", resp, body, []int{400}, "BadDigest")
		_, err = sdk.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("chunked-bad.bin")})
		wantErr(t, err, "NotFound", 404)

		// JS SDK v3 presigned PUT URLs carry the checksum of an empty body; AWS
		// ignores checksums in presigned URLs, so the upload must succeed.
		req, _ = http.NewRequest("PUT", s.URL+"/"+b+"/browser.txt?x-amz-checksum-crc32=AAAAAA%3D%3D&x-amz-sdk-checksum-algorithm=CRC32&X-Amz-Expires=300", nil)
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		purl, hdr, err := signer.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: rootAccessKey, SecretAccessKey: rootSecretKey},
			req, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now())
		mustOK(t, err, "presign")
		browser := []byte("uploaded from a browser")
		req, _ = http.NewRequest("PUT", purl, bytes.NewReader(browser))
		for k, v := range hdr {
			if !strings.EqualFold(k, "Host") {
				req.Header[k] = v
			}
		}
		resp, body = rawDo(t, hc, req)
		if resp.StatusCode != 200 {
			t.Errorf("presigned PUT with x-amz-checksum-crc32=AAAAAA== in the query: %d %s", resp.StatusCode, body)
		} else {
			got, _ = getBytes(t, sdk, b, "browser.txt")
			equalBytes(t, "presigned PUT with query checksum", got, browser)
		}

		// A signed GET of a missing key: NoSuchKey XML with the key and a request ID.
		req, _ = http.NewRequest("GET", s.URL+"/"+b+"/missing%20key", nil)
		signReq(t, req, sha256Hex(nil), rootSecretKey)
		resp, body = rawDo(t, hc, req)
		wantXMLError(t, s, "GET missing key", resp, body, []int{404}, "NoSuchKey")

		// Health endpoints.
		for _, p := range []string{"/healthz", "/readyz"} {
			req, _ := http.NewRequest("GET", s.URL+p, nil)
			resp, _ := rawDo(t, hc, req)
			if resp.StatusCode != 200 {
				t.Errorf("GET %s: %d", p, resp.StatusCode)
			}
		}
	})
}

// chunkedPut builds a signed PUT with an unsigned aws-chunked body and a
// trailing x-amz-checksum-crc32, streamed without a Content-Length.
func chunkedPut(t *testing.T, url string, data []byte, crc uint32) *http.Request {
	t.Helper()
	var enc bytes.Buffer
	for off := 0; off < len(data); off += 64 * 1024 {
		end := min(off+64*1024, len(data))
		fmt.Fprintf(&enc, "%x\r\n", end-off)
		enc.Write(data[off:end])
		enc.WriteString("\r\n")
	}
	fmt.Fprintf(&enc, "0\r\nx-amz-checksum-crc32:%s\r\n\r\n", b64(crcBytes32(crc)))
	req, _ := http.NewRequest("PUT", url, io.MultiReader(&enc)) // unknown length: Transfer-Encoding: chunked
	req.ContentLength = -1
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	req.Header.Set("X-Amz-Sdk-Checksum-Algorithm", "CRC32")
	signReq(t, req, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", rootSecretKey)
	return req
}

// emptyExpectPut sends a signed, empty PUT with Expect: 100-continue over a raw
// connection and returns the first status line the server answers with.
func emptyExpectPut(t *testing.T, s *server, path string) string {
	t.Helper()
	req, _ := http.NewRequest("PUT", s.URL+path, nil)
	req.Header.Set("Content-Length", "0")
	signReq(t, req, sha256Hex(nil), rootSecretKey)
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "PUT %s HTTP/1.1\r\nHost: %s\r\nExpect: 100-continue\r\nContent-Length: 0\r\n", path, s.Addr)
	for k, v := range req.Header {
		if k != "Content-Length" {
			fmt.Fprintf(&raw, "%s: %s\r\n", k, v[0])
		}
	}
	raw.WriteString("\r\n")
	var conn net.Conn
	var err error
	if s.CAPool != nil {
		conn, err = tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: s.CAPool, ServerName: "127.0.0.1"})
	} else {
		conn, err = net.Dial("tcp", s.Addr)
	}
	mustOK(t, err, "dial")
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = conn.Write(raw.Bytes())
	mustOK(t, err, "write request")
	line, err := bufio.NewReader(conn).ReadString('\n')
	mustOK(t, err, "read status line")
	return strings.TrimSpace(line)
}
