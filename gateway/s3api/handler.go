// Package s3api is Raya's S3 endpoint: one http.Handler that routes on the
// raw path and the Host header (path-style and virtual-hosted-style),
// authenticates with package sigv4, authorizes with package authz, and runs
// one handler per S3 operation over the metadata store and the backends.
// Every error is rendered once, by package s3err.
package s3api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/admin"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/s3err"
	"github.com/cloudraya/raya/gateway/sigv4"
)

// Options configure the handler. Store and Backends are required.
type Options struct {
	Store meta.Store
	// Backends by name; buckets name theirs at creation.
	Backends map[string]backends.Backend
	// DefaultBackend is used when CreateBucket names none.
	DefaultBackend string
	// Region is reported by GetBucketLocation and accepted as a
	// LocationConstraint (default us-east-1).
	Region string
	// Domains enable virtual-hosted-style requests: BUCKET.DOMAIN.
	Domains []string
	// BlockPublicAccess is the deployment-wide public-access guard: public
	// grants are refused and existing ones ignored.
	BlockPublicAccess bool
	// Admin, when set, serves /_raya/admin/ for the root key.
	Admin http.Handler
	// Metrics, when set, count requests by operation and status.
	Metrics *Metrics
	// MetricsHandler, when set, serves /metrics (unauthenticated, like
	// the health probes).
	MetricsHandler http.Handler
	// Ready reports readiness for /readyz (nil: always ready).
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	Now    func() time.Time
}

// Handler is the S3 endpoint.
type Handler struct {
	opts Options
	log  *slog.Logger
	// touched remembers when this instance last recorded each key's use.
	touched sync.Map // access key ID -> time.Time
}

// touchInterval is how coarse a key's last-used time is: at most one
// write per key per interval.
const touchInterval = time.Minute

// touch records the caller's key use, at most once per touchInterval, off
// the request's path.
func (h *Handler) touch(k *meta.Key) {
	now := h.opts.Now()
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < touchInterval {
		return
	}
	if last, ok := h.touched.Load(k.AccessKeyID); ok && now.Sub(last.(time.Time)) < touchInterval {
		return
	}
	h.touched.Store(k.AccessKeyID, now)
	go func(id string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.opts.Store.TouchKey(ctx, id, now); err != nil && !errors.Is(err, meta.ErrNotFound) {
			h.log.Warn("recording key use", "access_key", id, "err", err)
			h.touched.Delete(id)
		}
	}(k.AccessKeyID)
}

// New returns the S3 handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil || len(opts.Backends) == 0 {
		return nil, errors.New("s3api: a metadata store and at least one backend are required")
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.DefaultBackend == "" {
		for name := range opts.Backends {
			opts.DefaultBackend = name
			break
		}
	}
	if _, ok := opts.Backends[opts.DefaultBackend]; !ok {
		return nil, errors.New("s3api: default backend " + opts.DefaultBackend + " is not configured")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{opts: opts, log: opts.Logger}, nil
}

// request is everything a handler of one S3 operation needs.
type request struct {
	w       http.ResponseWriter
	r       *http.Request
	id      string
	bucket  string
	key     string
	query   map[string][]string
	auth    *sigv4.Result
	caller  *meta.Key // nil for anonymous
	op      string    // the S3 operation, for logs and metrics
	started time.Time
	log     *slog.Logger
}

// has reports whether the query has a parameter (with any value).
func (q *request) has(name string) bool { _, ok := q.query[name]; return ok }

// get returns a query parameter's first value.
func (q *request) get(name string) string {
	if v := q.query[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ReadFrom keeps the server's fast path (sendfile from a local file) for
// bodies copied with io.Copy.
func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := io.Copy(s.ResponseWriter, r)
	s.bytes += n
	return n, err
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	id := newRequestID()
	sw := &statusWriter{ResponseWriter: rw}
	w := http.ResponseWriter(sw)
	w.Header().Set("x-amz-request-id", id)
	w.Header().Set("x-amz-id-2", id)
	w.Header().Set("Server", "Raya")
	// Go's server sends 100 Continue only when a body is read; an empty
	// body is never read, and botocore then mistakes the final response of
	// the next request on the connection for this one's. Answer as S3 does.
	if r.ContentLength == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") && r.ProtoAtLeast(1, 1) {
		rw.WriteHeader(http.StatusContinue)
	}
	q := &request{w: w, r: r, id: id, started: h.opts.Now(), log: h.log.With("request_id", id)}
	h.opts.Metrics.begin()
	var err error
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			q.log.Error("panic", "panic", p)
			if sw.status == 0 {
				h.writeError(q, s3err.InternalError)
			}
		}
		took := time.Since(q.started)
		h.opts.Metrics.observe(q.op, sw.status, took, err)
		q.log.Info("request", "op", q.op, "method", r.Method, "bucket", q.bucket, "key", q.key,
			"status", sw.status, "bytes", sw.bytes, "remote", r.RemoteAddr,
			"duration_ms", took.Milliseconds())
	}()
	if err = h.serve(q); err != nil && !errors.Is(err, errHandled) {
		h.writeError(q, h.classify(q, err))
	}
}

