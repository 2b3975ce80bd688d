package lambdahttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/cloudraya/raya/gateway/s3err"
)

// Payload limits of the platform, in bytes of event or response JSON.
const (
	// InvokePayloadLimit is Lambda's limit for a synchronous invocation's
	// request and for its buffered response (6 MB).
	InvokePayloadLimit = 6 << 20
	// ALBPayloadLimit is the ALB's limit for a Lambda target's request body
	// and response JSON (1 MB).
	ALBPayloadLimit = 1_000_000
	// DefaultMaxStreamBody is the default cap on a streamed Function URL
	// response body: Lambda's response streaming limit (200 MB).
	DefaultMaxStreamBody = 200 << 20
	// responseOverhead is what a buffered response's JSON, status and
	// headers may take besides the base64 body.
	responseOverhead = 32 << 10
)

// RequestBodyLimit is the largest request body that fits an event of the
// source: binary bodies travel base64-encoded in the 6 MB event, 4/3 of
// their size; the ALB limits the body itself to 1 MB.
func RequestBodyLimit(s Source) int64 {
	if s == ALB {
		return ALBPayloadLimit
	}
	return InvokePayloadLimit * 3 / 4
}

// ResponseBodyLimit is the largest buffered response body the source
// accepts from the function (base64-encoded, with its headers).
func ResponseBodyLimit(s Source) int64 {
	if s == ALB {
		return (ALBPayloadLimit - responseOverhead) * 3 / 4
	}
	return (InvokePayloadLimit - responseOverhead) * 3 / 4
}

// ErrResponseTooLarge is the S3 error of a response too large for a
// buffered Lambda integration. Its status is a 4xx so that SDKs do not
// retry what cannot succeed; the message says what to do instead.
var ErrResponseTooLarge = &s3err.Error{
	Code:       "ResponseTooLarge",
	StatusCode: http.StatusBadRequest,
	Message:    "The response is larger than this AWS Lambda integration can return.",
}

// Options configure the transport. The zero value is usable.
type Options struct {
	// PublicHost is the host name (with :port if not default) clients sign
	// (RAYA_PUBLIC_HOST). It replaces the Host of events that carry an
	// AWS-generated domain (*.amazonaws.com, *.on.aws), such as a Function
	// URL behind CloudFront or an API used through its default endpoint by
	// clients configured with the public name. Hosts an operator chose
	// (custom domains, BUCKET.DOMAIN) are kept.
	PublicHost string
	// ForwardedHostHeader, when set, names a header (e.g. X-Forwarded-Host,
	// set by a CloudFront function) whose value, when present, is the host
	// the client signed.
	ForwardedHostHeader string
	// PathPrefix is a path prefix clients send and sign that is not part of
	// the S3 path, e.g. "/prod" for an API stage used on its default
	// endpoint. REST API stages are recognized without it.
	PathPrefix string
	// PathEncoding says how event paths are encoded (default PathAuto).
	PathEncoding PathEncoding
	// BufferedFunctionURL is true when the Function URL's InvokeMode is
	// BUFFERED; by default Function URL events get a response stream
	// (InvokeMode RESPONSE_STREAM).
	BufferedFunctionURL bool
	// MaxRequestBody and MaxResponseBody override the per-source limits
	// (RequestBodyLimit, ResponseBodyLimit) when positive.
	MaxRequestBody  int64
	MaxResponseBody int64
	// MaxStreamBody caps streamed responses (default DefaultMaxStreamBody;
	// negative for none).
	MaxStreamBody int64
	Logger        *slog.Logger
}

// Converter turns events into requests.
type Converter struct{ opts Options }

// NewConverter returns a Converter; nil options mean defaults.
func NewConverter(opts *Options) *Converter {
	c := &Converter{}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.PathPrefix != "" {
		c.opts.PathPrefix = "/" + strings.Trim(c.opts.PathPrefix, "/")
		if c.opts.PathPrefix == "/" {
			c.opts.PathPrefix = ""
		}
	}
	if c.opts.MaxStreamBody == 0 {
		c.opts.MaxStreamBody = DefaultMaxStreamBody
	}
	if c.opts.Logger == nil {
		c.opts.Logger = slog.Default()
	}
	return c
}

// Handler serves Lambda HTTP events with an http.Handler.
type Handler struct {
	conv *Converter
	h    http.Handler
}

// New returns a Handler serving h; nil options mean defaults.
func New(h http.Handler, opts *Options) *Handler {
	return &Handler{conv: NewConverter(opts), h: h}
}

func (h *Handler) opts() *Options { return &h.conv.opts }

// probe is just enough of an event to tell its source.
type probe struct {
	Version        string `json:"version"`
	HTTPMethod     string `json:"httpMethod"`
	RequestContext struct {
		ELB        *json.RawMessage `json:"elb"`
		DomainName string           `json:"domainName"`
	} `json:"requestContext"`
}

// DetectSource tells which source an event comes from.
func DetectSource(payload []byte) (Source, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return 0, fmt.Errorf("lambdahttp: the event is not JSON: %w", err)
	}
	switch {
	case p.RequestContext.ELB != nil:
		return ALB, nil
	case p.Version == "2.0":
		if strings.Contains(p.RequestContext.DomainName, ".lambda-url.") {
			return FunctionURL, nil
		}
		return HTTPAPI, nil
	case p.HTTPMethod != "":
		return REST, nil
	}
	return 0, errors.New("lambdahttp: not an HTTP event (Function URL, API Gateway or ALB)")
}

