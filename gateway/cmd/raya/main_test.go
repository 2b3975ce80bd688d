package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
	created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

const (
	rootID     = "RYROOT00000000000000"
	rootSecret = "rootsecretrootsecretrootsecretrootsecret"
)

// fixture is a store with two accounts, two buckets and the root key, and an
// admin handler over it that trusts every request as the root key (the S3
// handler verifies signatures in production).
type fixture struct {
	store   meta.Store
	handler http.Handler
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, nil) }

// newFixtureWith is newFixture over wrap(the embedded store) when wrap is
// not nil.
func newFixtureWith(t *testing.T, wrap func(meta.Store) meta.Store) *fixture {
	t.Helper()
	var s meta.Store
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "meta.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		s = wrap(s)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateAccount(ctx, meta.Account{ID: ownerID, DisplayName: "acme", CreatedAt: created}))
	must(s.CreateAccount(ctx, meta.Account{ID: otherID, DisplayName: "globex", CreatedAt: created}))
	must(s.CreateBucket(ctx, meta.Bucket{Name: "photos", Owner: ownerID, Backend: "local", CreatedAt: created}))
	must(s.CreateBucket(ctx, meta.Bucket{Name: "backups", Owner: otherID, Backend: "gcs", Region: "asia", CreatedAt: created}))
	must(s.PutKey(ctx, meta.Key{AccessKeyID: rootID, SecretAccessKey: rootSecret, Account: ownerID, Root: true,
		Status: meta.KeyActive, CreatedAt: created}))
	h := admin.NewHandler(s, &admin.Options{Logger: slog.New(slog.DiscardHandler)})
	return &fixture{store: s, handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(admin.WithCaller(r.Context(), rootID)))
	})}
}

// server starts a plain HTTP server for the fixture and returns the admin
// environment pointing at it.
func (f *fixture) server(t *testing.T) map[string]string {
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	return map[string]string{envEndpoint: srv.URL, envAccessKey: rootID, envSecretKey: rootSecret}
}

type result struct {
	code           int
	stdout, stderr string
}

