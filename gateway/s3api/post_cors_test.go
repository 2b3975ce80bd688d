package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudraya/raya/gateway/sigv4"
)

// postForm builds a multipart form with fields in order and the file last.
func postForm(t *testing.T, fields [][2]string, file string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", "photo.jpg")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte(file))
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func (s *testServer) post(target, ctype string, body *bytes.Buffer) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", target, body)
	r.Host = "127.0.0.1:9000"
	r.Header.Set("Content-Type", ctype)
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func policyV4(t *testing.T, c sigv4.Credentials, exp time.Time, conds []any) [][2]string {
	now := time.Now().UTC()
	cred := c.AccessKeyID + "/" + now.Format("20060102") + "/us-east-1/s3/aws4_request"
	conds = append(conds, map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": cred}, map[string]string{"x-amz-date": now.Format("20060102T150405Z")})
	doc, _ := json.Marshal(map[string]any{"expiration": exp.UTC().Format(time.RFC3339), "conditions": conds})
	p := base64.StdEncoding.EncodeToString(doc)
	return [][2]string{
		{"x-amz-algorithm", "AWS4-HMAC-SHA256"}, {"x-amz-credential", cred}, {"x-amz-date", now.Format("20060102T150405Z")},
		{"policy", p}, {"x-amz-signature", sigv4.PostPolicySignatureV4(c.SecretAccessKey, now.Format("20060102"), "us-east-1", "s3", p)},
	}
}

func TestPresignedPost(t *testing.T) {
	s := newTestServer(t)
	root := &s.root
	s.expect(root, "PUT", "/forms", "", nil, 200)
	conds := []any{map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", "uploads/"}, []any{"content-length-range", 1, 10},
		map[string]string{"success_action_status": "201"}}
	fields := append([][2]string{{"key", "uploads/${filename}"}, {"success_action_status", "201"}}, policyV4(t, *root, time.Now().Add(time.Hour), conds)...)

	ct, body := postForm(t, fields, "jpegdata")
	w := s.post("/forms", ct, body)
	if w.Code != 201 || !strings.Contains(w.Body.String(), "<Key>uploads/photo.jpg</Key>") {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	if got := s.expect(root, "GET", "/forms/uploads/photo.jpg", "", nil, 200); got != "jpegdata" {
		t.Fatalf("stored %q", got)
	}

	for name, tc := range map[string]struct {
		fields [][2]string
		file   string
		code   string
	}{
		"too large":                {fields, "0123456789abc", "EntityTooLarge"},
		"empty":                    {fields, "", "EntityTooSmall"},
		"wrong prefix":             {append([][2]string{{"key", "other/x"}, {"success_action_status", "201"}}, fields[2:]...), "x", "AccessDenied"},
		"extra field":              {append(append([][2]string{}, fields...), [2]string{"x-amz-meta-note", "n"}), "x", "AccessDenied"},
		"expired":                  {append([][2]string{{"key", "uploads/x"}, {"success_action_status", "201"}}, policyV4(t, *root, time.Now().Add(-time.Minute), conds)...), "x", "AccessDenied"},
		"bad signature":            {append(append([][2]string{}, fields[:len(fields)-1]...), [2]string{"x-amz-signature", strings.Repeat("0", 64)}), "x", "SignatureDoesNotMatch"},
		"anonymous private bucket": {[][2]string{{"key", "uploads/x"}}, "x", "AccessDenied"},
	} {
		t.Run(name, func(t *testing.T) {
			ct, body := postForm(t, tc.fields, tc.file)
			w := s.post("/forms", ct, body)
			if errorCode(t, w) != tc.code {
				t.Errorf("got %d %s, want %s", w.Code, w.Body, tc.code)
			}
		})
	}
	if w := s.do(root, "GET", "/forms?list-type=2", "", nil); strings.Count(w.Body.String(), "<Key>") != 1 {
		t.Errorf("failed POSTs stored objects: %s", w.Body)
	}

	// SigV2 policy fields, as boto3 and aws-cli produce by default.
	doc, _ := json.Marshal(map[string]any{"expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"conditions": []any{map[string]string{"bucket": "forms"}, map[string]string{"key": "v2.txt"}}})
	p := base64.StdEncoding.EncodeToString(doc)
	ct, body = postForm(t, [][2]string{{"key", "v2.txt"}, {"AWSAccessKeyId", root.AccessKeyID}, {"policy", p},
		{"signature", sigv4.PostPolicySignatureV2(root.SecretAccessKey, p)}}, "v2 body")
	if w := s.post("/forms", ct, body); w.Code != 204 {
		t.Fatalf("SigV2 POST: %d %s", w.Code, w.Body)
	}
	ct, body = postForm(t, [][2]string{{"key", "v2.txt"}, {"success_action_redirect", "https://app.example/done"}, {"AWSAccessKeyId", root.AccessKeyID}, {"policy", p},
		{"signature", sigv4.PostPolicySignatureV2(root.SecretAccessKey, p)}}, "v2 body")
	if w := s.post("/forms", ct, body); w.Code != 403 {
		t.Fatalf("redirect field outside the policy accepted: %d", w.Code)
	}
}

func TestCORS(t *testing.T) {
	s := newTestServer(t)
	root := &s.root
	s.expect(root, "PUT", "/web", "", nil, 200)
	preflight := map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "Content-Type, x-amz-meta-a"}
	if errorCode(t, s.do(nil, "OPTIONS", "/web/k", "", preflight)) != "AccessForbidden" {
		t.Fatal("preflight without CORS allowed")
	}
	s.expect(root, "GET", "/web?cors", "", nil, 404)
	cfg := `<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>300</MaxAgeSeconds></CORSRule></CORSConfiguration>`
	s.expect(root, "PUT", "/web?cors", cfg, nil, 200)
	if got := s.expect(root, "GET", "/web?cors", "", nil, 200); !strings.Contains(got, "<AllowedOrigin>https://*.example</AllowedOrigin>") {
		t.Fatalf("GetBucketCors: %s", got)
	}
	w := s.do(nil, "OPTIONS", "/web/k", "", preflight)
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" ||
		w.Header().Get("Access-Control-Allow-Methods") != "PUT, GET" || w.Header().Get("Access-Control-Max-Age") != "300" ||
		w.Header().Get("Access-Control-Allow-Headers") != "content-type, x-amz-meta-a" {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}
	preflight["Access-Control-Request-Method"] = "DELETE"
	s.expect(nil, "OPTIONS", "/web/k", "", preflight, 403)
	preflight["Origin"] = "https://evil.test"
	preflight["Access-Control-Request-Method"] = "GET"
	s.expect(nil, "OPTIONS", "/web/k", "", preflight, 403)
	// Actual requests carry the CORS headers, errors included.
	w = s.do(root, "GET", "/web/missing", "", map[string]string{"Origin": "https://app.example"})
	if w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" || w.Header().Get("Access-Control-Expose-Headers") != "ETag" {
		t.Fatalf("actual request headers: %v", w.Header())
	}
	s.expect(root, "PUT", "/web?cors", `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>`, nil, 400)
	s.expect(root, "DELETE", "/web?cors", "", nil, 204)
	s.expect(root, "GET", "/web?cors", "", nil, 404)
}
