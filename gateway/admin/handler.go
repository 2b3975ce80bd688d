package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/sealed"
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
	// keyMu orders key changes against a reseal on this instance: changes
	// hold it shared, a reseal exclusively, so a reseal never writes back
	// a key this instance revoked meanwhile.
	keyMu sync.RWMutex
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
			http.MethodGet:  h.listAccounts,
			http.MethodPost: h.createAccount,
		}},
		{apiPrefix + "/keys", map[string]func(http.ResponseWriter, *http.Request) error{
			http.MethodGet:  h.listKeys,
			http.MethodPost: h.createKey,
		}},
		{apiPrefix + "/keys/{id}", map[string]func(http.ResponseWriter, *http.Request) error{
			http.MethodDelete: h.deleteKey,
			http.MethodPatch:  h.updateKey,
		}},
		{apiPrefix + "/keys/{id}/rotate", map[string]func(http.ResponseWriter, *http.Request) error{
			http.MethodPost: h.rotateKey,
		}},
		{apiPrefix + "/reseal", map[string]func(http.ResponseWriter, *http.Request) error{
			http.MethodPost: h.reseal,
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
	var cutoff time.Time
	if v := q.Get("unusedFor"); v != "" {
		d, err := ParseDuration(v)
		if err != nil || d < 0 {
			return invalid("unusedFor %q: give a duration such as 720h or 30d", v)
		}
		cutoff = h.now().Add(-d)
	}
	ks, err := h.store.ListKeys(r.Context(), meta.KeyFilter{Bucket: q.Get("bucket"), Account: q.Get("account")})
	if err != nil {
		return fmt.Errorf("listing keys: %w", err)
	}
	out := make([]keyView, 0, len(ks))
	for _, k := range ks {
		if !cutoff.IsZero() && LastActivity(k).After(cutoff) {
			continue
		}
		out = append(out, viewOf(k))
	}
	slices.SortFunc(out, func(a, b keyView) int { return strings.Compare(a.AccessKeyID, b.AccessKeyID) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// decodeBody decodes a JSON request body into v, refusing unknown fields
// and trailing data. An empty body is allowed when emptyOK.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if emptyOK && err == io.EOF {
			return nil
		}
		return invalid("malformed request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("malformed request body: trailing data after the JSON object")
	}
	return nil
}

func (h *handler) createKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req CreateKeyRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	h.keyMu.RLock()
	defer h.keyMu.RUnlock()
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
	if err := h.putNewKey(ctx, &k); err != nil {
		return err
	}
	h.audit(r, "key.create", "accessKeyId", k.AccessKeyID, "bucket", k.Bucket, "account", k.Account,
		"label", k.Label, "expiresAt", k.ExpiresAt)
	w.Header().Set("Location", apiPrefix+"/keys/"+k.AccessKeyID)
	writeJSON(w, http.StatusCreated, k)
	return nil
}

// putNewKey gives k a fresh key pair and stores it.
func (h *handler) putNewKey(ctx context.Context, k *meta.Key) error {
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
	if err := h.store.PutKey(ctx, *k); err != nil {
		return fmt.Errorf("storing key: %w", err)
	}
	return nil
}

// changeableKey returns the key named in the path, refusing the root key:
// the root pair is configuration, not API state.
func (h *handler) changeableKey(r *http.Request, verb string) (*meta.Key, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	k, err := h.store.GetKey(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, notFound("access key %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("getting key: %w", err)
	}
	if k.Root {
		h.log.WarnContext(ctx, "admin: refused to "+verb+" the root key", "caller", CallerFrom(ctx), "accessKeyId", id,
			"at", h.now().UTC(), "remoteAddr", r.RemoteAddr)
		return nil, invalid("access key %q is the root key and cannot be %s through the admin API: the root pair is configuration (RAYA_ROOT_ACCESS_KEY and RAYA_ROOT_SECRET_KEY); change it there and restart", id, pastTense[verb])
	}
	return k, nil
}

var pastTense = map[string]string{"delete": "deleted", "update": "changed", "rotate": "rotated", "disable": "disabled", "enable": "enabled"}

func (h *handler) deleteKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	h.keyMu.RLock()
	defer h.keyMu.RUnlock()
	id := r.PathValue("id")
	k, err := h.changeableKey(r, "delete")
	if err != nil {
		return err
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

func (h *handler) createAccount(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req CreateAccountRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	name := strings.TrimSpace(req.DisplayName)
	if name == "" || len(name) > 128 || strings.ContainsFunc(name, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		return invalid("displayName must be 1 to 128 printable characters")
	}
	as, err := h.store.ListAccounts(ctx)
	if err != nil {
		return fmt.Errorf("listing accounts: %w", err)
	}
	for _, a := range as {
		if a.DisplayName == name {
			return &Error{StatusCode: http.StatusConflict, Code: CodeAlreadyExists,
				Message: fmt.Sprintf("account %q already exists with ID %s", name, a.ID)}
		}
	}
	id, err := NewAccountID()
	if err != nil {
		return err
	}
	a := meta.Account{ID: id, DisplayName: name, CreatedAt: h.now().UTC()}
	if err := h.store.CreateAccount(ctx, a); errors.Is(err, meta.ErrExists) {
		return &Error{StatusCode: http.StatusConflict, Code: CodeAlreadyExists, Message: "account ID collision; try again"}
	} else if err != nil {
		return fmt.Errorf("creating account: %w", err)
	}
	h.audit(r, "account.create", "accountId", a.ID, "displayName", a.DisplayName)
	w.Header().Set("Location", apiPrefix+"/accounts/"+a.ID)
	writeJSON(w, http.StatusCreated, a)
	return nil
}

// updateKey changes a key's status (disable, enable) or label.
func (h *handler) updateKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req UpdateKeyRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.Status == nil && req.Label == nil {
		return invalid("nothing to change: give status (active or inactive) or label")
	}
	if req.Status != nil && *req.Status != meta.KeyActive && *req.Status != meta.KeyInactive {
		return invalid("status %q: want %q or %q", *req.Status, meta.KeyActive, meta.KeyInactive)
	}
	verb := "update"
	if req.Status != nil && req.Label == nil {
		verb = map[string]string{meta.KeyActive: "enable", meta.KeyInactive: "disable"}[*req.Status]
	}
	h.keyMu.RLock()
	defer h.keyMu.RUnlock()
	k, err := h.changeableKey(r, verb)
	if err != nil {
		return err
	}
	var attrs []any
	// Read-modify-write in the store, atomically: a change made meanwhile
	// by another instance (a revocation, say) is never written back over.
	err = h.store.UpdateKey(ctx, k.AccessKeyID, func(cur *meta.Key) error {
		attrs = []any{"accessKeyId", cur.AccessKeyID, "bucket", cur.Bucket, "account", cur.Account}
		if req.Status != nil {
			attrs = append(attrs, "oldStatus", cur.Status, "status", *req.Status)
			cur.Status = *req.Status
		}
		if req.Label != nil {
			attrs = append(attrs, "oldLabel", cur.Label, "label", *req.Label)
			cur.Label = *req.Label
		} else {
			attrs = append(attrs, "label", cur.Label)
		}
		*k = *cur
		return nil
	})
	if errors.Is(err, meta.ErrNotFound) {
		return notFound("access key %q does not exist", k.AccessKeyID)
	}
	if err != nil {
		return fmt.Errorf("storing key: %w", err)
	}
	h.audit(r, "key."+verb, attrs...)
	writeJSON(w, http.StatusOK, viewOf(*k))
	return nil
}

// rotateKey issues a new pair for the key's bucket, account and label, and
// retires the old key after the grace period (at once for zero).
func (h *handler) rotateKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req RotateKeyRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	grace := DefaultRotateGrace
	if req.Grace != "" {
		d, err := ParseDuration(req.Grace)
		if err != nil || d < 0 {
			return invalid("grace %q: give a duration such as 24h, 7d or 0", req.Grace)
		}
		grace = d
	}
	now := h.now().UTC()
	if req.ExpiresAt != nil && !req.ExpiresAt.After(now) {
		return invalid("expiresAt %s is not in the future", req.ExpiresAt.Format(time.RFC3339))
	}
	h.keyMu.RLock()
	defer h.keyMu.RUnlock()
	old, err := h.changeableKey(r, "rotate")
	if err != nil {
		return err
	}
	if old.Status != meta.KeyActive {
		return invalid("access key %q is %s: enable it before rotating, or create a new key", old.AccessKeyID, old.Status)
	}
	// Issue the new key first: a failure between the two steps leaves both
	// keys working, never neither.
	nk := meta.Key{Account: old.Account, Bucket: old.Bucket, Label: old.Label, Status: meta.KeyActive, CreatedAt: now}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		nk.ExpiresAt = &t
	}
	if err := h.putNewKey(ctx, &nk); err != nil {
		return err
	}
	resp := RotateKeyResponse{Key: nk, Replaces: old.AccessKeyID}
	if grace == 0 {
		if err := h.store.DeleteKey(ctx, old.AccessKeyID); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("revoking the old key %s (the new key %s is issued): %w", old.AccessKeyID, nk.AccessKeyID, err)
		}
		resp.OldKeyExpiresAt, resp.OldKeyRevoked = now, true
	} else {
		var until time.Time
		err := h.store.UpdateKey(ctx, old.AccessKeyID, func(cur *meta.Key) error {
			// Never extend an earlier expiry.
			until = now.Add(grace).Truncate(time.Second)
			if cur.ExpiresAt != nil && cur.ExpiresAt.Before(until) {
				until = cur.ExpiresAt.UTC()
			}
			cur.ExpiresAt = &until
			return nil
		})
		if err != nil && !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("retiring the old key %s (the new key %s is issued): %w", old.AccessKeyID, nk.AccessKeyID, err)
		}
		resp.OldKeyExpiresAt = until
	}
	h.audit(r, "key.rotate", "accessKeyId", nk.AccessKeyID, "replaces", old.AccessKeyID, "bucket", nk.Bucket,
		"account", nk.Account, "label", nk.Label, "grace", grace.String(), "oldKeyExpiresAt", resp.OldKeyExpiresAt,
		"oldKeyRevoked", resp.OldKeyRevoked, "expiresAt", nk.ExpiresAt)
	w.Header().Set("Location", apiPrefix+"/keys/"+nk.AccessKeyID)
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// reseal re-seals every stored secret with the primary master key.
func (h *handler) reseal(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	h.keyMu.Lock()
	defer h.keyMu.Unlock()
	res, err := sealed.Reseal(ctx, h.store)
	if errors.Is(err, sealed.ErrNotSealed) {
		return &Error{StatusCode: http.StatusConflict, Code: CodeNotSealed,
			Message: "this gateway stores secrets without a master key; set " + sealed.EnvMasterKey + " and restart before resealing"}
	}
	if err != nil {
		return fmt.Errorf("resealing: %w", err)
	}
	failed := make([]string, 0, len(res.Failed))
	for _, f := range res.Failed {
		failed = append(failed, f.AccessKeyID)
	}
	h.audit(r, "keys.reseal", "primaryKeyId", res.PrimaryKeyID, "total", res.Total, "resealed", res.Resealed,
		"plaintext", res.Plaintext, "current", res.Current, "failed", failed)
	writeJSON(w, http.StatusOK, res)
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
