package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudraya/raya/gateway/admin"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/keycache"
	"github.com/cloudraya/raya/gateway/meta/sealed"
)

// auditLog decodes the JSON audit records in logs: action -> records.
func auditLog(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if _, ok := rec["action"]; ok {
			if rec["caller"] != rootID || rec["at"] != clock.Format(time.RFC3339) {
				t.Errorf("audit record without who/when: %s", line)
			}
			out = append(out, rec)
		}
	}
	return out
}

func actions(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["action"].(string))
	}
	return out
}

func fieldsOf(t *testing.T, body []byte) (map[string]any, []string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return m, ks
}

func newLoggedHandler(t *testing.T, store meta.Store) (*bytes.Buffer, func(method, target, body string) (int, []byte)) {
	var logs bytes.Buffer
	h := authenticated(admin.NewHandler(store, &admin.Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Now:    func() time.Time { return clock },
	}))
	return &logs, func(method, target, body string) (int, []byte) {
		t.Helper()
		status, _, b := call(t, h, method, target, body)
		return status, b
	}
}

func putKey(t *testing.T, s meta.Store, k meta.Key) {
	t.Helper()
	if k.Status == "" {
		k.Status = meta.KeyActive
	}
	if k.SecretAccessKey == "" {
		k.SecretAccessKey = "secret-" + k.AccessKeyID
	}
	if k.Account == "" {
		k.Account = ownerID
	}
	if err := s.PutKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
}