func raya(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runContext(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return result{code, out.String(), errOut.String()}
}

// ok runs raya and fails the test unless it exits 0 with an empty stderr.
func ok(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	r := raya(t, env, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("raya %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// oneJSONLine checks out is exactly one line of JSON and decodes it.
func oneJSONLine(t *testing.T, out string, v any) {
	t.Helper()
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("want exactly one line, got %q", out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("not JSON: %v: %q", err, out)
	}
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestKeyCreateJSON(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	before := time.Now()
	out := ok(t, env, "key", "create", "--bucket", "photos", "--label", "web", "--expires", "720h", "--json")
	var got map[string]any
	oneJSONLine(t, out, &got)
	wantFields := []string{"accessKeyId", "account", "bucket", "createdAt", "expiresAt", "label", "secretAccessKey", "status"}
	if !slices.Equal(keysOf(got), wantFields) {
		t.Errorf("fields %v, want %v", keysOf(got), wantFields)
	}
	id, _ := got["accessKeyId"].(string)
	secret, _ := got["secretAccessKey"].(string)
	if !regexp.MustCompile(`^RY[A-Z0-9]{18}$`).MatchString(id) || !regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`).MatchString(secret) {
		t.Errorf("key pair %q / %q", id, secret)
	}
	if got["bucket"] != "photos" || got["label"] != "web" || got["account"] != ownerID || got["status"] != "active" {
		t.Errorf("key %v", got)
	}
	exp, err := time.Parse(time.RFC3339, got["expiresAt"].(string))
	if err != nil || exp.Before(before.Add(720*time.Hour).Add(-time.Second)) || exp.After(time.Now().Add(720*time.Hour)) {
		t.Errorf("expiresAt %v (%v), want about now+720h", got["expiresAt"], err)
	}
	k, err := f.store.GetKey(context.Background(), id)
	if err != nil || k.SecretAccessKey != secret || k.Bucket != "photos" {
		t.Fatalf("stored key %+v, %v", k, err)
	}
}

func TestKeyCreateAccountWideJSON(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	out := ok(t, env, "key", "create", "--account", otherID, "--label", "ci", "--json")
	var got map[string]any
	oneJSONLine(t, out, &got)
	wantFields := []string{"accessKeyId", "account", "createdAt", "label", "secretAccessKey", "status"}
	if !slices.Equal(keysOf(got), wantFields) {
		t.Errorf("fields %v, want %v", keysOf(got), wantFields)
	}
	if got["account"] != otherID {
		t.Errorf("account %v", got["account"])
	}
}

func TestKeyCreateText(t *testing.T) {
	f := newFixture(t)
	out := ok(t, f.server(t), "key", "create", "--bucket", "photos", "--label", "web")
	for _, want := range []string{"Access key ID:", "Secret access key:", "Scope:", "bucket photos", "web", "Expires:", "cannot be shown again"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	keys, _ := f.store.ListKeys(context.Background(), meta.KeyFilter{Bucket: "photos"})
	if len(keys) != 1 || !strings.Contains(out, keys[0].SecretAccessKey) || !strings.Contains(out, keys[0].AccessKeyID) {
		t.Errorf("output does not show the stored pair:\n%s", out)
	}
}

func TestKeyListDelete(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	var k1, k2 keyOut
	oneJSONLine(t, ok(t, env, "key", "create", "--bucket", "photos", "--label", "a", "--json"), &k1)
	oneJSONLine(t, ok(t, env, "key", "create", "--bucket", "backups", "--label", "b", "--json"), &k2)

	out := ok(t, env, "key", "list", "--json")
	if strings.Contains(out, "secretAccessKey") || strings.Contains(out, k1.SecretAccessKey) || strings.Contains(out, rootSecret) {
		t.Fatalf("list shows secrets: %s", out)
	}
	var all []keyOut
	oneJSONLine(t, out, &all)
	ids := []string{rootID, k1.AccessKeyID, k2.AccessKeyID}
	slices.Sort(ids)
	var gotIDs []string
	for _, k := range all {
		gotIDs = append(gotIDs, k.AccessKeyID)
	}
	if !slices.Equal(gotIDs, ids) {
		t.Errorf("listed %v, want %v", gotIDs, ids)
	}

	var some []keyOut
	oneJSONLine(t, ok(t, env, "key", "list", "--bucket", "backups", "--json"), &some)
	if len(some) != 1 || some[0].AccessKeyID != k2.AccessKeyID || some[0].Account != otherID {
		t.Errorf("--bucket backups: %+v", some)
	}
	oneJSONLine(t, ok(t, env, "key", "list", "--account", ownerID, "--json"), &some)
	if len(some) != 2 {
		t.Errorf("--account owner: %+v", some)
	}
	if out := ok(t, env, "key", "list", "--bucket", "nothing-here", "--json"); out != "[]\n" {
		t.Errorf("empty list: %q", out)
	}

	table := ok(t, env, "key", "list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ACCESS KEY ID") || !strings.Contains(table, "(root)") ||
		!strings.Contains(table, k1.AccessKeyID) {
		t.Errorf("table:\n%s", table)
	}

	if out := ok(t, env, "key", "delete", k1.AccessKeyID); !strings.Contains(out, k1.AccessKeyID) {
		t.Errorf("delete output %q", out)
	}
	ok(t, env, "key", "revoke", k2.AccessKeyID)
	oneJSONLine(t, ok(t, env, "key", "list", "--json"), &all)
	if len(all) != 1 || all[0].AccessKeyID != rootID {
		t.Errorf("after revoking: %+v", all)
	}
}

func TestBucketAccountList(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)

	var buckets []map[string]any
	oneJSONLine(t, ok(t, env, "bucket", "list", "--json"), &buckets)
	if len(buckets) != 2 || buckets[0]["name"] != "backups" || buckets[0]["owner"] != otherID ||
		buckets[0]["backend"] != "gcs" || buckets[0]["region"] != "asia" || buckets[0]["createdAt"] != created.Format(time.RFC3339) {
		t.Errorf("buckets %v", buckets)
	}
	table := ok(t, env, "bucket", "list")
	if !strings.HasPrefix(table, "NAME") || !strings.Contains(table, "photos") || strings.Count(table, "\n") != 3 {
		t.Errorf("bucket table:\n%s", table)
	}

	var accounts []meta.Account
	oneJSONLine(t, ok(t, env, "account", "list", "--json"), &accounts)
	if len(accounts) != 2 || accounts[0].ID != ownerID || accounts[1].DisplayName != "globex" {
		t.Errorf("accounts %+v", accounts)
	}
	table = ok(t, env, "account", "list")
	if !strings.HasPrefix(table, "ID") || !strings.Contains(table, "globex") {
		t.Errorf("account table:\n%s", table)
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr []string
	}{
		{"unknown bucket", env, []string{"key", "create", "--bucket", "nope", "--json"}, 1, []string{"NotFound", `"nope"`}},
		{"unknown key", env, []string{"key", "delete", "RYNOPE"}, 1, []string{"NotFound", "RYNOPE"}},
		{"root key", env, []string{"key", "revoke", rootID}, 1, []string{"root key"}},
		{"no scope", env, []string{"key", "create", "--label", "x"}, 2, []string{"--bucket", "--account"}},
		{"bad expiry", env, []string{"key", "create", "--bucket", "photos", "--expires", "soon"}, 2, []string{"--expires"}},
		{"negative expiry", env, []string{"key", "create", "--bucket", "photos", "--expires", "-1h"}, 2, []string{"positive"}},
		{"unknown flag", env, []string{"key", "list", "--bukket", "x"}, 2, []string{"unknown flag", "raya key list --help"}},
		{"delete without ID", env, []string{"key", "delete"}, 2, []string{"one access key ID"}},
		{"stray argument", env, []string{"bucket", "list", "extra"}, 2, []string{"no arguments"}},
		{"unknown command", env, []string{"bukket"}, 2, []string{"unknown command"}},
		{"no credentials", map[string]string{envEndpoint: env[envEndpoint]}, []string{"bucket", "list"}, 1,
			[]string{"RAYA_ACCESS_KEY and RAYA_SECRET_KEY not set"}},
		{"no secret", map[string]string{envAccessKey: rootID}, []string{"bucket", "list"}, 1, []string{"RAYA_SECRET_KEY not set"}},
		{"bad endpoint", map[string]string{envEndpoint: "127.0.0.1:9000", envAccessKey: "a", envSecretKey: "b"},
			[]string{"account", "list"}, 1, []string{"RAYA_ENDPOINT"}},
		{"unreachable", map[string]string{envEndpoint: "http://127.0.0.1:1", envAccessKey: "a", envSecretKey: "b"},
			[]string{"account", "list"}, 1, []string{"127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := raya(t, tt.env, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "raya: ") {
				t.Errorf("stderr %q", r.stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			}
		})
	}
}

func TestPlainHTTPWarning(t *testing.T) {
	// Nothing listens on this documentation address; the warning comes
	// before the connection attempt.
	env := map[string]string{envEndpoint: "http://192.0.2.1:1", envAccessKey: "a", envSecretKey: "b"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	runContext(ctx, []string{"bucket", "list"}, &out, &errOut, func(k string) string { return env[k] })
	if !strings.Contains(errOut.String(), "warning: RAYA_ENDPOINT uses plain HTTP") {
		t.Errorf("stderr %q", errOut.String())
	}
}

func TestCABundle(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewTLSServer(f.handler)
	defer srv.Close()
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{envEndpoint: srv.URL, envAccessKey: rootID, envSecretKey: rootSecret}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for k, v := range base {
			m[k] = v
		}
		return m
	}

	if r := raya(t, base, "bucket", "list"); r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("without a bundle: exit %d, stderr %q; want a certificate error", r.code, r.stderr)
	}
	for _, v := range []string{envCABundle, envAWSCABundle} {
		if out := ok(t, with(v, bundle), "bucket", "list", "--json"); !strings.Contains(out, "photos") {
			t.Errorf("%s: %q", v, out)
		}
	}
	if r := raya(t, with(envCABundle, notPEM), "bucket", "list"); r.code != 1 || !strings.Contains(r.stderr, "RAYA_CA_BUNDLE: no PEM certificates") {
		t.Errorf("bad bundle: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := raya(t, with(envAWSCABundle, filepath.Join(dir, "missing.pem")), "bucket", "list"); r.code != 1 || !strings.Contains(r.stderr, "AWS_CA_BUNDLE") {
		t.Errorf("missing bundle: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersionHelpServe(t *testing.T) {
	if out := ok(t, nil, "version"); !strings.HasPrefix(out, "raya ") || strings.Count(out, "\n") != 1 {
		t.Errorf("version: %q", out)
	}
	if out := ok(t, nil, "--version"); !strings.HasPrefix(out, "raya ") {
		t.Errorf("--version: %q", out)
	}
	help := ok(t, nil)
	for _, sub := range []string{"serve", "key", "bucket", "account", "version"} {
		if !strings.Contains(help, sub) {
			t.Errorf("help lacks %q:\n%s", sub, help)
		}
	}
	if out := ok(t, nil, "key", "create", "--help"); !strings.Contains(out, "--expires") || !strings.Contains(out, "--json") {
		t.Errorf("key create --help:\n%s", out)
	}
	ok(t, nil, "serve", "--help")
}

func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "raya ") {
		t.Errorf("run version: %d %q %q", code, out.String(), errOut.String())
	}
}
