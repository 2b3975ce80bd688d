package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudraya/raya/gateway/s3err"
)

// errTooLarge stops a handler writing a response that cannot be delivered.
var errTooLarge = errors.New("lambdahttp: response too large for this Lambda integration")

// tooLarge returns ErrResponseTooLarge with what the client can do.
func tooLarge(size, limit int64, src Source) *s3err.Error {
	what := "The response"
	if size > 0 {
		what = fmt.Sprintf("The response of %d bytes", size)
	}
	return ErrResponseTooLarge.With(fmt.Sprintf(
		"%s exceeds the %d-byte limit of this AWS Lambda (%s) endpoint. "+
			"Ask for a byte Range of at most %d bytes, or use the Function URL (streaming) or container endpoint.",
		what, limit, src, limit))
}

// contentLength is the response's declared body length, or -1.
func contentLength(h http.Header) int64 {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// recorder is a buffered response with a size limit.
type recorder struct {
	header   http.Header
	status   int
	wrote    bool
	buf      bytes.Buffer
	limit    int64
	head     bool
	overflow bool
	size     int64
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.wrote || code < 200 {
		return
	}
	w.wrote, w.status = true, code
	if n := contentLength(w.header); !w.head && n > w.limit {
		w.overflow, w.size = true, n
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.overflow {
		return 0, errTooLarge
	}
	if int64(w.buf.Len()+len(p)) > w.limit {
		w.overflow = true
		w.buf.Reset()
		return 0, errTooLarge
	}
	return w.buf.Write(p)
}

// body returns the response body for the event response: base64 unless
// empty, since S3 bodies are bytes.
func (w *recorder) body() (string, bool) {
	if w.buf.Len() == 0 {
		return "", false
	}
	return base64.StdEncoding.EncodeToString(w.buf.Bytes()), true
}

// single flattens the headers into one value each (joined by ","), with
// Set-Cookie apart when cookies is true.
func (w *recorder) single(cookies bool) (map[string]string, []string) {
	out := make(map[string]string, len(w.header))
	var jar []string
	for k, vs := range w.header {
		if cookies && k == "Set-Cookie" {
			jar = append(jar, vs...)
			continue
		}
		out[k] = strings.Join(vs, ",")
	}
	return out, jar
}

// buffer runs the handler for r and returns the whole response, or the
// S3 error that replaces it.
func (h *Handler) buffer(ctx context.Context, src Source, r *http.Request, convErr error) *recorder {
	limit := h.opts().MaxResponseBody
	if limit <= 0 {
		limit = ResponseBodyLimit(src)
	}
	rec := &recorder{header: http.Header{}, limit: limit, head: r != nil && r.Method == http.MethodHead}
	if e := h.precheck(ctx, src, r, convErr); e != nil {
		writeError(ctx, rec, r, e, "")
		return rec
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					return
				}
				h.opts().Logger.ErrorContext(ctx, "panic in handler", "panic", p)
				rec.overflow = false
				rec.buf.Reset()
				rec.header, rec.wrote = http.Header{}, false
				writeError(ctx, rec, r, s3err.InternalError, "")
			}
		}()
		h.h.ServeHTTP(rec, r)
	}()
	if !rec.wrote {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.overflow {
		id := rec.header.Get("x-amz-request-id")
		h.opts().Logger.WarnContext(ctx, "response too large for a buffered Lambda integration",
			"source", src.String(), "request_id", id, "declared", rec.size, "limit", limit)
		out := &recorder{header: http.Header{}, limit: limit}
		writeError(ctx, out, r, tooLarge(rec.size, limit, src), id)
		return out
	}
	return rec
}

// streamWriter writes a handler's response to a Function URL response
// stream: the status and headers go first (the prelude), the body follows
// through a pipe as the handler writes it.
type streamWriter struct {
	ctx    context.Context
	src    Source
	r      *http.Request
	header http.Header
	pw     *io.PipeWriter
	limit  int64 // <0: none
	once   sync.Once
	ready  chan *events.LambdaFunctionURLStreamingResponse
	body   io.Reader
	wrote  bool
	n      int64
	failed bool // the response was replaced by an error
}

func (w *streamWriter) Header() http.Header { return w.header }

func (w *streamWriter) WriteHeader(code int) {
	if w.wrote || code < 200 {
		return
	}
	w.wrote = true
	head := w.r != nil && w.r.Method == http.MethodHead
	if n := contentLength(w.header); w.limit >= 0 && !head && n > w.limit {
		w.fail(tooLarge(n, w.limit, w.src))
		return
	}
	w.send(code, w.header)
}

// send hands the status and headers to the invocation.
func (w *streamWriter) send(code int, header http.Header) {
	w.once.Do(func() {
		resp := &events.LambdaFunctionURLStreamingResponse{StatusCode: code, Body: w.body}
		if len(header) > 0 {
			resp.Headers = make(map[string]string, len(header))
			for k, vs := range header {
				if k == "Set-Cookie" {
					resp.Cookies = append(resp.Cookies, vs...)
					continue
				}
				resp.Headers[k] = strings.Join(vs, ",")
			}
		}
		w.ready <- resp
	})
}

// fail replaces the response, before anything was sent, by an S3 error.
func (w *streamWriter) fail(e *s3err.Error) {
	w.failed = true
	rec := &recorder{header: http.Header{}, limit: 1 << 20}
	writeError(w.ctx, rec, w.r, e, w.header.Get("x-amz-request-id"))
	w.send(rec.status, rec.header)
	_, _ = w.pw.Write(rec.buf.Bytes())
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, errTooLarge
	}
	if w.limit >= 0 && w.n+int64(len(p)) > w.limit {
		return 0, errTooLarge
	}
	n, err := w.pw.Write(p)
	w.n += int64(n)
	return n, err
}

// Flush is a no-op: every Write goes to the stream at once.
func (w *streamWriter) Flush() {}

// stream runs the handler for r and returns a response whose body streams
// while the handler writes it.
func (h *Handler) stream(ctx context.Context, src Source, r *http.Request, convErr error) *events.LambdaFunctionURLStreamingResponse {
	pr, pw := io.Pipe()
	w := &streamWriter{
		ctx: ctx, src: src, r: r, header: http.Header{}, pw: pw, body: pr,
		limit: h.opts().MaxStreamBody,
		ready: make(chan *events.LambdaFunctionURLStreamingResponse, 1),
	}
	if e := h.precheck(ctx, src, r, convErr); e != nil {
		rec := &recorder{header: http.Header{}, limit: 1 << 20}
		writeError(ctx, rec, r, e, "")
		_ = pw.Close()
		return &events.LambdaFunctionURLStreamingResponse{
			StatusCode: rec.status, Headers: must(rec.single(false)), Body: bytes.NewReader(rec.buf.Bytes()),
		}
	}
	go func() {
		defer func() {
			p := recover()
			switch {
			case p == nil:
				if !w.wrote {
					w.WriteHeader(http.StatusOK)
				}
				_ = pw.Close()
			case !w.wrote:
				if p != http.ErrAbortHandler {
					h.opts().Logger.ErrorContext(ctx, "panic in handler", "panic", p)
				}
				w.header = http.Header{}
				w.fail(s3err.InternalError)
				_ = pw.Close()
			default:
				// Headers are gone: cut the stream so the client sees an
				// incomplete body, never a complete-looking one.
				_ = pw.CloseWithError(fmt.Errorf("lambdahttp: handler failed mid-response: %v", p))
			}
		}()
		h.h.ServeHTTP(w, r)
	}()
	return <-w.ready
}

func must(m map[string]string, _ []string) map[string]string { return m }
