// Package admin owns Raya's administration API — listing buckets and
// accounts, issuing, listing and revoking access keys — and the Go client the
// raya command uses to reach it.
//
// The API is JSON over HTTP under the versioned prefix /_raya/admin/v1/:
//
//	GET    /_raya/admin/v1/buckets       all buckets, ordered by name
//	GET    /_raya/admin/v1/accounts      all accounts, ordered by ID
//	POST   /_raya/admin/v1/accounts      create an account (CreateAccountRequest); 201 with it
//	POST   /_raya/admin/v1/keys          issue a key (CreateKeyRequest); 201 with the secret
//	GET    /_raya/admin/v1/keys          keys without secrets; ?bucket= and ?account= filter,
//	                                     ?unusedFor=30d keeps keys unused (or, never used,
//	                                     created) for at least that long
//	PATCH  /_raya/admin/v1/keys/{id}     disable, enable or relabel a key (UpdateKeyRequest); 200
//	DELETE /_raya/admin/v1/keys/{id}     revoke a key; 204
//	POST   /_raya/admin/v1/keys/{id}/rotate  issue a new pair for the same bucket, account and
//	                                     label; the old key expires after the grace period
//	                                     (RotateKeyRequest); 201 with RotateKeyResponse
//	POST   /_raya/admin/v1/reseal        re-seal every stored secret with the primary master
//	                                     key (see package sealed); 200 with sealed.ResealResult
//
// The root key is configuration, not API state: revoking, disabling,
// relabelling or rotating it answers 400 InvalidRequest.
//
// Errors are JSON objects {"error":{"code":"NotFound","message":"..."}} with
// the matching HTTP status.
//
// The handler does not authenticate. The S3 handler mounts it at PathPrefix
// (without stripping the prefix) after verifying the request's SigV4
// signature and checking that the caller holds the root key, and passes the
// caller's access key ID with WithCaller; every change is logged (at Info,
// message "admin: <action>") with who (caller, remoteAddr), what (action and
// the changed key, account or counts; never a secret) and when (at). A
// request whose context carries no caller is refused with 403, so a handler
// mounted by mistake without authentication fails closed.
//
// Import it from the S3 handler (to mount NewHandler) and from tools that
// administer a running gateway (Client).
package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
)

// PathPrefix is where the S3 handler mounts the admin handler. Paths reach
// the handler unchanged (the prefix is not stripped).
const PathPrefix = "/_raya/admin/"

// apiPrefix is the versioned root of every endpoint.
const apiPrefix = PathPrefix + "v1"

// Error codes in admin JSON errors.
const (
	CodeNotFound         = "NotFound"
	CodeInvalidRequest   = "InvalidRequest"
	CodeAccessDenied     = "AccessDenied"
	CodeMethodNotAllowed = "MethodNotAllowed"
	CodeInternalError    = "InternalError"
	CodeAlreadyExists    = "AlreadyExists"
	// CodeNotSealed: a reseal was asked of a gateway without a master key.
	CodeNotSealed = "NotSealed"
)

// Error is an admin API error: what the handler renders as JSON and what the
// Client returns for a non-2xx answer (the admin JSON error or an S3 XML
// error from the gateway in front of the handler).
type Error struct {
	// StatusCode is the HTTP status (filled by the Client; the handler
	// renders it as the response status).
	StatusCode int `json:"-"`
	// Code is a short machine-readable code such as "NotFound".
	Code    string `json:"code"`
	Message string `json:"message"`
	// RequestID is the S3 request ID when the gateway sent one.
	RequestID string `json:"requestId,omitempty"`
}

func (e *Error) Error() string {
	s := e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	return "admin: " + s
}

// errorBody is the JSON envelope of an Error.
type errorBody struct {
	Error *Error `json:"error"`
}

