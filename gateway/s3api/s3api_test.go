package s3api

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/fsbackend"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/boltstore"
	"github.com/cloudraya/raya/gateway/sigv4"
)

func TestRoute(t *testing.T) {
	h := &Handler{opts: Options{Domains: []string{"s3.example.com"}}}
	for _, tc := range []struct {
		host, target string
		bucket, key  string
		vhost        bool
	}{
		{"127.0.0.1:9000", "/", "", "", false},
		{"127.0.0.1:9000", "/photos", "photos", "", false},
		{"127.0.0.1:9000", "/photos/", "photos", "", false},
		{"127.0.0.1:9000", "/photos/a//b", "photos", "a//b", false},
		{"127.0.0.1:9000", "/photos/./x/../y", "photos", "./x/../y", false},
		{"127.0.0.1:9000", "/photos/a%2Fb", "photos", "a/b", false},
		{"127.0.0.1:9000", "/photos/a+b%20c", "photos", "a+b c", false},
		{"127.0.0.1:9000", "/photos/100%25", "photos", "100%", false},
		{"127.0.0.1:9000", "/photos/dir/", "photos", "dir/", false},
		{"photos.s3.example.com", "/a//b", "photos", "a//b", true},
		{"photos.s3.example.com:443", "/", "photos", "", true},
		{"s3.example.com", "/photos/k", "photos", "k", false},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		r.Host = tc.host
		b, k, v, err := h.route(r)
		if err != nil || b != tc.bucket || k != tc.key || v != tc.vhost {
			t.Errorf("%s%s: got %q %q %v %v, want %q %q %v", tc.host, tc.target, b, k, v, err, tc.bucket, tc.key, tc.vhost)
		}
	}
}

