// Package lambdatest lets real HTTP clients (an S3 SDK, a presigned URL
// fetch) talk to a Lambda function through the events AWS would deliver: a
// [Transport] turns each request the client sends, as signed, into a
// Function URL, HTTP API, REST API or ALB event the way that service
// builds it, hands the event to an invoker (the function in process, or a
// function running under the Lambda Runtime Interface Emulator), and turns
// the function's answer back into an *http.Response.
//
// The event builders model what each service is documented and observed
// to do: Function URLs, REST APIs and ALBs pass the path as the client
// escaped it, HTTP APIs decode it (and cut it at a decoded '?'); REST APIs
// decode query parameters, ALBs do not; payload 2.0 joins repeated headers
// with ",". It is for tests; it imports package testing nowhere.
package lambdatest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudraya/raya/functions/lambdahttp"
)

// Domains AWS would put in requestContext.domainName.
const (
	FunctionURLDomain = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"
	APIDomain         = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
	ALBDomain         = "raya-alb-123456789.us-east-1.elb.amazonaws.com"
	SourceIP          = "203.0.113.7"
)

// Request is a captured client request: the request as signed and its body.
type Request struct {
	*http.Request
	Body []byte
}

// Capture reads req's body so it can be put in an event.
func Capture(req *http.Request) (*Request, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	return &Request{Request: req, Body: body}, nil
}

// host is the Host header the service sees: Host when set, else the
// domain the client connected to.
func (r *Request) host(override string) string {
	if override != "" {
		return override
	}
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

// lowerHeaders returns the request's headers with lower-case names, as
// payload 2.0 and ALB deliver them, including the ones net/http keeps out
// of Header.
func (r *Request) lowerHeaders(host string) map[string][]string {
	out := map[string][]string{}
	for k, vs := range r.Header {
		out[strings.ToLower(k)] = append([]string(nil), vs...)
	}
	out["host"] = []string{host}
	if r.ContentLength > 0 || (r.ContentLength == 0 && len(r.Body) == 0 && r.Method != http.MethodGet && r.Method != http.MethodHead) {
		out["content-length"] = []string{strconv.Itoa(len(r.Body))}
	}
	if len(r.TransferEncoding) > 0 {
		out["transfer-encoding"] = []string{strings.Join(r.TransferEncoding, ",")}
	}
	if _, ok := out["user-agent"]; !ok {
		out["user-agent"] = []string{"Go-http-client/1.1"}
	}
	return out
}

func joined(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, vs := range m {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

func (r *Request) body() (string, bool) {
	if len(r.Body) == 0 {
		return "", false
	}
	return base64.StdEncoding.EncodeToString(r.Body), true
}

// FunctionURLEvent is the event a Function URL builds for r; host is the
// Host it sees (empty: the one the client sent).
func FunctionURLEvent(r *Request, host string) *events.LambdaFunctionURLRequest {
	body, b64 := r.body()
	h := r.lowerHeaders(r.host(host))
	return &events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Headers: joined(h), QueryStringParameters: firstValues(decodeQuery(r.URL.RawQuery)),
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID: "123456789012", RequestID: "fixture", APIID: "abcdefghijklmnopqrstuvwxyz012345",
			DomainName: FunctionURLDomain, DomainPrefix: "abcdefghijklmnopqrstuvwxyz012345",
			TimeEpoch: time.Now().UnixMilli(),
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.EscapedPath(), Protocol: "HTTP/1.1", SourceIP: SourceIP, UserAgent: r.UserAgent(),
			},
		},
		Body: body, IsBase64Encoded: b64,
	}
}

