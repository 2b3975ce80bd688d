package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/keycache"
	"github.com/cloudraya/raya/gateway/meta/sealed"
)

func TestKeyRotateJSON(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	ctx := context.Background()
	var old keyOut
	oneJSONLine(t, ok(t, env, "key", "create", "--bucket", "photos", "--label", "web", "--json"), &old)

	before := time.Now()
	out := ok(t, env, "key", "rotate", old.AccessKeyID, "--grace", "24h", "--json")
	var got map[string]any
	oneJSONLine(t, out, &got)
	want := []string{"accessKeyId", "account", "bucket", "createdAt", "label", "oldKeyExpiresAt", "replaces", "secretAccessKey", "status"}
	if !slices.Equal(keysOf(got), want) {
		t.Errorf("fields %v, want %v", keysOf(got), want)
	}
	newID, _ := got["accessKeyId"].(string)
	if newID == "" || newID == old.AccessKeyID || got["replaces"] != old.AccessKeyID || got["bucket"] != "photos" ||
		got["label"] != "web" || got["account"] != ownerID || got["status"] != "active" || len(got["secretAccessKey"].(string)) != 40 {
		t.Errorf("rotation %v", got)
	}
	exp, err := time.Parse(time.RFC3339, got["oldKeyExpiresAt"].(string))
	if err != nil || exp.Before(before.Add(24*time.Hour).Add(-time.Second)) || exp.After(time.Now().Add(24*time.Hour)) {
		t.Errorf("oldKeyExpiresAt %v", got["oldKeyExpiresAt"])
	}
	// Both keys exist during the grace; the old one now expires.
	if k, err := f.store.GetKey(ctx, old.AccessKeyID); err != nil || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) {
		t.Errorf("old key %+v, %v", k, err)
	}
	if k, err := f.store.GetKey(ctx, newID); err != nil || k.SecretAccessKey != got["secretAccessKey"] {
		t.Errorf("new key %+v, %v", k, err)
	}

	// --grace 0 revokes the old key at once; --expires sets the new one's.
	out = ok(t, env, "key", "rotate", newID, "--grace", "0", "--expires", "30d", "--json")
	got = nil
	oneJSONLine(t, out, &got)
	want = []string{"accessKeyId", "account", "bucket", "createdAt", "expiresAt", "label", "oldKeyExpiresAt", "oldKeyRevoked", "replaces", "secretAccessKey", "status"}
	if !slices.Equal(keysOf(got), want) || got["oldKeyRevoked"] != true || got["replaces"] != newID {
		t.Errorf("grace 0: %v", got)
	}
	if _, err := f.store.GetKey(ctx, newID); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("key rotated with grace 0 still exists: %v", err)
	}
}

