package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloudraya/raya/gateway/admin"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/boltstore"
)

var (
	ownerID = strings.Repeat("a", 64)
	otherID = strings.Repeat("b", 64)
	clock   = time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
)

const rootID = "RYROOT00000000000000"

// newStore returns a fresh embedded store holding two accounts, two buckets
// and the root key.
func newStore(t *testing.T) meta.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "meta.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for _, a := range []meta.Account{
		{ID: ownerID, DisplayName: "owner", CreatedAt: clock},
		{ID: otherID, DisplayName: "other", CreatedAt: clock},
	} {
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []meta.Bucket{
		{Name: "photos", Owner: ownerID, Backend: "local", Region: "us-east-1", CreatedAt: clock},
		{Name: "backups", Owner: otherID, Backend: "local", CreatedAt: clock},
	} {
		if err := s.CreateBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	root := meta.Key{AccessKeyID: rootID, SecretAccessKey: strings.Repeat("s", 40), Account: ownerID,
		Root: true, Status: meta.KeyActive, CreatedAt: clock}
	if err := s.PutKey(ctx, root); err != nil {
		t.Fatal(err)
	}
	return s
}

// authenticated stands in for the S3 handler: it names the caller the way
// the S3 handler does after verifying the signature.
func authenticated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(admin.WithCaller(r.Context(), rootID)))
	})
}

func TestGenerateKeyPair(t *testing.T) {
	idRE := regexp.MustCompile(`^RY[A-Z0-9]{18}$`)
	secretRE := regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
	seen := map[string]bool{}
	for range 1000 {
		id, secret, err := admin.GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		if !idRE.MatchString(id) {
			t.Fatalf("access key ID %q does not match %s", id, idRE)
		}
		if !secretRE.MatchString(secret) {
			t.Fatalf("secret %q does not match %s", secret, secretRE)
		}
		if seen[id] || seen[secret] {
			t.Fatalf("repeated value in %q / %q", id, secret)
		}
		seen[id], seen[secret] = true, true
	}
}

