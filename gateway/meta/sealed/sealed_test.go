package sealed_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/boltstore"
	"github.com/cloudraya/raya/gateway/meta/metatest"
	"github.com/cloudraya/raya/gateway/meta/sealed"
)

var (
	keyA = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	keyB = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	keyC = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
)

func keyring(t *testing.T, primary string, old ...string) *sealed.Keyring {
	t.Helper()
	kr, err := sealed.ParseKeyring(primary, old...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// openBolt returns an embedded store in a fresh folder and the path of its
// file.
func openBolt(t *testing.T) (*boltstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func TestConformance(t *testing.T) {
	kr := keyring(t, keyA, keyB)
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, _ := openBolt(t)
		return sealed.New(s, kr)
	})
}

func testKey(id, secret string) meta.Key {
	return meta.Key{AccessKeyID: id, SecretAccessKey: secret, Account: strings.Repeat("a", 64), Bucket: "photos",
		Label: "web", Status: meta.KeyActive, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestRoundTripAndNoPlaintextAtRest(t *testing.T) {
	ctx := context.Background()
	inner, path := openBolt(t)
	s := sealed.New(inner, keyring(t, keyA))
	defer s.Close()
	secrets := map[string]string{
		"RYKEY1": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"RYKEY2": "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy",
		"RYKEY3": "", // even an empty secret is sealed
	}
	for id, secret := range secrets {
		if err := s.PutKey(ctx, testKey(id, secret)); err != nil {
			t.Fatal(err)
		}
	}
	for id, secret := range secrets {
		k, err := s.GetKey(ctx, id)
		if err != nil || k.SecretAccessKey != secret {
			t.Errorf("GetKey(%s) = %+v, %v; want secret %q", id, k, err, secret)
		}
	}
	ks, err := s.ListKeys(ctx, meta.KeyFilter{Bucket: "photos"})
	if err != nil || len(ks) != 3 {
		t.Fatalf("ListKeys: %d keys, %v", len(ks), err)
	}
	for _, k := range ks {
		if k.SecretAccessKey != secrets[k.AccessKeyID] {
			t.Errorf("ListKeys: %s has secret %q", k.AccessKeyID, k.SecretAccessKey)
		}
	}

	// What the inner store holds: sealed values only, each different.
	raw, err := inner.ListKeys(ctx, meta.KeyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, k := range raw {
		if !sealed.IsSealed(k.SecretAccessKey) || !strings.HasPrefix(k.SecretAccessKey, "raya:v1:"+keyring(t, keyA).PrimaryID()+":") {
			t.Errorf("inner store holds %q for %s", k.SecretAccessKey, k.AccessKeyID)
		}
		if seen[k.SecretAccessKey] {
			t.Errorf("two keys share the sealed value %q", k.SecretAccessKey)
		}
		seen[k.SecretAccessKey] = true
		if k.Label != "web" || k.Bucket != "photos" {
			t.Errorf("sealing changed other fields: %+v", k)
		}
	}
	// And the file itself.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dump, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secrets {
		if secret != "" && bytes.Contains(dump, []byte(secret)) {
			t.Errorf("the store file contains the secret %q", secret)
		}
	}
	if !bytes.Contains(dump, []byte("raya:v1:")) {
		t.Error("the store file holds no sealed value; is the test reading the right file?")
	}
}

func TestWrongMasterKeyFailsClearly(t *testing.T) {
	ctx := context.Background()
	inner, _ := openBolt(t)
	defer inner.Close()
	if err := sealed.New(inner, keyring(t, keyA)).PutKey(ctx, testKey("RYKEY1", "s3cret")); err != nil {
		t.Fatal(err)
	}
	other := sealed.New(inner, keyring(t, keyB))
	_, err := other.GetKey(ctx, "RYKEY1")
	if !errors.Is(err, sealed.ErrUnknownMasterKey) {
		t.Fatalf("GetKey with another master key: %v, want ErrUnknownMasterKey", err)
	}
	for _, want := range []string{"RYKEY1", keyring(t, keyA).PrimaryID(), "RAYA_MASTER_KEY_PREVIOUS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := other.ListKeys(ctx, meta.KeyFilter{}); !errors.Is(err, sealed.ErrUnknownMasterKey) {
		t.Errorf("ListKeys with another master key: %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Error("the error shows the secret")
	}
}

func TestSealedSecretBoundToItsKey(t *testing.T) {
	ctx := context.Background()
	inner, _ := openBolt(t)
	defer inner.Close()
	s := sealed.New(inner, keyring(t, keyA))
	for _, id := range []string{"RYVICTIM", "RYATTACKER"} {
		if err := s.PutKey(ctx, testKey(id, "secret-of-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	// Someone with write access to the store copies the victim's sealed
	// secret onto the attacker's key.
	victim, _ := inner.GetKey(ctx, "RYVICTIM")
	attacker, _ := inner.GetKey(ctx, "RYATTACKER")
	attacker.SecretAccessKey = victim.SecretAccessKey
	if err := inner.PutKey(ctx, *attacker); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKey(ctx, "RYATTACKER"); !errors.Is(err, sealed.ErrOpen) {
		t.Fatalf("moved secret: %v, want ErrOpen", err)
	}
	// Altered ciphertext and malformed values fail the same way.
	for _, v := range []string{
		victim.SecretAccessKey[:len(victim.SecretAccessKey)-2] + "AA",
		"raya:v1:" + keyring(t, keyA).PrimaryID() + ":!!!",
		"raya:v1:" + keyring(t, keyA).PrimaryID() + ":AAAA",
		"raya:v1:nokid",
	} {
		k := *victim
		k.SecretAccessKey = v
		if err := inner.PutKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetKey(ctx, "RYVICTIM"); !errors.Is(err, sealed.ErrOpen) {
			t.Errorf("value %q: %v, want ErrOpen", v, err)
		}
	}
}

func TestLegacyPlaintextIsReadAsIs(t *testing.T) {
	ctx := context.Background()
	inner, _ := openBolt(t)
	defer inner.Close()
	if err := inner.PutKey(ctx, testKey("RYOLD", "plain-secret")); err != nil {
		t.Fatal(err)
	}
	k, err := sealed.New(inner, keyring(t, keyA)).GetKey(ctx, "RYOLD")
	if err != nil || k.SecretAccessKey != "plain-secret" {
		t.Fatalf("GetKey legacy: %+v, %v", k, err)
	}
}

func TestMasterKeyRotationAndReseal(t *testing.T) {
	ctx := context.Background()
	inner, _ := openBolt(t)
	defer inner.Close()

	// Before: secrets sealed with A, and one legacy plaintext secret.
	old := sealed.New(inner, keyring(t, keyA))
	for _, id := range []string{"RYK1", "RYK2"} {
		if err := old.PutKey(ctx, testKey(id, "secret-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := inner.PutKey(ctx, testKey("RYPLAIN", "secret-RYPLAIN")); err != nil {
		t.Fatal(err)
	}

	// Step 2: B primary, A previous. Everything still opens; new writes
	// use B.
	kr := keyring(t, keyB, keyA)
	rotated := sealed.New(inner, kr)
	if err := rotated.PutKey(ctx, testKey("RYK3", "secret-RYK3")); err != nil {
		t.Fatal(err)
	}
	ks, err := rotated.ListKeys(ctx, meta.KeyFilter{})
	if err != nil || len(ks) != 4 {
		t.Fatalf("ListKeys during rotation: %v, %v", ks, err)
	}
	for _, k := range ks {
		if k.SecretAccessKey != "secret-"+k.AccessKeyID {
			t.Errorf("%s opened to %q", k.AccessKeyID, k.SecretAccessKey)
		}
	}
	// An instance still on A alone cannot open what B sealed.
	if _, err := old.GetKey(ctx, "RYK3"); !errors.Is(err, sealed.ErrUnknownMasterKey) {
		t.Errorf("old instance reading a new secret: %v", err)
	}

	// Step 3: reseal, through a decorator chain.
	res, err := sealed.Reseal(ctx, wrapper{rotated})
	if err != nil {
		t.Fatal(err)
	}
	want := sealed.ResealResult{PrimaryKeyID: kr.PrimaryID(), Total: 4, Resealed: 3, Plaintext: 1, Current: 1, Failed: []sealed.ResealFailure{}}
	if res.PrimaryKeyID != want.PrimaryKeyID || res.Total != want.Total || res.Resealed != want.Resealed ||
		res.Plaintext != want.Plaintext || res.Current != want.Current || len(res.Failed) != 0 {
		t.Errorf("Reseal = %+v, want %+v", res, want)
	}
	// Again: nothing to do.
	if res, err := sealed.Reseal(ctx, rotated); err != nil || res.Current != 4 || res.Resealed != 0 {
		t.Errorf("second Reseal = %+v, %v", res, err)
	}

	// Step 4: B alone opens everything, and every value is sealed with B.
	only := sealed.New(inner, keyring(t, keyB))
	for _, id := range []string{"RYK1", "RYK2", "RYK3", "RYPLAIN"} {
		k, err := only.GetKey(ctx, id)
		if err != nil || k.SecretAccessKey != "secret-"+id {
			t.Errorf("after reseal, GetKey(%s) = %v, %v", id, k, err)
		}
		raw, _ := inner.GetKey(ctx, id)
		if !strings.HasPrefix(raw.SecretAccessKey, "raya:v1:"+kr.PrimaryID()+":") {
			t.Errorf("after reseal %s is stored as %q", id, raw.SecretAccessKey)
		}
		if raw.Label != "web" || raw.Status != meta.KeyActive {
			t.Errorf("reseal changed %s: %+v", id, raw)
		}
	}
}

func TestResealReportsKeysItCannotOpen(t *testing.T) {
	ctx := context.Background()
	inner, _ := openBolt(t)
	defer inner.Close()
	if err := sealed.New(inner, keyring(t, keyC)).PutKey(ctx, testKey("RYLOST", "x")); err != nil {
		t.Fatal(err)
	}
	if err := sealed.New(inner, keyring(t, keyA)).PutKey(ctx, testKey("RYOK", "y")); err != nil {
		t.Fatal(err)
	}
	res, err := sealed.Reseal(ctx, sealed.New(inner, keyring(t, keyB, keyA)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || res.Resealed != 1 || len(res.Failed) != 1 || res.Failed[0].AccessKeyID != "RYLOST" ||
		!strings.Contains(res.Failed[0].Error, "not in the keyring") {
		t.Errorf("Reseal = %+v", res)
	}
	raw, _ := inner.GetKey(ctx, "RYLOST")
	if !strings.HasPrefix(raw.SecretAccessKey, "raya:v1:"+keyring(t, keyC).PrimaryID()) {
		t.Errorf("a key that could not be opened was rewritten: %q", raw.SecretAccessKey)
	}
}

func TestResealWithoutSealing(t *testing.T) {
	inner, _ := openBolt(t)
	defer inner.Close()
	if _, err := sealed.Reseal(context.Background(), inner); !errors.Is(err, sealed.ErrNotSealed) {
		t.Fatalf("Reseal of a plain store: %v", err)
	}
	if sealed.Find(wrapper{inner}) != nil {
		t.Error("Find found a sealing layer that is not there")
	}
}

// wrapper is a decorator that only forwards, as keycache does.
type wrapper struct{ meta.Store }

func (w wrapper) Unwrap() meta.Store { return w.Store }

func TestParseKeyring(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, 32)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		kr, err := sealed.ParseKeyring(" " + enc.EncodeToString(raw) + "\n")
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		kr2, _ := sealed.NewKeyring(raw)
		if kr.PrimaryID() != kr2.PrimaryID() || len(kr.PrimaryID()) != 8 {
			t.Errorf("key IDs %q, %q", kr.PrimaryID(), kr2.PrimaryID())
		}
	}
	for _, tc := range []struct {
		name, primary string
		old           []string
		want          string
	}{
		{"empty", "", nil, "primary master key: empty"},
		{"short", base64.StdEncoding.EncodeToString([]byte("short")), nil, "decodes to 5 bytes, want 32"},
		{"not base64", "not base64!", nil, "not valid base64"},
		{"bad previous", keyA, []string{keyB, "nope!"}, "previous master key 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sealed.ParseKeyring(tc.primary, tc.old...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	kr := keyring(t, keyA, "", keyB, keyA)
	if ids := kr.IDs(); len(ids) != 2 || ids[0] != kr.PrimaryID() {
		t.Errorf("IDs() = %v", ids)
	}
	gen, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sealed.ParseKeyring(gen); err != nil {
		t.Errorf("generated key %q: %v", gen, err)
	}
}

func TestLoadKeyring(t *testing.T) {
	file := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(file, []byte(keyB+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	idA, idB, idC := keyring(t, keyA).PrimaryID(), keyring(t, keyB).PrimaryID(), keyring(t, keyC).PrimaryID()
	for _, tc := range []struct {
		name                string
		key, file, previous string
		wantIDs             []string
		wantErr             string
	}{
		{"none", "", "", "", nil, "no master key"},
		{"env", keyA, "", "", []string{idA}, ""},
		{"file", "", file, "", []string{idB}, ""},
		{"previous", keyA, "", keyB + ", " + keyC, []string{idA, idB, idC}, ""},
		{"both", keyA, file, "", nil, "not both"},
		{"missing file", "", file + ".nope", "", nil, "RAYA_MASTER_KEY_FILE"},
		{"bad key", "abc", "", "", nil, "RAYA_MASTER_KEY"},
		{"bad previous", keyA, "", "xyz", nil, "previous master key 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(sealed.EnvMasterKey, tc.key)
			t.Setenv(sealed.EnvMasterKeyFile, tc.file)
			t.Setenv(sealed.EnvMasterKeyPrevious, tc.previous)
			kr, err := sealed.LoadKeyring()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if tc.name == "none" && !errors.Is(err, sealed.ErrNoMasterKey) {
					t.Errorf("err = %v, want ErrNoMasterKey", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := kr.IDs()
			if ids[0] != tc.wantIDs[0] || len(ids) != len(tc.wantIDs) {
				t.Errorf("IDs %v, want %v", ids, tc.wantIDs)
			}
		})
	}
}