// serve routes one request; a returned error is rendered by ServeHTTP.
func (h *Handler) serve(q *request) error {
	r := q.r
	query, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return s3err.InvalidArgument.With("The query string is malformed.")
	}
	q.query = query
	bucket, key, vhost, err := h.route(r)
	if err != nil {
		return err
	}
	q.bucket, q.key = bucket, key

	// Fixed endpoints: health probes (unauthenticated, path-style only).
	if !vhost && len(query) == 0 && r.Header.Get("Authorization") == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		switch r.URL.EscapedPath() {
		case "/healthz":
			_, _ = io.WriteString(q.w, "ok\n")
			return nil
		case "/metrics":
			if h.opts.MetricsHandler != nil {
				h.opts.MetricsHandler.ServeHTTP(q.w, r)
				return nil
			}
		case "/readyz":
			if h.opts.Ready != nil {
				if err := h.opts.Ready(r.Context()); err != nil {
					return s3err.ServiceUnavailable.With("not ready")
				}
			}
			_, _ = io.WriteString(q.w, "ready\n")
			return nil
		}
	}

	v2Resource := r.URL.EscapedPath()
	if vhost {
		v2Resource = "/" + bucket + v2Resource
	}
	if r.Method == http.MethodOptions {
		return h.preflight(q)
	}
	h.corsActual(q)
	if isPostObject(q) {
		return h.postObject(q)
	}
	if err := h.authenticate(q, v2Resource); err != nil {
		return err
	}
	if !vhost && bucket == adminBucket {
		return h.serveAdmin(q)
	}
	return h.dispatch(q)
}

// adminBucket is the first path segment of the admin API; it can never be
// a bucket name (underscores are not allowed).
const adminBucket = "_raya"

func (h *Handler) serveAdmin(q *request) error {
	if h.opts.Admin == nil || q.caller == nil || !q.caller.Root {
		return s3err.AccessDenied
	}
	r := q.r.WithContext(admin.WithCaller(q.r.Context(), q.caller.AccessKeyID))
	r.Body = q.auth.Body
	h.opts.Admin.ServeHTTP(q.w, r)
	return nil
}

// authenticate verifies the request's signature and loads the caller.
func (h *Handler) authenticate(q *request, v2Resource string) error {
	v := &sigv4.Verifier{Now: h.opts.Now, Lookup: h.lookupKey(q)}
	res, err := v.Verify(q.r, v2Resource)
	if err != nil {
		q.caller = nil
		return err
	}
	q.auth = res
	if res.Anonymous {
		q.caller = nil
	}
	if q.caller != nil {
		h.touch(q.caller)
	}
	return nil
}

// classify maps any error to the S3 error to render.
func (h *Handler) classify(q *request, err error) *s3err.Error {
	var se *s3err.Error
	if errors.As(err, &se) {
		return se
	}
	var ae *sigv4.Error
	if errors.As(err, &ae) {
		return s3err.FromCode(ae.Code, ae.Message)
	}
	switch {
	case errors.Is(err, backends.ErrNotFound):
		return s3err.NoSuchKey
	case errors.Is(err, backends.ErrBucketNotFound):
		return s3err.NoSuchBucket
	case errors.Is(err, backends.ErrBucketNotEmpty):
		return s3err.BucketNotEmpty
	case errors.Is(err, backends.ErrUploadNotFound):
		return s3err.NoSuchUpload
	case errors.Is(err, backends.ErrPartNotFound):
		return s3err.InvalidPart
	case errors.Is(err, backends.ErrInvalidRange):
		return s3err.InvalidRange
	case errors.Is(err, backends.ErrInvalidKey):
		return s3err.InvalidObjectName
	case errors.Is(err, io.ErrUnexpectedEOF):
		return s3err.IncompleteBody
	case errors.Is(err, backends.ErrUnavailable):
		e := *s3err.ServiceUnavailable
		e.RetryAfter = 1
		return &e
	case errors.Is(err, context.Canceled) && q.r.Context().Err() != nil:
		return s3err.RequestTimeout.With("The client went away before the request completed.")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return s3err.RequestTimeout
	}
	q.log.Error("internal error", "err", err)
	return s3err.InternalError
}

// maxDrain bounds how much of an unread request body is read before an
// error response, so clients that stream without Expect: 100-continue see
// the S3 error rather than a reset connection.
const maxDrain = 64 << 20

func (h *Handler) writeError(q *request, e *s3err.Error) {
	if e.Resource == "" {
		e2 := *e
		e2.Resource = q.r.URL.EscapedPath()
		if e2.BucketName == "" && q.bucket != "" && (e.Code == "NoSuchBucket" || e.Code == "BucketNotEmpty" || e.Code == "BucketAlreadyExists" || e.Code == "BucketAlreadyOwnedByYou") {
			e2.BucketName = q.bucket
		}
		if e2.Key == "" && q.key != "" && e.Code == "NoSuchKey" {
			e2.Key = q.key
		}
		e = &e2
	}
	if e.StatusCode >= 500 && e.RetryAfter == 0 && e.Code == "ServiceUnavailable" {
		e.RetryAfter = 1
	}
	r := q.r
	if r.Body != nil && r.Body != http.NoBody && (r.Method == http.MethodPut || r.Method == http.MethodPost) &&
		!strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		_, _ = io.CopyN(io.Discard, r.Body, maxDrain)
	}
	s3err.Write(q.w, r, e, q.id)
}