func TestNewAccountID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{64}$`)
	a, err := admin.NewAccountID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := admin.NewAccountID()
	if err != nil {
		t.Fatal(err)
	}
	if !re.MatchString(a) || !re.MatchString(b) || a == b {
		t.Fatalf("bad account IDs %q, %q", a, b)
	}
}

func TestCaller(t *testing.T) {
	ctx := context.Background()
	if got := admin.CallerFrom(ctx); got != "" {
		t.Errorf("CallerFrom(empty) = %q", got)
	}
	if got := admin.CallerFrom(admin.WithCaller(ctx, "RYX")); got != "RYX" {
		t.Errorf("CallerFrom = %q, want RYX", got)
	}
}

// call sends one request to h and returns the status, headers and body.
func call(t *testing.T, h http.Handler, method, target, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, rd))
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

// errorCode decodes an admin JSON error and returns its code.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not an admin JSON error (%v): %s", err, body)
	}
	return e.Error.Code
}

func TestHandlerErrors(t *testing.T) {
	h := authenticated(admin.NewHandler(newStore(t), &admin.Options{Now: func() time.Time { return clock }}))
	future := clock.Add(time.Hour).Format(time.RFC3339)
	tests := []struct {
		name, method, target, body string
		status                     int
		code                       string
	}{
		{"unknown bucket", "POST", "/_raya/admin/v1/keys", `{"bucket":"nope","label":"x"}`, 404, "NotFound"},
		{"unknown account", "POST", "/_raya/admin/v1/keys", `{"account":"` + strings.Repeat("c", 64) + `"}`, 404, "NotFound"},
		{"neither bucket nor account", "POST", "/_raya/admin/v1/keys", `{"label":"x"}`, 400, "InvalidRequest"},
		{"bucket of another account", "POST", "/_raya/admin/v1/keys", `{"bucket":"photos","account":"` + otherID + `"}`, 400, "InvalidRequest"},
		{"unknown field", "POST", "/_raya/admin/v1/keys", `{"bucket":"photos","expires":"1h"}`, 400, "InvalidRequest"},
		{"malformed JSON", "POST", "/_raya/admin/v1/keys", `{"bucket":`, 400, "InvalidRequest"},
		{"trailing data", "POST", "/_raya/admin/v1/keys", `{"bucket":"photos"} {}`, 400, "InvalidRequest"},
		{"bad expiry", "POST", "/_raya/admin/v1/keys", `{"bucket":"photos","expiresAt":"tomorrow"}`, 400, "InvalidRequest"},
		{"past expiry", "POST", "/_raya/admin/v1/keys", `{"bucket":"photos","expiresAt":"2020-01-01T00:00:00Z"}`, 400, "InvalidRequest"},
		{"unknown key", "DELETE", "/_raya/admin/v1/keys/RYNOPE", "", 404, "NotFound"},
		{"root key", "DELETE", "/_raya/admin/v1/keys/" + rootID, "", 400, "InvalidRequest"},
		{"method", "PUT", "/_raya/admin/v1/keys", `{}`, 405, "MethodNotAllowed"},
		{"method on key", "GET", "/_raya/admin/v1/keys/" + rootID, "", 405, "MethodNotAllowed"},
		{"unknown path", "GET", "/_raya/admin/v1/nothing", "", 404, "NotFound"},
		{"unknown version", "GET", "/_raya/admin/v2/buckets", "", 404, "NotFound"},
		{"future expiry is fine", "POST", "/_raya/admin/v1/keys", `{"bucket":"photos","expiresAt":"` + future + `"}`, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := call(t, h, tt.method, tt.target, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if got := hdr.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if tt.code == "" {
				return
			}
			if got := errorCode(t, body); got != tt.code {
				t.Errorf("code %q, want %q", got, tt.code)
			}
			if status == 405 && hdr.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestHandlerRefusesWithoutCaller(t *testing.T) {
	h := admin.NewHandler(newStore(t), &admin.Options{Logger: slog.New(slog.DiscardHandler)})
	for _, m := range []string{"GET", "POST"} {
		status, _, body := call(t, h, m, "/_raya/admin/v1/keys", `{"bucket":"photos"}`)
		if status != 403 || errorCode(t, body) != "AccessDenied" {
			t.Errorf("%s: status %d body %s, want 403 AccessDenied", m, status, body)
		}
	}
}

func TestHandlerKeys(t *testing.T) {
	store := newStore(t)
	var logs bytes.Buffer
	h := authenticated(admin.NewHandler(store, &admin.Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Now:    func() time.Time { return clock },
	}))
	ctx := context.Background()

	// A bucket key belongs to the bucket's owner.
	status, hdr, body := call(t, h, "POST", "/_raya/admin/v1/keys", `{"bucket":"photos","label":"web"}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created map[string]any
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	id, _ := created["accessKeyId"].(string)
	secret, _ := created["secretAccessKey"].(string)
	if len(id) != 20 || len(secret) != 40 {
		t.Fatalf("created key %s", body)
	}
	want := map[string]any{"bucket": "photos", "account": ownerID, "label": "web", "status": "active",
		"createdAt": clock.Format(time.RFC3339)}
	for k, v := range want {
		if created[k] != v {
			t.Errorf("created[%q] = %v, want %v", k, created[k], v)
		}
	}
	if got := hdr.Get("Location"); got != "/_raya/admin/v1/keys/"+id {
		t.Errorf("Location %q", got)
	}
	stored, err := store.GetKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.SecretAccessKey != secret || stored.Bucket != "photos" || stored.Account != ownerID || stored.Root {
		t.Errorf("stored key %+v", stored)
	}

	// An account-wide key has no bucket.
	status, _, body = call(t, h, "POST", "/_raya/admin/v1/keys", `{"account":"`+otherID+`","label":"ci"}`)
	if status != 201 {
		t.Fatalf("create account key: %d %s", status, body)
	}
	var wide meta.Key
	if err := json.Unmarshal(body, &wide); err != nil {
		t.Fatal(err)
	}
	if wide.Bucket != "" || wide.Account != otherID || wide.SecretAccessKey == "" || strings.Contains(string(body), `"bucket"`) {
		t.Errorf("account-wide key %s", body)
	}

	// Listing never shows secrets and is ordered by ID.
	status, _, body = call(t, h, "GET", "/_raya/admin/v1/keys", "")
	if status != 200 {
		t.Fatalf("list: %d %s", status, body)
	}
	if bytes.Contains(body, []byte("secretAccessKey")) || bytes.Contains(body, []byte(secret)) {
		t.Fatalf("list leaks secrets: %s", body)
	}
	var all []meta.Key
	if err := json.Unmarshal(body, &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("listed %d keys, want 3: %s", len(all), body)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].AccessKeyID >= all[i].AccessKeyID {
			t.Errorf("keys not ordered by ID: %s", body)
		}
	}

	for _, f := range []struct {
		query string
		want  []string
	}{
		{"?bucket=photos", []string{id}},
		{"?account=" + otherID, []string{wide.AccessKeyID}},
		{"?bucket=backups", nil},
	} {
		_, _, body = call(t, h, "GET", "/_raya/admin/v1/keys"+f.query, "")
		var ks []meta.Key
		if err := json.Unmarshal(body, &ks); err != nil || ks == nil {
			t.Fatalf("%s: %v %s (want a JSON array)", f.query, err, body)
		}
		var got []string
		for _, k := range ks {
			got = append(got, k.AccessKeyID)
		}
		if strings.Join(got, ",") != strings.Join(f.want, ",") {
			t.Errorf("%s: got %v, want %v", f.query, got, f.want)
		}
	}

	// Delete, then the key is gone.
	if status, _, body = call(t, h, "DELETE", "/_raya/admin/v1/keys/"+id, ""); status != 204 || len(body) != 0 {
		t.Fatalf("delete: %d %s", status, body)
	}
	if _, err := store.GetKey(ctx, id); err == nil {
		t.Error("key still stored after delete")
	}
	if status, _, _ = call(t, h, "DELETE", "/_raya/admin/v1/keys/"+id, ""); status != 404 {
		t.Errorf("second delete: %d", status)
	}
	if _, err := store.GetKey(ctx, rootID); err != nil {
		t.Errorf("root key: %v", err)
	}
	call(t, h, "DELETE", "/_raya/admin/v1/keys/"+rootID, "")
	if _, err := store.GetKey(ctx, rootID); err != nil {
		t.Errorf("root key after refused delete: %v", err)
	}

	// Every change is in the audit log with who, what and when; no secret.
	if bytes.Contains(logs.Bytes(), []byte(secret)) || bytes.Contains(logs.Bytes(), []byte(wide.SecretAccessKey)) {
		t.Fatal("audit log contains a secret")
	}
	var actions []string
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if a, ok := rec["action"].(string); ok {
			actions = append(actions, a+" "+rec["accessKeyId"].(string))
			if rec["caller"] != rootID || rec["at"] != clock.Format(time.RFC3339) {
				t.Errorf("audit record without who/when: %s", line)
			}
		}
	}
	wantActions := []string{"key.create " + id, "key.create " + wide.AccessKeyID, "key.delete " + id}
	if strings.Join(actions, ";") != strings.Join(wantActions, ";") {
		t.Errorf("audit actions %q, want %q", actions, wantActions)
	}
}

func TestHandlerLists(t *testing.T) {
	h := authenticated(admin.NewHandler(newStore(t), nil))
	status, _, body := call(t, h, "GET", "/_raya/admin/v1/buckets", "")
	if status != 200 {
		t.Fatalf("buckets: %d %s", status, body)
	}
	var buckets []map[string]any
	if err := json.Unmarshal(body, &buckets); err != nil {
		t.Fatal(err)
	}
	if len(buckets) != 2 || buckets[0]["name"] != "backups" || buckets[1]["name"] != "photos" {
		t.Fatalf("buckets %s", body)
	}
	for _, f := range []string{"name", "owner", "backend", "region", "createdAt"} {
		if _, ok := buckets[1][f]; !ok {
			t.Errorf("bucket JSON lacks %q: %s", f, body)
		}
	}

	status, _, body = call(t, h, "GET", "/_raya/admin/v1/accounts", "")
	if status != 200 {
		t.Fatalf("accounts: %d %s", status, body)
	}
	var accounts []meta.Account
	if err := json.Unmarshal(body, &accounts); err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 || accounts[0].ID != ownerID || accounts[1].DisplayName != "other" {
		t.Fatalf("accounts %s", body)
	}
}