func TestS3URLEncode(t *testing.T) {
	for in, want := range map[string]string{
		"a b+c": "a%20b%2Bc", "dir/ü": "dir/%C3%BC", "100%": "100%25", "a~b-c_d.e": "a~b-c_d.e",
	} {
		if got := s3URLEncode(in); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}

func TestParseQueryKeepsEmptyValues(t *testing.T) {
	q, err := parseQuery("uploads&prefix=a%20b&x=1&x=2")
	if err != nil || len(q["uploads"]) != 1 || q["prefix"][0] != "a b" || len(q["x"]) != 2 {
		t.Fatalf("%v %v", q, err)
	}
	if _, err := parseQuery("a=%zz"); err == nil {
		t.Fatal("bad escape accepted")
	}
}

// testServer is an in-process handler over real stores in a temp folder.
type testServer struct {
	t     *testing.T
	h     *Handler
	store meta.Store
	root  sigv4.Credentials
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	dir := t.TempDir()
	store, err := boltstore.Open(dir+"/meta.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fs, err := fsbackend.New(context.Background(), dir+"/objects", &fsbackend.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	root := sigv4.Credentials{AccessKeyID: "ROOTKEYEXAMPLE000001", SecretAccessKey: "rootsecret"}
	ctx := context.Background()
	if err := store.CreateAccount(ctx, meta.Account{ID: strings.Repeat("a", 64), DisplayName: "root"}); err != nil {
		t.Fatal(err)
	}
	if err := store.PutKey(ctx, meta.Key{AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey, Account: strings.Repeat("a", 64), Root: true, Status: meta.KeyActive}); err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Store: store, Backends: map[string]backends.Backend{"local": fs},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{t: t, h: h, store: store, root: root}
}

// do sends a request signed by the root key (or anonymous when creds is nil).
func (s *testServer) do(creds *sigv4.Credentials, method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
	s.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = "127.0.0.1:9000"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if creds != nil {
		if err := sigv4.SignRequest(r, "UNSIGNED-PAYLOAD", *creds, "us-east-1", "s3", time.Now()); err != nil {
			s.t.Fatal(err)
		}
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct {
		Code      string
		RequestID string `xml:"RequestId"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("status %d, body %q is not an S3 error", w.Code, w.Body.String())
	}
	if e.RequestID == "" || e.RequestID != w.Header().Get("x-amz-request-id") {
		t.Errorf("request id %q vs header %q", e.RequestID, w.Header().Get("x-amz-request-id"))
	}
	return e.Code
}

func TestErrors(t *testing.T) {
	s := newTestServer(t)
	root := &s.root
	if w := s.do(root, "PUT", "/photos", "", nil); w.Code != 200 {
		t.Fatalf("create bucket: %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct {
		name           string
		creds          *sigv4.Credentials
		method, target string
		body           string
		hdr            map[string]string
		status         int
		code           string
	}{
		{"anonymous", nil, "GET", "/photos/x", "", nil, 403, "AccessDenied"},
		{"bad secret", &sigv4.Credentials{AccessKeyID: root.AccessKeyID, SecretAccessKey: "nope"}, "GET", "/photos", "", nil, 403, "SignatureDoesNotMatch"},
		{"unknown key", &sigv4.Credentials{AccessKeyID: "NOSUCHKEY", SecretAccessKey: "x"}, "GET", "/photos", "", nil, 403, "InvalidAccessKeyId"},
		{"no bucket", root, "GET", "/nosuch", "", nil, 404, "NoSuchBucket"},
		{"no key", root, "GET", "/photos/missing", "", nil, 404, "NoSuchKey"},
		{"bad bucket name", root, "PUT", "/Bad_Name", "", nil, 400, "InvalidBucketName"},
		{"reserved name", root, "PUT", "/healthz", "", nil, 400, "InvalidBucketName"},
		{"owned", root, "PUT", "/photos", "", nil, 409, "BucketAlreadyOwnedByYou"},
		{"tagging", root, "PUT", "/photos?tagging", "<Tagging/>", nil, 501, "NotImplemented"},
		{"no tag set", root, "GET", "/photos?tagging", "", nil, 404, "NoSuchTagSet"},
		{"no policy", root, "GET", "/photos?policy", "", nil, 404, "NoSuchBucketPolicy"},
		{"lifecycle", root, "PUT", "/photos?lifecycle", "<LifecycleConfiguration/>", nil, 501, "NotImplemented"},
		{"policy", root, "PUT", "/photos?policy", "{}", nil, 501, "NotImplemented"},
		{"bad canned acl", root, "PUT", "/photos/k", "x", map[string]string{"x-amz-acl": "public-everything"}, 400, "InvalidArgument"},
		{"email grantee", root, "PUT", "/photos/k", "x", map[string]string{"x-amz-grant-read": `emailAddress="a@example.com"`}, 400, "UnresolvableGrantByEmailAddress"},
		{"unknown grantee id", root, "PUT", "/photos/k", "x", map[string]string{"x-amz-grant-read": `id="` + strings.Repeat("f", 64) + `"`}, 400, "InvalidArgument"},
		{"acl and grants", root, "PUT", "/photos/k", "x", map[string]string{"x-amz-acl": "private", "x-amz-grant-read": `uri="` + meta.AllUsers + `"`}, 400, "InvalidRequest"},
		{"bad md5", root, "PUT", "/photos/k", "x", map[string]string{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, 400, "BadDigest"},
		{"invalid md5", root, "PUT", "/photos/k", "x", map[string]string{"Content-MD5": "nope"}, 400, "InvalidDigest"},
		{"long key", root, "PUT", "/photos/" + strings.Repeat("k", 1025), "x", nil, 400, "KeyTooLongError"},
		{"delete without digest", root, "POST", "/photos?delete", "<Delete><Object><Key>a</Key></Object></Delete>", nil, 400, "InvalidRequest"},
		{"no upload", root, "PUT", "/photos/k?partNumber=1&uploadId=nope", "x", nil, 404, "NoSuchUpload"},
		{"bad part number", root, "PUT", "/photos/k?partNumber=0&uploadId=nope", "x", nil, 400, "InvalidArgument"},
		{"method", root, "DELETE", "/", "", nil, 405, "MethodNotAllowed"},
		{"bad token", root, "GET", "/photos?list-type=2&continuation-token=%%%", "", nil, 400, "InvalidArgument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := s.do(tc.creds, tc.method, tc.target, tc.body, tc.hdr)
			if w.Code != tc.status || errorCode(t, w) != tc.code {
				t.Errorf("got %d %s, want %d %s", w.Code, w.Body, tc.status, tc.code)
			}
		})
	}
	// Nothing was stored by the failed PUTs.
	if w := s.do(root, "GET", "/photos/k", "", nil); w.Code != 404 {
		t.Errorf("failed PUT left an object: %d", w.Code)
	}
}

func TestAwkwardKeysRoundTripAndList(t *testing.T) {
	s := newTestServer(t)
	root := &s.root
	s.do(root, "PUT", "/keys", "", nil)
	keys := map[string]string{ // key -> escaped path
		"a//b": "a//b", "./x": "./x", "../y": "../y", "dir/": "dir/", "100%": "100%25",
		"a+b c": "a+b%20c", "ü/é": "%C3%BC/%C3%A9", "a": "a", "a/b": "a/b", "a/": "a/",
	}
	for k, p := range keys {
		if w := s.do(root, "PUT", "/keys/"+p, "body of "+k, nil); w.Code != 200 {
			t.Fatalf("put %q: %d %s", k, w.Code, w.Body)
		}
	}
	for k, p := range keys {
		w := s.do(root, "GET", "/keys/"+p, "", nil)
		if w.Code != 200 || w.Body.String() != "body of "+k {
			t.Errorf("get %q: %d %q", k, w.Code, w.Body)
		}
	}
	w := s.do(root, "GET", "/keys?list-type=2&encoding-type=url", "", nil)
	var res struct {
		KeyCount int
		Contents []struct{ Key string }
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for k := range keys {
		want = append(want, s3URLEncode(k))
	}
	sort.Slice(want, func(i, j int) bool { return unesc(want[i]) < unesc(want[j]) })
	for _, c := range res.Contents {
		got = append(got, c.Key)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") || res.KeyCount != len(keys) {
		t.Errorf("listing order:\n got %v\nwant %v", got, want)
	}
	// delimiter listing
	w = s.do(root, "GET", "/keys?list-type=2&delimiter=/", "", nil)
	var d struct {
		Contents       []struct{ Key string }
		CommonPrefixes []struct{ Prefix string }
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for _, p := range d.CommonPrefixes {
		prefixes = append(prefixes, p.Prefix)
	}
	if strings.Join(prefixes, "|") != "../|./|a/|dir/|ü/" {
		t.Errorf("common prefixes %v", prefixes)
	}
}

func unesc(s string) string {
	r := strings.NewReplacer("%20", " ", "%2B", "+", "%25", "%", "%C3%BC", "ü", "%C3%A9", "é")
	return r.Replace(s)
}

func TestHealth(t *testing.T) {
	s := newTestServer(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		w := s.do(nil, "GET", p, "", nil)
		if w.Code != 200 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
	w := s.do(nil, "GET", "/", "", nil)
	if w.Code != 403 {
		t.Errorf("anonymous ListBuckets: %d", w.Code)
	}
	_, _ = io.Copy(io.Discard, w.Body)
	_ = http.StatusOK
}

func TestMetrics(t *testing.T) {
	s := newTestServer(t)
	reg := prometheus.NewRegistry()
	s.h.opts.Metrics = NewMetrics(reg)
	s.h.opts.MetricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	s.expect(&s.root, "PUT", "/mbucket", "", nil, 200)
	s.expect(&s.root, "GET", "/mbucket/missing", "", nil, 404)
	body := s.expect(nil, "GET", "/metrics", "", nil, 200)
	for _, want := range []string{
		`raya_http_requests_total{code="200",operation="CreateBucket"} 1`,
		`raya_http_requests_total{code="404",operation="GetObject"} 1`,
		`raya_http_request_duration_seconds_count{operation="GetObject"} 1`,
		`raya_meta_errors_total 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
}

func TestListObjectVersions(t *testing.T) {
	s := newTestServer(t)
	s.expect(&s.root, "PUT", "/versions", "", nil, 200)
	for _, k := range []string{"a", "b/c", "d"} {
		s.expect(&s.root, "PUT", "/versions/"+k, "x", nil, 200)
	}
	body := s.expect(&s.root, "GET", "/versions?versions&max-keys=2&delimiter=/", "", nil, 200)
	for _, want := range []string{"<ListVersionsResult", "<Key>a</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>",
		"<Prefix>b/</Prefix>", "<IsTruncated>true</IsTruncated>", "<NextKeyMarker>b/</NextKeyMarker>"} {
		if !strings.Contains(body, want) {
			t.Errorf("lacks %s: %s", want, body)
		}
	}
	body = s.expect(&s.root, "GET", "/versions?versions&key-marker=b/&delimiter=/", "", nil, 200)
	if !strings.Contains(body, "<Key>d</Key>") || strings.Contains(body, "<Key>a</Key>") {
		t.Errorf("second page: %s", body)
	}
	s.expect(&s.root, "DELETE", "/versions/d?versionId=null", "", nil, 204)
	s.expect(&s.root, "GET", "/versions/d", "", nil, 404)
	s.expect(&s.root, "DELETE", "/versions/a?versionId=3HL4kqtJlcpXroDTDmJ", "", nil, 501)
}