// CreateKeyRequest is the body of POST /_raya/admin/v1/keys. Bucket issues a
// key scoped to that bucket and owned by the bucket's owner; Account alone
// issues an account-wide key for that account.
type CreateKeyRequest struct {
	Bucket    string     `json:"bucket,omitempty"`
	Label     string     `json:"label,omitempty"`
	Account   string     `json:"account,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// CreateAccountRequest is the body of POST /_raya/admin/v1/accounts.
type CreateAccountRequest struct {
	DisplayName string `json:"displayName"`
}

// UpdateKeyRequest is the body of PATCH /_raya/admin/v1/keys/{id}: the
// fields to change; absent fields stay as they are.
type UpdateKeyRequest struct {
	// Status is meta.KeyActive (enable) or meta.KeyInactive (disable).
	Status *string `json:"status,omitempty"`
	Label  *string `json:"label,omitempty"`
}

// DefaultRotateGrace is how long a rotated key keeps working when a
// rotation names no grace period.
const DefaultRotateGrace = 24 * time.Hour

// RotateKeyRequest is the body of POST /_raya/admin/v1/keys/{id}/rotate; an
// empty body means the defaults.
type RotateKeyRequest struct {
	// Grace is how long the old key keeps working, as accepted by
	// ParseDuration ("24h", "7d", "0"); empty means DefaultRotateGrace.
	// Zero revokes the old key at once.
	Grace string `json:"grace,omitempty"`
	// ExpiresAt optionally sets the new key's expiry.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// RotateKeyResponse answers a rotation: the new key with its secret (the
// fields of meta.Key), and what became of the old one.
type RotateKeyResponse struct {
	meta.Key
	// Replaces is the old access key ID.
	Replaces string `json:"replaces"`
	// OldKeyExpiresAt is when the old key stops working (the time of the
	// rotation when it was revoked at once).
	OldKeyExpiresAt time.Time `json:"oldKeyExpiresAt"`
	// OldKeyRevoked reports that the old key was deleted at once (grace 0).
	OldKeyRevoked bool `json:"oldKeyRevoked,omitempty"`
}

// ParseDuration parses a duration as time.ParseDuration does, and also
// accepts days as a leading "d" component: "30d", "1d12h", "0.5d". Plain
// "0" is zero.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	num, rest, ok := strings.Cut(s, "d")
	if !ok || num == "" || strings.ContainsAny(num, "hmsuµn") {
		return time.ParseDuration(s)
	}
	days, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(days, 0) || math.IsNaN(days) || math.Abs(days) > 100*365 {
		return 0, fmt.Errorf("admin: invalid duration %q", s)
	}
	d := time.Duration(days * float64(24*time.Hour))
	if rest != "" {
		if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, fmt.Errorf("admin: invalid duration %q", s)
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("admin: invalid duration %q", s)
		}
		if days < 0 {
			r = -r
		}
		d += r
	}
	return d, nil
}

// LastActivity is when a key was last used, or created when it never was:
// what the unused-key report compares.
func LastActivity(k meta.Key) time.Time {
	if k.LastUsedAt != nil && k.LastUsedAt.After(k.CreatedAt) {
		return *k.LastUsedAt
	}
	return k.CreatedAt
}

type callerKey struct{}

// WithCaller returns a context that names the authenticated administrator
// (an access key ID) making the request. The S3 handler calls it before
// handing a request to the admin handler.
func WithCaller(ctx context.Context, accessKeyID string) context.Context {
	return context.WithValue(ctx, callerKey{}, accessKeyID)
}

// CallerFrom returns the access key ID set by WithCaller, or "" when none.
func CallerFrom(ctx context.Context) string {
	s, _ := ctx.Value(callerKey{}).(string)
	return s
}

const (
	idAlphabet     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	idPrefix       = "RY"
	idLen          = 20
	secretLen      = 40
)

// GenerateKeyPair returns a new access key ID (20 characters, upper-case
// letters and digits, starting with "RY") and secret access key (40
// characters from letters, digits, '+' and '/', like AWS), drawn uniformly
// from crypto/rand.
func GenerateKeyPair() (accessKeyID, secretAccessKey string, err error) {
	id, err := randomString(idAlphabet, idLen-len(idPrefix))
	if err != nil {
		return "", "", err
	}
	secret, err := randomString(secretAlphabet, secretLen)
	if err != nil {
		return "", "", err
	}
	return idPrefix + id, secret, nil
}

// randomString returns n characters drawn uniformly from alphabet (at most
// 256 characters) by rejection sampling.
func randomString(alphabet string, n int) (string, error) {
	limit := 256 - 256%len(alphabet) // bytes >= limit would bias the draw
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("admin: reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit {
				out = append(out, alphabet[int(b)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out), nil
}

// NewAccountID returns a random canonical account ID: 64 lower-case hex
// characters.
func NewAccountID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("admin: reading random bytes: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