func TestCreateAccount(t *testing.T) {
	store := newStore(t)
	logs, do := newLoggedHandler(t, store)
	status, body := do("POST", "/_raya/admin/v1/accounts", `{"displayName":"initech"}`)
	if status != 201 {
		t.Fatalf("%d %s", status, body)
	}
	m, fields := fieldsOf(t, body)
	if !slices.Equal(fields, []string{"createdAt", "displayName", "id"}) {
		t.Errorf("fields %v", fields)
	}
	id, _ := m["id"].(string)
	if len(id) != 64 || m["displayName"] != "initech" || m["createdAt"] != clock.Format(time.RFC3339) {
		t.Errorf("account %s", body)
	}
	if a, err := store.GetAccount(context.Background(), id); err != nil || a.DisplayName != "initech" {
		t.Errorf("stored %+v, %v", a, err)
	}
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"displayName":"initech"}`, 409, "AlreadyExists"},
		{`{"displayName":"owner"}`, 409, "AlreadyExists"},
		{`{"displayName":"  "}`, 400, "InvalidRequest"},
		{`{"displayName":"a\nb"}`, 400, "InvalidRequest"},
		{`{"name":"x"}`, 400, "InvalidRequest"},
		{``, 400, "InvalidRequest"},
	} {
		status, body := do("POST", "/_raya/admin/v1/accounts", tc.body)
		if status != tc.status || errorCode(t, body) != tc.code {
			t.Errorf("%q: %d %s, want %d %s", tc.body, status, body, tc.status, tc.code)
		}
	}
	recs := auditLog(t, logs)
	if len(recs) != 1 || recs[0]["action"] != "account.create" || recs[0]["accountId"] != id || recs[0]["displayName"] != "initech" {
		t.Errorf("audit %v", recs)
	}
}

func TestRotateKey(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	logs, do := newLoggedHandler(t, store)
	putKey(t, store, meta.Key{AccessKeyID: "RYOLD", Bucket: "photos", Label: "web", CreatedAt: clock.Add(-time.Hour)})

	status, body := do("POST", "/_raya/admin/v1/keys/RYOLD/rotate", `{"grace":"24h"}`)
	if status != 201 {
		t.Fatalf("rotate: %d %s", status, body)
	}
	m, fields := fieldsOf(t, body)
	want := []string{"accessKeyId", "account", "bucket", "createdAt", "label", "oldKeyExpiresAt", "replaces", "secretAccessKey", "status"}
	if !slices.Equal(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	newID, _ := m["accessKeyId"].(string)
	if len(newID) != 20 || newID == "RYOLD" || m["replaces"] != "RYOLD" || m["bucket"] != "photos" || m["label"] != "web" ||
		m["account"] != ownerID || m["status"] != "active" || m["oldKeyExpiresAt"] != clock.Add(24*time.Hour).Format(time.RFC3339) {
		t.Errorf("rotation %s", body)
	}
	nk, err := store.GetKey(ctx, newID)
	if err != nil || nk.SecretAccessKey != m["secretAccessKey"] || nk.Bucket != "photos" || nk.Label != "web" {
		t.Fatalf("new key %+v, %v", nk, err)
	}
	old, err := store.GetKey(ctx, "RYOLD")
	if err != nil || old.Status != meta.KeyActive || old.ExpiresAt == nil || !old.ExpiresAt.Equal(clock.Add(24*time.Hour)) {
		t.Fatalf("old key during grace %+v, %v", old, err)
	}

	// A second rotation of the old key never extends its earlier expiry.
	status, body = do("POST", "/_raya/admin/v1/keys/RYOLD/rotate", `{"grace":"30d"}`)
	m, _ = fieldsOf(t, body)
	if status != 201 || m["oldKeyExpiresAt"] != clock.Add(24*time.Hour).Format(time.RFC3339) {
		t.Errorf("re-rotation: %d %s", status, body)
	}

	// Grace 0 revokes at once; an empty body means 24h.
	putKey(t, store, meta.Key{AccessKeyID: "RYNOW", Account: otherID, Label: "ci"})
	status, body = do("POST", "/_raya/admin/v1/keys/RYNOW/rotate", `{"grace":"0"}`)
	m, _ = fieldsOf(t, body)
	if status != 201 || m["oldKeyRevoked"] != true || m["oldKeyExpiresAt"] != clock.Format(time.RFC3339) || m["account"] != otherID {
		t.Errorf("grace 0: %d %s", status, body)
	}
	if _, ok := m["bucket"]; ok {
		t.Errorf("account-wide rotation has a bucket: %s", body)
	}
	if _, err := store.GetKey(ctx, "RYNOW"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("old key after grace 0: %v", err)
	}
	putKey(t, store, meta.Key{AccessKeyID: "RYDEF", Bucket: "photos"})
	status, body = do("POST", "/_raya/admin/v1/keys/RYDEF/rotate", ``)
	m, _ = fieldsOf(t, body)
	if status != 201 || m["oldKeyExpiresAt"] != clock.Add(admin.DefaultRotateGrace).Format(time.RFC3339) {
		t.Errorf("default grace: %d %s", status, body)
	}
	exp := clock.Add(90 * 24 * time.Hour).Format(time.RFC3339)
	status, body = do("POST", "/_raya/admin/v1/keys/RYDEF/rotate", `{"grace":"1h","expiresAt":"`+exp+`"}`)
	m, _ = fieldsOf(t, body)
	if status != 201 || m["expiresAt"] != exp {
		t.Errorf("new key expiry: %d %s", status, body)
	}

	putKey(t, store, meta.Key{AccessKeyID: "RYOFF", Bucket: "photos", Status: meta.KeyInactive})
	for _, tc := range []struct {
		name, target, body string
		status             int
		code, msg          string
	}{
		{"root", "/_raya/admin/v1/keys/" + rootID + "/rotate", `{"grace":"0"}`, 400, "InvalidRequest", "root key"},
		{"unknown", "/_raya/admin/v1/keys/RYNOPE/rotate", ``, 404, "NotFound", "RYNOPE"},
		{"inactive", "/_raya/admin/v1/keys/RYOFF/rotate", ``, 400, "InvalidRequest", "enable it"},
		{"bad grace", "/_raya/admin/v1/keys/RYDEF/rotate", `{"grace":"soon"}`, 400, "InvalidRequest", "grace"},
		{"negative grace", "/_raya/admin/v1/keys/RYDEF/rotate", `{"grace":"-1h"}`, 400, "InvalidRequest", "grace"},
		{"past expiry", "/_raya/admin/v1/keys/RYDEF/rotate", `{"expiresAt":"2020-01-01T00:00:00Z"}`, 400, "InvalidRequest", "future"},
		{"unknown field", "/_raya/admin/v1/keys/RYDEF/rotate", `{"graceSeconds":1}`, 400, "InvalidRequest", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do("POST", tc.target, tc.body)
			if status != tc.status || errorCode(t, body) != tc.code || !strings.Contains(string(body), tc.msg) {
				t.Errorf("%d %s, want %d %s containing %q", status, body, tc.status, tc.code, tc.msg)
			}
		})
	}
	if k, err := store.GetKey(ctx, rootID); err != nil || k.ExpiresAt != nil {
		t.Errorf("root key after a refused rotation: %+v, %v", k, err)
	}

	recs := auditLog(t, logs)
	if got := actions(recs); !slices.Equal(got, []string{"key.rotate", "key.rotate", "key.rotate", "key.rotate", "key.rotate"}) {
		t.Errorf("audit actions %v", got)
	}
	if r := recs[0]; r["accessKeyId"] != newID || r["replaces"] != "RYOLD" || r["grace"] != "24h0m0s" {
		t.Errorf("audit record %v", r)
	}
	if strings.Contains(logs.String(), nk.SecretAccessKey) {
		t.Error("audit log contains a secret")
	}
}

func TestDisableEnableKey(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	logs, do := newLoggedHandler(t, store)
	putKey(t, store, meta.Key{AccessKeyID: "RYK", Bucket: "photos", Label: "web", CreatedAt: clock})

	status, body := do("PATCH", "/_raya/admin/v1/keys/RYK", `{"status":"inactive"}`)
	m, fields := fieldsOf(t, body)
	if status != 200 || m["status"] != "inactive" || slices.Contains(fields, "secretAccessKey") {
		t.Fatalf("disable: %d %s", status, body)
	}
	if k, _ := store.GetKey(ctx, "RYK"); k.Status != meta.KeyInactive || k.SecretAccessKey != "secret-RYK" || k.Label != "web" {
		t.Errorf("stored after disable %+v", k)
	}
	status, body = do("PATCH", "/_raya/admin/v1/keys/RYK", `{"status":"active","label":"web-v2"}`)
	m, _ = fieldsOf(t, body)
	if status != 200 || m["status"] != "active" || m["label"] != "web-v2" {
		t.Fatalf("enable+relabel: %d %s", status, body)
	}
	for _, tc := range []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"root disable", "/_raya/admin/v1/keys/" + rootID, `{"status":"inactive"}`, 400, "InvalidRequest"},
		{"root relabel", "/_raya/admin/v1/keys/" + rootID, `{"label":"x"}`, 400, "InvalidRequest"},
		{"bad status", "/_raya/admin/v1/keys/RYK", `{"status":"paused"}`, 400, "InvalidRequest"},
		{"nothing", "/_raya/admin/v1/keys/RYK", `{}`, 400, "InvalidRequest"},
		{"unknown", "/_raya/admin/v1/keys/RYNOPE", `{"status":"inactive"}`, 404, "NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do("PATCH", tc.target, tc.body)
			if status != tc.status || errorCode(t, body) != tc.code {
				t.Errorf("%d %s, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
	if k, _ := store.GetKey(ctx, rootID); k.Status != meta.KeyActive || k.Label != "" {
		t.Errorf("root key changed: %+v", k)
	}
	recs := auditLog(t, logs)
	if got := actions(recs); !slices.Equal(got, []string{"key.disable", "key.update"}) {
		t.Errorf("audit actions %v", got)
	}
	if recs[0]["oldStatus"] != "active" || recs[0]["status"] != "inactive" || recs[1]["oldLabel"] != "web" || recs[1]["label"] != "web-v2" {
		t.Errorf("audit %v", recs)
	}
	// Refusals of root changes are logged too, with who and when.
	if n := strings.Count(logs.String(), `"msg":"admin: refused to disable the root key"`); n != 1 {
		t.Errorf("%d refusal records:\n%s", n, logs)
	}
}

func TestUnusedKeyReport(t *testing.T) {
	store := newStore(t)
	_, do := newLoggedHandler(t, store)
	at := func(d time.Duration) *time.Time { v := clock.Add(-d); return &v }
	day := 24 * time.Hour
	putKey(t, store, meta.Key{AccessKeyID: "RYFRESH", Bucket: "photos", CreatedAt: *at(100 * day), LastUsedAt: at(time.Hour)})
	putKey(t, store, meta.Key{AccessKeyID: "RYSTALE", Bucket: "photos", CreatedAt: *at(100 * day), LastUsedAt: at(45 * day)})
	putKey(t, store, meta.Key{AccessKeyID: "RYNEVER", Bucket: "backups", Account: otherID, CreatedAt: *at(31 * day)})
	putKey(t, store, meta.Key{AccessKeyID: "RYNEW", Bucket: "photos", CreatedAt: *at(day)})
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"?unusedFor=30d", []string{"RYNEVER", "RYSTALE"}}, // the root key was created at clock: in use
		{"?unusedFor=30d&bucket=photos", []string{"RYSTALE"}},
		{"?unusedFor=720h&account=" + otherID, []string{"RYNEVER"}},
		{"?unusedFor=50d", nil},
		{"?unusedFor=1d", []string{"RYNEVER", "RYNEW", "RYSTALE"}},
	} {
		status, body := do("GET", "/_raya/admin/v1/keys"+tc.query, "")
		var ks []meta.Key
		if err := json.Unmarshal(body, &ks); status != 200 || err != nil {
			t.Fatalf("%s: %d %s", tc.query, status, body)
		}
		var got []string
		for _, k := range ks {
			got = append(got, k.AccessKeyID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	if status, body := do("GET", "/_raya/admin/v1/keys?unusedFor=soon", ""); status != 400 || errorCode(t, body) != "InvalidRequest" {
		t.Errorf("bad unusedFor: %d %s", status, body)
	}
}

func TestResealEndpoint(t *testing.T) {
	ctx := context.Background()
	// Without a master key: a clear refusal.
	_, do := newLoggedHandler(t, newStore(t))
	status, body := do("POST", "/_raya/admin/v1/reseal", "")
	if status != 409 || errorCode(t, body) != "NotSealed" || !strings.Contains(string(body), "RAYA_MASTER_KEY") {
		t.Errorf("reseal without sealing: %d %s", status, body)
	}

	// With one, through the production chain keycache(sealed(store)).
	inner := newStore(t) // its root key is plaintext: a legacy secret
	kr, err := sealed.ParseKeyring(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	chain := keycache.New(sealed.New(inner, kr), nil)
	logs, do := newLoggedHandler(t, chain)
	status, body = do("POST", "/_raya/admin/v1/keys", `{"bucket":"photos"}`)
	if status != 201 {
		t.Fatal(status, string(body))
	}
	status, body = do("POST", "/_raya/admin/v1/reseal", "")
	m, fields := fieldsOf(t, body)
	if status != 200 || !slices.Equal(fields, []string{"current", "failed", "plaintext", "primaryKeyId", "resealed", "total"}) {
		t.Fatalf("reseal: %d %s", status, body)
	}
	if m["primaryKeyId"] != kr.PrimaryID() || m["total"] != 2.0 || m["resealed"] != 1.0 || m["plaintext"] != 1.0 || m["current"] != 1.0 {
		t.Errorf("reseal result %s", body)
	}
	raw, _ := inner.GetKey(ctx, rootID)
	if !sealed.IsSealed(raw.SecretAccessKey) {
		t.Errorf("root secret still plaintext after reseal")
	}
	if k, err := chain.GetKey(ctx, rootID); err != nil || k.SecretAccessKey != strings.Repeat("s", 40) {
		t.Errorf("root key through the chain: %+v, %v", k, err)
	}
	if got := actions(auditLog(t, logs)); !slices.Equal(got, []string{"key.create", "keys.reseal"}) {
		t.Errorf("audit %v", got)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30d", 30 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"0.5d", 12 * time.Hour, false},
		{"24h", 24 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"0", 0, false},
		{"720h0m0s", 720 * time.Hour, false},
		{"-1d", -24 * time.Hour, false},
		{"d", 0, true},
		{"1h2d", 0, true},
		{"1d-2h", 0, true},
		{"xd", 0, true},
		{"99999999d", 0, true},
		{"", 0, true},
		{"soon", 0, true},
	} {
		got, err := admin.ParseDuration(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestClientLifecycle(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	h := admin.NewHandler(store, &admin.Options{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(verified(t, store, h))
	defer srv.Close()
	c := admin.NewClient(srv.URL, rootID, strings.Repeat("s", 40), srv.Client())

	a, err := c.CreateAccount(ctx, "initech")
	if err != nil || len(a.ID) != 64 || a.DisplayName != "initech" {
		t.Fatalf("CreateAccount: %+v, %v", a, err)
	}
	k, err := c.CreateKey(ctx, admin.CreateKeyRequest{Account: a.ID, Label: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := c.RotateKey(ctx, k.AccessKeyID, admin.RotateKeyRequest{Grace: "1h"})
	if err != nil || rot.Replaces != k.AccessKeyID || rot.SecretAccessKey == "" || rot.Account != a.ID || rot.Label != "ci" ||
		rot.OldKeyRevoked || time.Until(rot.OldKeyExpiresAt) > time.Hour || time.Until(rot.OldKeyExpiresAt) < 59*time.Minute {
		t.Fatalf("RotateKey: %+v, %v", rot, err)
	}
	// Both keys work during the grace: the new one signs admin requests
	// only if root, so check the store instead.
	if _, err := store.GetKey(ctx, k.AccessKeyID); err != nil {
		t.Errorf("old key gone during the grace: %v", err)
	}
	off, err := c.SetKeyStatus(ctx, rot.AccessKeyID, meta.KeyInactive)
	if err != nil || off.Status != meta.KeyInactive || off.SecretAccessKey != "" {
		t.Fatalf("disable: %+v, %v", off, err)
	}
	on, err := c.SetKeyStatus(ctx, rot.AccessKeyID, meta.KeyActive)
	if err != nil || on.Status != meta.KeyActive {
		t.Fatalf("enable: %+v, %v", on, err)
	}
	ks, err := c.FindKeys(ctx, admin.KeyQuery{Account: a.ID})
	if err != nil || len(ks) != 2 {
		t.Fatalf("FindKeys: %+v, %v", ks, err)
	}
	// Only the fixture's root key (created long ago) is unused.
	ks, err = c.FindKeys(ctx, admin.KeyQuery{UnusedFor: 24 * time.Hour})
	if err != nil || len(ks) != 1 || ks[0].AccessKeyID != rootID {
		t.Fatalf("FindKeys unused: %+v, %v", ks, err)
	}
	var ae *admin.Error
	if _, err := c.RotateKey(ctx, rootID, admin.RotateKeyRequest{}); !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "root key") {
		t.Errorf("rotate root: %v", err)
	}
	if _, err := c.SetKeyStatus(ctx, rootID, meta.KeyInactive); !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Errorf("disable root: %v", err)
	}
	if _, err := c.Reseal(ctx); !errors.As(err, &ae) || ae.Code != admin.CodeNotSealed {
		t.Errorf("reseal: %v", err)
	}
}