func TestKeyRotateText(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	var old keyOut
	oneJSONLine(t, ok(t, env, "key", "create", "--account", otherID, "--label", "ci", "--json"), &old)
	out := ok(t, env, "key", "rotate", old.AccessKeyID) // default grace 24h
	for _, want := range []string{"Access key ID:", "Secret access key:", "Replaces:", old.AccessKeyID + " (expires ", "account-wide", "ci", "cannot be shown again"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestKeyDisableEnable(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	ctx := context.Background()
	var k keyOut
	oneJSONLine(t, ok(t, env, "key", "create", "--bucket", "photos", "--label", "web", "--json"), &k)

	var got map[string]any
	oneJSONLine(t, ok(t, env, "key", "disable", k.AccessKeyID, "--json"), &got)
	if want := []string{"accessKeyId", "account", "bucket", "createdAt", "label", "status"}; !slices.Equal(keysOf(got), want) {
		t.Errorf("fields %v, want %v", keysOf(got), want)
	}
	if got["status"] != "inactive" || got["accessKeyId"] != k.AccessKeyID {
		t.Errorf("disable: %v", got)
	}
	if s, _ := f.store.GetKey(ctx, k.AccessKeyID); s.Status != meta.KeyInactive {
		t.Errorf("stored status %s", s.Status)
	}
	if out := ok(t, env, "key", "enable", k.AccessKeyID); out != "Enabled access key "+k.AccessKeyID+" (status active)\n" {
		t.Errorf("enable: %q", out)
	}
	if s, _ := f.store.GetKey(ctx, k.AccessKeyID); s.Status != meta.KeyActive {
		t.Errorf("stored status %s", s.Status)
	}
	if out := ok(t, env, "key", "disable", k.AccessKeyID); out != "Disabled access key "+k.AccessKeyID+" (status inactive)\n" {
		t.Errorf("disable: %q", out)
	}
	if table := ok(t, env, "key", "list", "--bucket", "photos"); !strings.Contains(table, "inactive") {
		t.Errorf("table:\n%s", table)
	}
}

func TestKeyListUnusedFor(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	ago := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	day := 24 * time.Hour
	for _, k := range []meta.Key{
		{AccessKeyID: "RYFRESH0000000000000", Bucket: "photos", CreatedAt: *ago(90 * day), LastUsedAt: ago(time.Hour)},
		{AccessKeyID: "RYSTALE0000000000000", Bucket: "photos", CreatedAt: *ago(90 * day), LastUsedAt: ago(40 * day)},
		{AccessKeyID: "RYNEVER0000000000000", Bucket: "backups", CreatedAt: *ago(31 * day), ExpiresAt: ago(day)},
	} {
		k.SecretAccessKey, k.Account, k.Status = "s", ownerID, meta.KeyActive
		if err := f.store.PutKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	// The fixture's root key was created on 2026-01-02: unused too.
	var got []map[string]any
	oneJSONLine(t, ok(t, env, "key", "list", "--unused-for", "30d", "--json"), &got)
	var ids []string
	for _, k := range got {
		ids = append(ids, k["accessKeyId"].(string))
		if _, ok := k["secretAccessKey"]; ok {
			t.Errorf("secret listed: %v", k)
		}
	}
	if want := []string{"RYNEVER0000000000000", rootID, "RYSTALE0000000000000"}; !slices.Equal(ids, want) {
		t.Errorf("--unused-for 30d: %v, want %v", ids, want)
	}
	if got[2]["lastUsedAt"] != ago(40*day).Format(time.RFC3339) {
		t.Errorf("last use not shown: %v", got[2])
	}
	if _, ok := got[0]["lastUsedAt"]; ok {
		t.Errorf("a never used key has lastUsedAt: %v", got[0])
	}
	oneJSONLine(t, ok(t, env, "key", "list", "--unused-for", "30d", "--bucket", "photos", "--json"), &got)
	if len(got) != 1 || got[0]["accessKeyId"] != "RYSTALE0000000000000" {
		t.Errorf("--unused-for with --bucket: %v", got)
	}
	table := ok(t, env, "key", "list", "--unused-for", "720h")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.Contains(table, "LAST USED") || !strings.Contains(lines[1], "never") || !strings.Contains(lines[1], "expired") ||
		!strings.Contains(lines[3], ago(40*day).Format(time.RFC3339)) {
		t.Errorf("table:\n%s", table)
	}
}

func TestAccountCreate(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	var got map[string]any
	oneJSONLine(t, ok(t, env, "account", "create", "initech", "--json"), &got)
	if want := []string{"createdAt", "displayName", "id"}; !slices.Equal(keysOf(got), want) {
		t.Errorf("fields %v, want %v", keysOf(got), want)
	}
	id, _ := got["id"].(string)
	if len(id) != 64 || got["displayName"] != "initech" {
		t.Errorf("account %v", got)
	}
	// The account takes an account-wide key at once.
	var k keyOut
	oneJSONLine(t, ok(t, env, "key", "create", "--account", id, "--json"), &k)
	if k.Account != id || k.Bucket != "" {
		t.Errorf("account-wide key %+v", k)
	}
	if out := ok(t, env, "account", "create", "hooli"); !strings.HasPrefix(out, "Created account ") || !strings.Contains(out, "(hooli)") {
		t.Errorf("text: %q", out)
	}
	var accounts []meta.Account
	oneJSONLine(t, ok(t, env, "account", "list", "--json"), &accounts)
	if len(accounts) != 4 {
		t.Errorf("accounts %+v", accounts)
	}
}

var masterKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))

func TestKeyReseal(t *testing.T) {
	kr, err := sealed.ParseKeyring(masterKey)
	if err != nil {
		t.Fatal(err)
	}
	var inner meta.Store
	f := newFixtureWith(t, func(s meta.Store) meta.Store {
		inner = s
		return keycache.New(sealed.New(s, kr), nil)
	})
	env := f.server(t)
	var got map[string]any
	// The fixture's root key went in through the sealing layer; one legacy
	// plaintext key is added behind it.
	if err := inner.PutKey(context.Background(), meta.Key{AccessKeyID: "RYLEGACY", SecretAccessKey: "plain", Account: ownerID,
		Status: meta.KeyActive, CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	oneJSONLine(t, ok(t, env, "key", "reseal", "--json"), &got)
	if want := []string{"current", "failed", "plaintext", "primaryKeyId", "resealed", "total"}; !slices.Equal(keysOf(got), want) {
		t.Errorf("fields %v, want %v", keysOf(got), want)
	}
	if got["primaryKeyId"] != kr.PrimaryID() || got["total"] != jsonNumber(2) || got["resealed"] != jsonNumber(1) ||
		got["plaintext"] != jsonNumber(1) || got["current"] != jsonNumber(1) {
		t.Errorf("reseal %v", got)
	}
	if raw, _ := inner.GetKey(context.Background(), "RYLEGACY"); !sealed.IsSealed(raw.SecretAccessKey) {
		t.Errorf("legacy secret not sealed: %q", raw.SecretAccessKey)
	}
	out := ok(t, env, "key", "reseal")
	if !strings.Contains(out, "Master key "+kr.PrimaryID()+": 2 keys, 0 re-encrypted (0 were plaintext), 2 already current, 0 failed") {
		t.Errorf("text: %q", out)
	}

	// A key sealed with a master key this gateway does not have: reported,
	// exit 1.
	other, _ := sealed.ParseKeyring(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{6}, 32)))
	if err := sealed.New(inner, other).PutKey(context.Background(), meta.Key{AccessKeyID: "RYLOST", SecretAccessKey: "x",
		Account: ownerID, Status: meta.KeyActive, CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	r := raya(t, env, "key", "reseal")
	if r.code != 1 || !strings.Contains(r.stdout, "RYLOST") || !strings.Contains(r.stderr, "RAYA_MASTER_KEY_PREVIOUS") {
		t.Errorf("reseal with a lost key: %+v", r)
	}
}

func TestLifecycleErrors(t *testing.T) {
	f := newFixture(t)
	env := f.server(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"rotate root", []string{"key", "rotate", rootID}, 1, []string{"root key", "cannot be rotated"}},
		{"disable root", []string{"key", "disable", rootID}, 1, []string{"root key", "cannot be disabled"}},
		{"enable root", []string{"key", "enable", rootID}, 1, []string{"root key"}},
		{"revoke root", []string{"key", "revoke", rootID}, 1, []string{"root key", "RAYA_ROOT_ACCESS_KEY"}},
		{"rotate unknown", []string{"key", "rotate", "RYNOPE"}, 1, []string{"NotFound", "RYNOPE"}},
		{"disable unknown", []string{"key", "disable", "RYNOPE"}, 1, []string{"NotFound"}},
		{"bad grace", []string{"key", "rotate", "RYX", "--grace", "soon"}, 2, []string{"--grace"}},
		{"negative grace", []string{"key", "rotate", "RYX", "--grace", "-1h"}, 2, []string{"--grace"}},
		{"rotate without ID", []string{"key", "rotate"}, 2, []string{"one access key ID"}},
		{"disable two IDs", []string{"key", "disable", "A", "B"}, 2, []string{"one access key ID"}},
		{"bad unused-for", []string{"key", "list", "--unused-for", "a month"}, 2, []string{"--unused-for"}},
		{"zero unused-for", []string{"key", "list", "--unused-for", "0"}, 2, []string{"positive"}},
		{"account without name", []string{"account", "create"}, 2, []string{"one account name"}},
		{"duplicate account", []string{"account", "create", "acme"}, 1, []string{"AlreadyExists"}},
		{"reseal without master key", []string{"key", "reseal"}, 1, []string{"NotSealed", "RAYA_MASTER_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := raya(t, env, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			}
		})
	}
	if k, err := f.store.GetKey(context.Background(), rootID); err != nil || k.Status != meta.KeyActive || k.ExpiresAt != nil {
		t.Errorf("root key after refusals: %+v, %v", k, err)
	}
}

func TestLifecycleHelp(t *testing.T) {
	help := ok(t, nil, "key", "--help")
	for _, sub := range []string{"create", "list", "revoke", "rotate", "disable", "enable", "reseal"} {
		if !strings.Contains(help, sub) {
			t.Errorf("key help lacks %q:\n%s", sub, help)
		}
	}
	if out := ok(t, nil, "key", "rotate", "--help"); !strings.Contains(out, "--grace") || !strings.Contains(out, "24h") {
		t.Errorf("rotate help:\n%s", out)
	}
	if out := ok(t, nil, "key", "list", "--help"); !strings.Contains(out, "--unused-for") {
		t.Errorf("list help:\n%s", out)
	}
	if out := ok(t, nil, "account", "--help"); !strings.Contains(out, "create") {
		t.Errorf("account help:\n%s", out)
	}
}

// jsonNumber is how a JSON integer decodes with UseNumber.
func jsonNumber(n int) any { return json.Number(strconv.Itoa(n)) }
