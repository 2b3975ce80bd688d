package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Environment variables read by LoadKeyring.
const (
	// EnvMasterKey holds the primary master key: 32 random bytes in
	// base64 (for example the output of `openssl rand -base64 32`).
	EnvMasterKey = "RAYA_MASTER_KEY"
	// EnvMasterKeyFile names a file holding the primary master key in
	// base64; it is an alternative to EnvMasterKey (set one, not both).
	EnvMasterKeyFile = "RAYA_MASTER_KEY_FILE"
	// EnvMasterKeyPrevious holds older master keys, comma-separated, in
	// base64: secrets sealed with them can still be opened while a
	// rotation is under way.
	EnvMasterKeyPrevious = "RAYA_MASTER_KEY_PREVIOUS"
)

// KeySize is the size of a master key in bytes (AES-256).
const KeySize = 32

// prefix starts every sealed value: "raya:v1:<kid>:<base64(nonce|ciphertext)>".
const prefix = "raya:v1:"

var (
	// ErrNoMasterKey is returned by LoadKeyring when neither
	// RAYA_MASTER_KEY nor RAYA_MASTER_KEY_FILE is set.
	ErrNoMasterKey = errors.New("sealed: no master key: set " + EnvMasterKey + " or " + EnvMasterKeyFile)
	// ErrUnknownMasterKey: the value was sealed with a master key the
	// keyring does not hold.
	ErrUnknownMasterKey = errors.New("sealed: secret sealed with a master key that is not in the keyring")
	// ErrOpen: the sealed value does not authenticate — it was altered,
	// moved from another access key, or is malformed.
	ErrOpen = errors.New("sealed: secret does not authenticate")
)

// masterKey is one AES-256-GCM key with its short ID.
type masterKey struct {
	id   string
	aead cipher.AEAD
}

// Keyring holds the master keys: a primary that seals, and older keys that
// only open. It is immutable and safe for concurrent use.
type Keyring struct {
	primary masterKey
	byID    map[string]masterKey
}

// NewKeyring returns a keyring from raw 32-byte keys: primary seals, old
// keys only open. Duplicates of the primary among old are ignored.
func NewKeyring(primary []byte, old ...[]byte) (*Keyring, error) {
	p, err := newMasterKey(primary)
	if err != nil {
		return nil, fmt.Errorf("sealed: primary master key: %w", err)
	}
	kr := &Keyring{primary: p, byID: map[string]masterKey{p.id: p}}
	for i, raw := range old {
		k, err := newMasterKey(raw)
		if err != nil {
			return nil, fmt.Errorf("sealed: previous master key %d: %w", i+1, err)
		}
		if _, dup := kr.byID[k.id]; !dup {
			kr.byID[k.id] = k
		}
	}
	return kr, nil
}

// ParseKeyring returns a keyring from base64-encoded 32-byte keys (standard
// or URL alphabet, padded or not): primary seals, old keys only open. Empty
// entries in old are skipped.
func ParseKeyring(primary string, old ...string) (*Keyring, error) {
	p, err := decodeKey(primary)
	if err != nil {
		return nil, fmt.Errorf("sealed: primary master key: %w", err)
	}
	var olds [][]byte
	for i, s := range old {
		if strings.TrimSpace(s) == "" {
			continue
		}
		k, err := decodeKey(s)
		if err != nil {
			return nil, fmt.Errorf("sealed: previous master key %d: %w", i+1, err)
		}
		olds = append(olds, k)
	}
	return NewKeyring(p, olds...)
}

// LoadKeyring builds the keyring from the environment: the primary from
// RAYA_MASTER_KEY (base64) or the file named by RAYA_MASTER_KEY_FILE
// (base64 text; surrounding white space is ignored), and previous keys from
// RAYA_MASTER_KEY_PREVIOUS (comma-separated base64). It returns
// ErrNoMasterKey when no primary is configured, so the caller decides
// whether secrets may be stored in plaintext.
func LoadKeyring() (*Keyring, error) {
	return loadKeyring(os.Getenv, os.ReadFile)
}

