package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
)

// Options configure the admin handler. A nil *Options means defaults.
type Options struct {
	// Logger receives the audit log (one record per change) and internal
	// errors. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock for created-at times and audit records. Default:
	// time.Now.
	Now func() time.Time
}

// maxBodyBytes bounds a request body; admin bodies are tiny.
const maxBodyBytes = 64 << 10

type handler struct {
	store meta.Store
	log   *slog.Logger
	now   func() time.Time
	mux   *http.ServeMux
}

// NewHandler returns the admin API handler over store. It expects full paths
// under PathPrefix and a caller set with WithCaller (see the package
// documentation).
func NewHandler(store meta.Store, opts *Options) http.Handler {
	h := &handler{store: store, log: slog.Default(), now: time.Now, mux: http.NewServeMux()}
	if opts != nil {
		if opts.Logger != nil {
			h.log = opts.Logger
		}
		if opts.Now != nil {
			h.now = opts.Now
		}
	}
	routes := []struct {
		path    string
		methods map[string]func(http.ResponseWriter, *http.Request) error
	}{
		{apiPrefix + "/buckets", map[string]func(http.ResponseWriter, *http.Request) error{
			http.MethodGet: h.listBuckets,
		}},
		{apiPrefix + "/accounts", map[string]func(http.ResponseWriter, *http.Request) error{
			http.MethodGet: h.listAccounts,
		}},
		{apiPrefix + "/keys", map[string]func(http.ResponseWriter, *http.Request) error{
			http.MethodGet:  h.listKeys,
			http.MethodPost: h.createKey,
		}},
		{apiPrefix + "/keys/{id}", map[string]func(http.ResponseWriter, *http.Request) error{
			http.MethodDelete: h.deleteKey,
		}},
	}
	for _, rt := range routes {
		var allow []string
		for m, fn := range rt.methods {
			h.mux.Handle(m+" "+rt.path, h.wrap(fn))
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
		slices.Sort(allow)
		// A pattern without a method is less specific: it catches the
		// other methods so they get a JSON 405 instead of ServeMux's text.
		h.mux.Handle(rt.path, h.wrap(func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return &Error{StatusCode: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: fmt.Sprintf("%s is not allowed on %s", r.Method, rt.path)}
		}))
	}
	h.mux.Handle("/", h.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return &Error{StatusCode: http.StatusNotFound, Code: CodeNotFound, Message: "no admin endpoint at this path"}
	}))
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if CallerFrom(r.Context()) == "" {
		h.log.ErrorContext(r.Context(), "admin: request without an authenticated caller refused; mount the admin handler behind authentication and admin.WithCaller",
			"method", r.Method, "path", r.URL.Path)
		h.writeError(w, r, &Error{StatusCode: http.StatusForbidden, Code: CodeAccessDenied, Message: "admin requests must be authenticated with the root key"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// wrap turns a handler that returns an error into an http.Handler; the error
// is rendered in one place, writeError.
func (h *handler) wrap(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// writeError renders err as a JSON error. Errors that are not *Error are
// internal: they are logged and answered with a generic message.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		h.log.ErrorContext(r.Context(), "admin: internal error", "method", r.Method, "path", r.URL.Path,
			"caller", CallerFrom(r.Context()), "err", err)
		e = &Error{StatusCode: http.StatusInternalServerError, Code: CodeInternalError, Message: "internal error"}
	}
	status := e.StatusCode
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, errorBody{Error: &Error{Code: e.Code, Message: e.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only our own types are marshalled; cannot happen
		http.Error(w, `{"error":{"code":"InternalError","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func notFound(format string, args ...any) *Error {
	return &Error{StatusCode: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *Error {
	return &Error{StatusCode: http.StatusBadRequest, Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

func (h *handler) listBuckets(w http.ResponseWriter, r *http.Request) error {
	bs, err := h.store.ListBuckets(r.Context())
	if err != nil {
		return fmt.Errorf("listing buckets: %w", err)
	}
	if bs == nil {
		bs = []meta.Bucket{}
	}
	writeJSON(w, http.StatusOK, bs)
	return nil
}

func (h *handler) listAccounts(w http.ResponseWriter, r *http.Request) error {
	as, err := h.store.ListAccounts(r.Context())
	if err != nil {
		return fmt.Errorf("listing accounts: %w", err)
	}
	if as == nil {
		as = []meta.Account{}
	}
	writeJSON(w, http.StatusOK, as)
	return nil
}

// keyView is a key as listed: meta.Key without its secret.
type keyView struct {
	AccessKeyID string     `json:"accessKeyId"`
	Account     string     `json:"account"`
	Bucket      string     `json:"bucket,omitempty"`
	Root        bool       `json:"root,omitempty"`
	Label       string     `json:"label,omitempty"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"createdAt"`
	LastUsedAt  *time.Time `json:"lastUsedAt,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
}

func viewOf(k meta.Key) keyView {
	return keyView{AccessKeyID: k.AccessKeyID, Account: k.Account, Bucket: k.Bucket, Root: k.Root,
		Label: k.Label, Status: k.Status, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt}
}

func (h *handler) listKeys(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ks, err := h.store.ListKeys(r.Context(), meta.KeyFilter{Bucket: q.Get("bucket"), Account: q.Get("account")})
	if err != nil {
		return fmt.Errorf("listing keys: %w", err)
	}
	out := make([]keyView, 0, len(ks))
	for _, k := range ks {
		out = append(out, viewOf(k))
	}
	slices.SortFunc(out, func(a, b keyView) int { return strings.Compare(a.AccessKeyID, b.AccessKeyID) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) createKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req CreateKeyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return invalid("malformed request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("malformed request body: trailing data after the JSON object")
	}
	now := h.now().UTC()
	k := meta.Key{Label: req.Label, Status: meta.KeyActive, CreatedAt: now}
	switch {
	case req.Bucket != "":
		b, err := h.store.GetBucket(ctx, req.Bucket)
		if errors.Is(err, meta.ErrNotFound) {
			return notFound("bucket %q does not exist", req.Bucket)
		}
		if err != nil {
			return fmt.Errorf("getting bucket %q: %w", req.Bucket, err)
		}
		if req.Account != "" && req.Account != b.Owner {
			return invalid("bucket %q is not owned by account %q; omit account to use the bucket's owner", req.Bucket, req.Account)
		}
		k.Bucket, k.Account = b.Name, b.Owner
	case req.Account != "":
		a, err := h.store.GetAccount(ctx, req.Account)
		if errors.Is(err, meta.ErrNotFound) {
			return notFound("account %q does not exist", req.Account)
		}
		if err != nil {
			return fmt.Errorf("getting account %q: %w", req.Account, err)
		}
		k.Account = a.ID
	default:
		return invalid("give a bucket (for a bucket key) or an account (for an account-wide key)")
	}
	if req.ExpiresAt != nil {
		if !req.ExpiresAt.After(now) {
			return invalid("expiresAt %s is not in the future", req.ExpiresAt.Format(time.RFC3339))
		}
		t := req.ExpiresAt.UTC()
		k.ExpiresAt = &t
	}
	// PutKey replaces, so make sure a fresh ID is really unused. With 36^18
	// possible IDs a collision is only conceivable, never expected.
	for attempt := 0; ; attempt++ {
		id, secret, err := GenerateKeyPair()
		if err != nil {
			return err
		}
		_, err = h.store.GetKey(ctx, id)
		if errors.Is(err, meta.ErrNotFound) {
			k.AccessKeyID, k.SecretAccessKey = id, secret
			break
		}
		if err != nil {
			return fmt.Errorf("checking key ID: %w", err)
		}
		if attempt == 3 {
			return errors.New("could not find an unused access key ID")
		}
	}
	if err := h.store.PutKey(ctx, k); err != nil {
		return fmt.Errorf("storing key: %w", err)
	}
	h.audit(r, "key.create", "accessKeyId", k.AccessKeyID, "bucket", k.Bucket, "account", k.Account,
		"label", k.Label, "expiresAt", k.ExpiresAt)
	w.Header().Set("Location", apiPrefix+"/keys/"+k.AccessKeyID)
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (h *handler) deleteKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	k, err := h.store.GetKey(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		return notFound("access key %q does not exist", id)
	}
	if err != nil {
		return fmt.Errorf("getting key: %w", err)
	}
	if k.Root {
		h.log.WarnContext(ctx, "admin: refused to delete the root key", "caller", CallerFrom(ctx), "accessKeyId", id)
		return invalid("access key %q is the root key and cannot be deleted", id)
	}
	if err := h.store.DeleteKey(ctx, id); errors.Is(err, meta.ErrNotFound) {
		return notFound("access key %q does not exist", id)
	} else if err != nil {
		return fmt.Errorf("deleting key: %w", err)
	}
	h.audit(r, "key.delete", "accessKeyId", id, "bucket", k.Bucket, "account", k.Account, "label", k.Label)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// audit logs one change: who (the caller), what (action and attributes) and
// when. Secrets are never passed here.
func (h *handler) audit(r *http.Request, action string, attrs ...any) {
	ctx := r.Context()
	args := append([]any{"caller", CallerFrom(ctx), "action", action, "at", h.now().UTC(),
		"remoteAddr", r.RemoteAddr}, attrs...)
	h.log.InfoContext(ctx, "admin: "+action, args...)
}
