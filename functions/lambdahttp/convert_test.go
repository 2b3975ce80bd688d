package lambdahttp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestEscapePath(t *testing.T) {
	tests := []struct {
		in   string
		enc  PathEncoding
		want string
		ok   bool
	}{
		{"/b/plain", PathAuto, "/b/plain", true},
		{"/b/100%25%20sure", PathAuto, "/b/100%25%20sure", true},     // escaped: kept
		{"/b/100% sure", PathAuto, "/b/100%25%20sure", true},         // decoded: escaped
		{"/b/50%", PathAuto, "/b/50%25", true},                       // bare % at the end
		{"/b/what?really#x", PathAuto, "/b/what%3Freally%23x", true}, // decoded ? and #
		{"/b/a+b=c", PathAuto, "/b/a+b=c", true},
		{"/b/double//slash", PathAuto, "/b/double//slash", true},
		{"/b/é", PathAuto, "/b/%C3%A9", true},
		{"/b/%c3%a9", PathAuto, "/b/%c3%a9", true},
		{"/b/pct%2Fslash", PathAuto, "/b/pct%2Fslash", true},
		{"/b/100% sure", PathEscaped, "", false},
		{"/b/50%", PathEscaped, "", false},
		{"/b/a%2Bb", PathEscaped, "/b/a%2Bb", true},
		{"/b/a%2Bb", PathDecoded, "/b/a%252Bb", true},
		{"/b/what?x y", PathDecoded, "/b/what%3Fx%20y", true},
		{"/b/a+b", PathDecoded, "/b/a%2Bb", true},
	}
	for _, tt := range tests {
		got, ok := escapePath(tt.in, tt.enc)
		if got != tt.want || ok != tt.ok {
			t.Errorf("escapePath(%q, %v) = %q, %v; want %q, %v", tt.in, tt.enc, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEncodeQuery(t *testing.T) {
	q := map[string][]string{
		"prefix":      {"a b+c/d"},
		"list-type":   {"2"},
		"uploads":     {""},
		"X-Amz-Date":  {"20260101T000000Z"},
		"response-cd": {"attachment; filename=\"x y.txt\""},
	}
	got := encodeQuery(q, true)
	want := "X-Amz-Date=20260101T000000Z&list-type=2&prefix=a%20b%2Bc%2Fd&response-cd=attachment%3B%20filename%3D%22x%20y.txt%22&uploads="
	if got != want {
		t.Errorf("decoded:\n got %s\nwant %s", got, want)
	}
	raw := map[string][]string{"prefix": {"a%20b"}, "k": {"1", "2"}}
	if got, want := encodeQuery(raw, false), "k=1&k=2&prefix=a%20b"; got != want {
		t.Errorf("raw: got %s want %s", got, want)
	}
}

func TestHeadersKeptWhole(t *testing.T) {
	c := NewConverter(nil)
	ev := &events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/b/k", RawQueryString: "",
		Headers: map[string]string{
			"host":             "s3.example.com",
			"x-amz-meta-note":  "hello, world",
			"cache-control":    "no-cache, no-store",
			"if-none-match":    `"a", "b"`,
			"x-amz-meta-space": "a  b",
		},
		Cookies:        []string{"a=1", "b=2"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{DomainName: "x.execute-api.us-east-1.amazonaws.com", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}},
	}
	r, err := c.HTTPAPIRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"X-Amz-Meta-Note": "hello, world", "Cache-Control": "no-cache, no-store",
		"If-None-Match": `"a", "b"`, "X-Amz-Meta-Space": "a  b", "Cookie": "a=1; b=2",
	} {
		if vs := r.Header[k]; len(vs) != 1 || vs[0] != want {
			t.Errorf("%s = %q, want one value %q", k, vs, want)
		}
	}
	if r.Host != "s3.example.com" || r.Header.Get("Host") != "" {
		t.Errorf("host %q / header %q", r.Host, r.Header.Get("Host"))
	}
}

func TestHost(t *testing.T) {
	tests := []struct {
		name, public, fwdHeader, host, domain, fwd, want string
	}{
		{"custom domain kept", "s3.example.com", "", "s3.example.com", "s3.example.com", "", "s3.example.com"},
		{"vhost kept", "s3.example.com", "", "bucket.s3.example.com", "bucket.s3.example.com", "", "bucket.s3.example.com"},
		{"function url replaced", "s3.example.com", "", "abc.lambda-url.eu-west-1.on.aws", "abc.lambda-url.eu-west-1.on.aws", "", "s3.example.com"},
		{"api default endpoint replaced", "s3.example.com:8443", "", "a1.execute-api.us-east-1.amazonaws.com", "", "", "s3.example.com:8443"},
		{"no public host: as sent", "", "", "a1.execute-api.us-east-1.amazonaws.com", "", "", "a1.execute-api.us-east-1.amazonaws.com"},
		{"no host header: domain", "", "", "", "a1.execute-api.us-east-1.amazonaws.com", "", "a1.execute-api.us-east-1.amazonaws.com"},
		{"forwarded host wins", "s3.example.com", "X-Forwarded-Host", "abc.lambda-url.eu-west-1.on.aws", "", "bkt.s3.example.com", "bkt.s3.example.com"},
		{"forwarded header absent", "s3.example.com", "X-Forwarded-Host", "abc.lambda-url.eu-west-1.on.aws", "", "", "s3.example.com"},
	}
	for _, tt := range tests {
		c := NewConverter(&Options{PublicHost: tt.public, ForwardedHostHeader: tt.fwdHeader})
		h := http.Header{}
		if tt.host != "" {
			h.Set("Host", tt.host)
		}
		if tt.fwd != "" {
			h.Set("X-Forwarded-Host", tt.fwd)
		}
		if got := c.host(h, tt.domain); got != tt.want {
			t.Errorf("%s: host = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRequestURIAndRouting(t *testing.T) {
	c := NewConverter(&Options{PathPrefix: "/v1/"})
	ev := &events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/v1/b/a%2Fb%20c", RawQueryString: "x-id=GetObject&response-content-type=text%2Fplain",
		Headers:        map[string]string{"host": "h"},
		RequestContext: events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "get", SourceIP: "198.51.100.1"}},
	}
	r, err := c.FunctionURLRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "GET" || r.RequestURI != "/v1/b/a%2Fb%20c?x-id=GetObject&response-content-type=text%2Fplain" {
		t.Errorf("method %q RequestURI %q", r.Method, r.RequestURI)
	}
	if got := r.URL.EscapedPath(); got != "/b/a%2Fb%20c" {
		t.Errorf("routing path %q", got)
	}
	if r.URL.RawQuery != "x-id=GetObject&response-content-type=text%2Fplain" || r.RemoteAddr != "198.51.100.1:0" {
		t.Errorf("query %q remote %q", r.URL.RawQuery, r.RemoteAddr)
	}
}

func TestDetectSource(t *testing.T) {
	tests := []struct {
		ev   string
		want Source
	}{
		{`{"version":"2.0","rawPath":"/","requestContext":{"domainName":"abc.lambda-url.us-east-1.on.aws","http":{"method":"GET"}}}`, FunctionURL},
		{`{"version":"2.0","rawPath":"/","requestContext":{"domainName":"a.execute-api.us-east-1.amazonaws.com","http":{"method":"GET"}}}`, HTTPAPI},
		{`{"version":"1.0","httpMethod":"GET","path":"/","requestContext":{}}`, REST},
		{`{"httpMethod":"GET","path":"/","resource":"/{proxy+}","requestContext":{"stage":"prod"}}`, REST},
		{`{"httpMethod":"GET","path":"/","requestContext":{"elb":{"targetGroupArn":"arn"}}}`, ALB},
	}
	for _, tt := range tests {
		got, err := DetectSource([]byte(tt.ev))
		if err != nil || got != tt.want {
			t.Errorf("%s: %v %v, want %v", tt.ev, got, err, tt.want)
		}
	}
	for _, bad := range []string{`{"Records":[]}`, `not json`} {
		if _, err := DetectSource([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestBadEventGetsS3Error: an event the conversion cannot turn into a
// request is answered with an S3 error, not a function error (a 502).
func TestBadEventGetsS3Error(t *testing.T) {
	h := New(http.NotFoundHandler(), &Options{PathEncoding: PathEscaped})
	ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/b/100%", Headers: map[string]string{"host": "h"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{DomainName: "a.execute-api.us-east-1.amazonaws.com", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}},
	})
	out, err := h.Invoke(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*events.APIGatewayV2HTTPResponse)
	if resp.StatusCode != 400 || resp.Headers["X-Amz-Request-Id"] == "" || !resp.IsBase64Encoded {
		t.Fatalf("%+v", resp)
	}
	b, _ := json.Marshal(resp)
	if strings.Contains(string(b), "panic") {
		t.Fatal(string(b))
	}
}

// TestPanicGetsS3Error: a handler panic becomes an InternalError, in both
// response modes.
func TestPanicGetsS3Error(t *testing.T) {
	h := New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), nil)
	ev := &events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/", Headers: map[string]string{"host": "h"},
		RequestContext: events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET"}}}
	s, _ := h.ServeFunctionURL(context.Background(), ev)
	if s.StatusCode != 500 {
		t.Errorf("stream: %d", s.StatusCode)
	}
	b, _ := h.ServeFunctionURLBuffered(context.Background(), ev)
	if b.StatusCode != 500 {
		t.Errorf("buffered: %d", b.StatusCode)
	}
}