func loadKeyring(getenv func(string) string, readFile func(string) ([]byte, error)) (*Keyring, error) {
	primary, file := strings.TrimSpace(getenv(EnvMasterKey)), strings.TrimSpace(getenv(EnvMasterKeyFile))
	switch {
	case primary != "" && file != "":
		return nil, fmt.Errorf("sealed: set %s or %s, not both", EnvMasterKey, EnvMasterKeyFile)
	case file != "":
		data, err := readFile(file)
		if err != nil {
			return nil, fmt.Errorf("sealed: %s: %w", EnvMasterKeyFile, err)
		}
		primary = strings.TrimSpace(string(data))
		if primary == "" {
			return nil, fmt.Errorf("sealed: %s: %s is empty", EnvMasterKeyFile, file)
		}
	case primary == "":
		return nil, ErrNoMasterKey
	}
	kr, err := ParseKeyring(primary, strings.Split(getenv(EnvMasterKeyPrevious), ",")...)
	if err != nil {
		return nil, fmt.Errorf("%w (check %s, %s and %s)", err, EnvMasterKey, EnvMasterKeyFile, EnvMasterKeyPrevious)
	}
	return kr, nil
}

// GenerateKey returns a new random master key in standard base64, suitable
// for RAYA_MASTER_KEY.
func GenerateKey() (string, error) {
	var b [KeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sealed: reading random bytes: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d (generate one with `openssl rand -base64 32`)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("not valid base64 (generate one with `openssl rand -base64 32`)")
}

func newMasterKey(raw []byte) (masterKey, error) {
	if len(raw) != KeySize {
		return masterKey{}, fmt.Errorf("%d bytes, want %d", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return masterKey{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return masterKey{}, err
	}
	// The key ID is a fingerprint that reveals nothing useful about the
	// key: the first 4 bytes of HMAC-SHA256(key, label).
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("raya sealed key id"))
	return masterKey{id: hex.EncodeToString(mac.Sum(nil)[:4]), aead: aead}, nil
}

// PrimaryID returns the ID of the primary master key, as it appears in
// sealed values ("raya:v1:<id>:...").
func (kr *Keyring) PrimaryID() string { return kr.primary.id }

// IDs returns the IDs of every key in the keyring, primary first.
func (kr *Keyring) IDs() []string {
	ids := []string{kr.primary.id}
	for id := range kr.byID {
		if id != kr.primary.id {
			ids = append(ids, id)
		}
	}
	return ids
}

// aad binds a sealed value to the access key it belongs to, so a sealed
// secret copied onto another key does not open.
func aad(accessKeyID string) []byte { return []byte("raya/key-secret/v1\x00" + accessKeyID) }

// Seal encrypts a secret with the primary key, bound to accessKeyID as
// additional authenticated data.
func (kr *Keyring) Seal(accessKeyID, secret string) (string, error) {
	k := kr.primary
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(secret)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("sealed: reading random bytes: %w", err)
	}
	ct := k.aead.Seal(nonce, nonce, []byte(secret), aad(accessKeyID))
	return prefix + k.id + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// IsSealed reports whether v has the form of a sealed value. Any other value
// is a legacy plaintext secret.
func IsSealed(v string) bool { return strings.HasPrefix(v, prefix) }

// Open returns the secret in a sealed value of accessKeyID. A value that is
// not sealed (legacy plaintext) is returned as it is. Errors wrap
// ErrUnknownMasterKey or ErrOpen.
func (kr *Keyring) Open(accessKeyID, v string) (string, error) {
	secret, _, err := kr.open(accessKeyID, v)
	return secret, err
}

// open also returns the ID of the master key that sealed v ("" for
// plaintext).
func (kr *Keyring) open(accessKeyID, v string) (secret, kid string, err error) {
	if !IsSealed(v) {
		return v, "", nil
	}
	kid, body, ok := strings.Cut(v[len(prefix):], ":")
	if !ok {
		return "", "", fmt.Errorf("%w: access key %q: malformed sealed value", ErrOpen, accessKeyID)
	}
	k, ok := kr.byID[kid]
	if !ok {
		return "", kid, fmt.Errorf("%w: access key %q was sealed with master key %s; the keyring holds %s (add the old key to %s)",
			ErrUnknownMasterKey, accessKeyID, kid, strings.Join(kr.IDs(), ", "), EnvMasterKeyPrevious)
	}
	ct, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(ct) < k.aead.NonceSize()+k.aead.Overhead() {
		return "", kid, fmt.Errorf("%w: access key %q: malformed sealed value", ErrOpen, accessKeyID)
	}
	pt, err := k.aead.Open(nil, ct[:k.aead.NonceSize()], ct[k.aead.NonceSize():], aad(accessKeyID))
	if err != nil {
		return "", kid, fmt.Errorf("%w: access key %q (master key %s): altered, or copied from another access key", ErrOpen, accessKeyID, kid)
	}
	return string(pt), kid, nil
}