// HTTPAPIEvent is the event an HTTP API ($default stage) builds for r:
// rawPath decoded, and cut at a decoded '?'.
func HTTPAPIEvent(r *Request, host string) *events.APIGatewayV2HTTPRequest {
	body, b64 := r.body()
	h := r.lowerHeaders(r.host(host))
	path := r.URL.Path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return &events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: path, RawQueryString: r.URL.RawQuery,
		Headers: joined(h), QueryStringParameters: firstValues(decodeQuery(r.URL.RawQuery)),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "$default", AccountID: "123456789012", Stage: "$default", RequestID: "fixture",
			APIID: "a1b2c3d4e5", DomainName: APIDomain, DomainPrefix: "a1b2c3d4e5", TimeEpoch: time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: path, Protocol: "HTTP/1.1", SourceIP: SourceIP, UserAgent: r.UserAgent(),
			},
		},
		Body: body, IsBase64Encoded: b64,
	}
}

// RESTEvent is the event a REST API proxy integration builds for r, with
// the path escaped as sent, or decoded when decodedPath is true (services
// have been seen doing both). stage, when not empty, is the stage the
// client named first in its path (default endpoint).
func RESTEvent(r *Request, host, stage string, decodedPath bool) *events.APIGatewayProxyRequest {
	body, b64 := r.body()
	h := r.lowerHeaders(r.host(host))
	multi := map[string][]string{}
	for k, vs := range h {
		multi[http.CanonicalHeaderKey(k)] = vs
	}
	path := r.URL.EscapedPath()
	if decodedPath {
		path = r.URL.Path
	}
	full := path // requestContext.path: what the client sent
	if stage != "" {
		path = strings.TrimPrefix(path, "/"+stage)
	}
	q := decodeQuery(r.URL.RawQuery)
	ev := &events.APIGatewayProxyRequest{
		Resource: "/{proxy+}", Path: path, HTTPMethod: r.Method,
		Headers: joined(multi), MultiValueHeaders: multi,
		QueryStringParameters: firstValues(q), MultiValueQueryStringParameters: q,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: "123456789012", Stage: orDefault(stage, "prod"), DomainName: APIDomain, DomainPrefix: "a1b2c3d4e5",
			RequestID: "fixture", Protocol: "HTTP/1.1", ResourcePath: "/{proxy+}", Path: full,
			HTTPMethod: r.Method, APIID: "a1b2c3d4e5", RequestTimeEpoch: time.Now().UnixMilli(),
			Identity: events.APIGatewayRequestIdentity{SourceIP: SourceIP, UserAgent: r.UserAgent()},
		},
		Body: body, IsBase64Encoded: b64,
	}
	return ev
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ALBEvent is the event an ALB builds for r: path and query parameters as
// sent (not decoded); multi selects the target group's multi-value mode.
func ALBEvent(r *Request, host string, multi bool) *events.ALBTargetGroupRequest {
	body, b64 := r.body()
	h := r.lowerHeaders(r.host(host))
	h["x-forwarded-for"] = []string{SourceIP}
	q := rawQuery(r.URL.RawQuery)
	ev := &events.ALBTargetGroupRequest{
		HTTPMethod: r.Method, Path: r.URL.EscapedPath(),
		RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/raya/0123456789abcdef"}},
		Body:           body, IsBase64Encoded: b64,
	}
	if multi {
		ev.MultiValueHeaders, ev.MultiValueQueryStringParameters = h, q
		if ev.MultiValueQueryStringParameters == nil {
			ev.MultiValueQueryStringParameters = map[string][]string{}
		}
	} else {
		ev.Headers, ev.QueryStringParameters = joined(h), lastValues(q)
		if ev.QueryStringParameters == nil {
			ev.QueryStringParameters = map[string]string{}
		}
	}
	return ev
}