// Invoke is the Lambda handler for every supported event source: pass it
// to lambda.Start. It returns the source's response type; for Function URL
// events (unless BufferedFunctionURL) a response stream.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	src, err := DetectSource(payload)
	if err != nil {
		return nil, err
	}
	switch src {
	case FunctionURL:
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		if h.opts().BufferedFunctionURL {
			return h.ServeFunctionURLBuffered(ctx, &ev)
		}
		return h.ServeFunctionURL(ctx, &ev)
	case HTTPAPI:
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		return h.ServeHTTPAPI(ctx, &ev)
	case REST:
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		return h.ServeREST(ctx, &ev)
	default:
		var ev events.ALBTargetGroupRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		return h.ServeALB(ctx, &ev)
	}
}

// ServeFunctionURL serves a Function URL event with a streamed response
// (InvokeMode RESPONSE_STREAM).
func (h *Handler) ServeFunctionURL(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLStreamingResponse, error) {
	r, err := h.conv.FunctionURLRequest(ctx, ev)
	return h.stream(ctx, FunctionURL, r, err), nil
}

// ServeFunctionURLBuffered serves a Function URL event with a buffered
// response (InvokeMode BUFFERED).
func (h *Handler) ServeFunctionURLBuffered(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLResponse, error) {
	r, err := h.conv.FunctionURLRequest(ctx, ev)
	rec := h.buffer(ctx, FunctionURL, r, err)
	headers, cookies := rec.single(true)
	body, b64 := rec.body()
	return &events.LambdaFunctionURLResponse{StatusCode: rec.status, Headers: headers, Cookies: cookies, Body: body, IsBase64Encoded: b64}, nil
}

// ServeHTTPAPI serves an API Gateway HTTP API (payload 2.0) event.
func (h *Handler) ServeHTTPAPI(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*events.APIGatewayV2HTTPResponse, error) {
	r, err := h.conv.HTTPAPIRequest(ctx, ev)
	rec := h.buffer(ctx, HTTPAPI, r, err)
	headers, cookies := rec.single(true)
	body, b64 := rec.body()
	return &events.APIGatewayV2HTTPResponse{StatusCode: rec.status, Headers: headers, Cookies: cookies, Body: body, IsBase64Encoded: b64}, nil
}

// ServeREST serves an API Gateway REST API (payload 1.0) event. The API
// must treat every media type as binary (binaryMediaTypes "*/*").
func (h *Handler) ServeREST(ctx context.Context, ev *events.APIGatewayProxyRequest) (*events.APIGatewayProxyResponse, error) {
	r, err := h.conv.RESTRequest(ctx, ev)
	rec := h.buffer(ctx, REST, r, err)
	body, b64 := rec.body()
	return &events.APIGatewayProxyResponse{StatusCode: rec.status, MultiValueHeaders: rec.header, Body: body, IsBase64Encoded: b64}, nil
}

// ServeALB serves an ALB event, answering with multi-value headers when
// the target group sends them.
func (h *Handler) ServeALB(ctx context.Context, ev *events.ALBTargetGroupRequest) (*events.ALBTargetGroupResponse, error) {
	r, err := h.conv.ALBRequest(ctx, ev)
	rec := h.buffer(ctx, ALB, r, err)
	body, b64 := rec.body()
	resp := &events.ALBTargetGroupResponse{
		StatusCode:        rec.status,
		StatusDescription: fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		Body:              body, IsBase64Encoded: b64,
	}
	if len(ev.MultiValueHeaders) > 0 {
		resp.MultiValueHeaders = rec.header
	} else {
		resp.Headers, _ = rec.single(false)
	}
	return resp, nil
}

// precheck answers what the handler must not see: an event that made no
// request, and a body over the limit.
func (h *Handler) precheck(ctx context.Context, src Source, r *http.Request, convErr error) *s3err.Error {
	if convErr != nil {
		h.opts().Logger.WarnContext(ctx, "lambda event rejected", "source", src.String(), "err", convErr)
		if errors.Is(convErr, errInvalidURI) {
			return s3err.InvalidURI
		}
		return s3err.InvalidRequest.With("The request could not be read from the Lambda event.")
	}
	limit := h.opts().MaxRequestBody
	if limit <= 0 {
		limit = RequestBodyLimit(src)
	}
	if n := declaredLength(r); n > limit {
		return s3err.EntityTooLarge.With(fmt.Sprintf(
			"Your upload of %d bytes exceeds the %d-byte request body limit of this AWS Lambda (%s) endpoint. "+
				"Send large objects to the container endpoint (raya serve); see the deployment guide.", n, limit, src))
	}
	return nil
}

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return strings.ToUpper(strings.ReplaceAll(lc.AwsRequestID, "-", ""))
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// writeError renders an S3 error with a request ID and the headers the S3
// handler sets on its own errors.
func writeError(ctx context.Context, w http.ResponseWriter, r *http.Request, e *s3err.Error, id string) {
	if id == "" {
		id = requestID(ctx)
	}
	w.Header().Set("x-amz-request-id", id)
	w.Header().Set("x-amz-id-2", id)
	w.Header().Set("Server", "Raya")
	s3err.Write(w, r, e, id)
}