func decodeQuery(raw string) map[string][]string {
	out := map[string][]string{}
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		out[k] = append(out[k], v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func rawQuery(raw string) map[string][]string {
	out := map[string][]string{}
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		out[k] = append(out[k], v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func firstValues(m map[string][]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, vs := range m {
		out[k] = vs[0]
	}
	return out
}

func lastValues(m map[string][]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, vs := range m {
		out[k] = vs[len(vs)-1]
	}
	return out
}

// Invoker runs the function with an event and returns its raw response
// payload: JSON, or a Function URL response stream.
type Invoker func(ctx context.Context, event []byte) (io.ReadCloser, error)

// InProcess invokes a lambdahttp.Handler directly.
func InProcess(h *lambdahttp.Handler) Invoker {
	return func(ctx context.Context, event []byte) (io.ReadCloser, error) {
		out, err := h.Invoke(ctx, event)
		if err != nil {
			return nil, err
		}
		if s, ok := out.(*events.LambdaFunctionURLStreamingResponse); ok {
			return io.NopCloser(s), nil
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
}

// Transport is an http.RoundTripper that delivers each request to a
// function as an event of one source.
type Transport struct {
	Source lambdahttp.Source
	// Host is the Host header the service passes on (empty: the one the
	// client sent), e.g. FunctionURLDomain behind CloudFront.
	Host string
	// Stream is true when Function URL answers are response streams.
	Stream bool
	// DecodedRESTPath makes REST events carry a decoded path.
	DecodedRESTPath bool
	// RESTStage, when set, is a stage the client's path starts with.
	RESTStage string
	// ALBMultiValue selects the ALB's multi-value headers mode.
	ALBMultiValue bool
	Invoke        Invoker
	// Events, when set, receives each event sent.
	Events func(event []byte)
}

// Event returns the event t would send for r.
func (t *Transport) Event(r *Request) ([]byte, error) {
	var ev any
	switch t.Source {
	case lambdahttp.FunctionURL:
		ev = FunctionURLEvent(r, t.Host)
	case lambdahttp.HTTPAPI:
		ev = HTTPAPIEvent(r, t.Host)
	case lambdahttp.REST:
		ev = RESTEvent(r, t.Host, t.RESTStage, t.DecodedRESTPath)
	case lambdahttp.ALB:
		ev = ALBEvent(r, t.Host, t.ALBMultiValue)
	default:
		return nil, fmt.Errorf("lambdatest: unknown source %v", t.Source)
	}
	return json.Marshal(ev)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r, err := Capture(req)
	if err != nil {
		return nil, err
	}
	ev, err := t.Event(r)
	if err != nil {
		return nil, err
	}
	if t.Events != nil {
		t.Events(ev)
	}
	out, err := t.Invoke(req.Context(), ev)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	if t.Source == lambdahttp.FunctionURL && t.Stream {
		return ParseStream(req, out)
	}
	payload, err := io.ReadAll(out)
	if err != nil {
		return nil, err
	}
	return ParseBuffered(req, t.Source, payload)
}

// ParseStream reads a Function URL response stream: a JSON prelude, eight
// zero bytes, then the body.
func ParseStream(req *http.Request, rd io.Reader) (*http.Response, error) {
	all, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(all, make([]byte, 8))
	if i < 0 {
		return nil, fmt.Errorf("lambdatest: no prelude in the response stream: %.200q", all)
	}
	var prelude struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Cookies    []string          `json:"cookies"`
	}
	if err := json.Unmarshal(all[:i], &prelude); err != nil {
		return nil, fmt.Errorf("lambdatest: prelude: %w", err)
	}
	return response(req, prelude.StatusCode, prelude.Headers, nil, all[i+8:]), nil
}

// ParseBuffered reads a buffered JSON response of the source.
func ParseBuffered(req *http.Request, src lambdahttp.Source, payload []byte) (*http.Response, error) {
	var resp struct {
		StatusCode        int                 `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              string              `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
		ErrorMessage      string              `json:"errorMessage"`
	}
	if err := json.Unmarshal(payload, &resp); err != nil {
		return nil, fmt.Errorf("lambdatest: %s response: %w: %.200q", src, err, payload)
	}
	if resp.StatusCode == 0 {
		return nil, errors.New("lambdatest: the function failed: " + string(payload))
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	return response(req, resp.StatusCode, resp.Headers, resp.MultiValueHeaders, body), nil
}

func response(req *http.Request, code int, single map[string]string, multi map[string][]string, body []byte) *http.Response {
	h := http.Header{}
	for k, v := range single {
		h.Add(k, v)
	}
	for k, vs := range multi {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	resp := &http.Response{
		StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
	if req.Method == http.MethodHead {
		if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil {
			resp.ContentLength = n
		}
	}
	return resp
}
