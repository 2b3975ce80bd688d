package gcsbackend

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cloudraya/raya/backends"
)

func TestConfigFromMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		want Config
		err  string
	}{
		{"empty", nil, Config{}, ""},
		{"all", map[string]string{"project": "p", "bucket_prefix": "raya-", "endpoint": "http://127.0.0.1:4443/storage/v1/",
			"credentials_file": "/etc/raya/sa.json", "chunk_size": " 8388608 "},
			Config{Project: "p", BucketPrefix: "raya-", Endpoint: "http://127.0.0.1:4443/storage/v1/", CredentialsFile: "/etc/raya/sa.json", ChunkSize: 8 << 20}, ""},
		{"unknown key", map[string]string{"projekt": "p"}, Config{}, "unknown setting"},
		{"bad chunk", map[string]string{"chunk_size": "8MiB"}, Config{}, "chunk_size"},
		{"negative chunk", map[string]string{"chunk_size": "-1"}, Config{}, "negative"},
		{"bad endpoint", map[string]string{"endpoint": "127.0.0.1:4443"}, Config{}, "endpoint"},
		{"upper prefix", map[string]string{"bucket_prefix": "Raya-"}, Config{}, "bucket_prefix"},
		{"dotted prefix", map[string]string{"bucket_prefix": "raya."}, Config{}, "bucket_prefix"},
		{"long prefix", map[string]string{"bucket_prefix": strings.Repeat("a", 41)}, Config{}, "longer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromMap(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []backends.Metadata{
		{},
		{ETag: "e", ContentType: "text/plain"},
		{
			ETag: "0123456789abcdef0123456789abcdef-3", ContentType: "text/plain; charset=utf-8", ContentEncoding: "gzip",
			ContentDisposition: `attachment; filename="a.txt"`, ContentLanguage: "id-ID", CacheControl: "no-cache, no-store",
			Expires:      "Thu, 01 Dec 2094 16:00:00 GMT",
			User:         map[string]string{"color": "blue, green", "empty": "", "unicode": "ñandú ✓", "with space": "a  b", "nl": "a\nb"},
			Checksums:    map[string]string{"CRC32": "AAAAAA==", "SHA256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
			ChecksumType: "COMPOSITE", PartSizes: []int64{5 << 20, 5 << 20, 17},
		},
	} {
		a, err := encodeMeta(m)
		if err != nil {
			t.Fatal(err)
		}
		if a.ContentType == "" {
			t.Error("native ContentType empty: GCS would default it")
		}
		got, err := decodeMeta(&a)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip\n got  %+v\n want %+v", got, m)
		}
	}
}

func TestMetaTooLarge(t *testing.T) {
	sizes := make([]int64, 10000)
	for i := range sizes {
		sizes[i] = int64(5<<20 + i) // all different: no runs
	}
	if _, err := encodeMeta(backends.Metadata{PartSizes: sizes}); !errors.Is(err, ErrMetadataTooLarge) {
		t.Errorf("err = %v, want ErrMetadataTooLarge", err)
	}
	// Equal parts fit whatever their number.
	for i := range sizes {
		sizes[i] = 8 << 20
	}
	sizes[len(sizes)-1] = 3
	a, err := encodeMeta(backends.Metadata{PartSizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Metadata[mdParts]; got != "8388608*9999,3" {
		t.Errorf("encoded part sizes = %q", got)
	}
}

func TestPartSizes(t *testing.T) {
	for _, tc := range []struct {
		in  []int64
		enc string
	}{
		{nil, ""}, {[]int64{0}, "0"}, {[]int64{5, 5}, "5*2"}, {[]int64{1, 2, 2, 2, 1}, "1,2*3,1"}, {[]int64{7, 7, 7, 0}, "7*3,0"},
	} {
		if got := encodePartSizes(tc.in); got != tc.enc {
			t.Errorf("encode(%v) = %q, want %q", tc.in, got, tc.enc)
		}
		got, err := decodePartSizes(tc.enc)
		if err != nil || !slices.Equal(got, tc.in) {
			t.Errorf("decode(%q) = %v, %v", tc.enc, got, err)
		}
	}
	for _, bad := range []string{"x", "1,", "-1", "5*0", "5*x", "1*10001"} {
		if _, err := decodePartSizes(bad); err == nil {
			t.Errorf("decode(%q) succeeded", bad)
		}
	}
}

func TestKeyEncoding(t *testing.T) {
	for _, tc := range []struct{ key, name string }{
		{"a/b", "a/b"}, {"a\nb", "a\x01\x1ab"}, {"\r", "\x01\x1d"}, {"\x00", "\x01\x10"}, {"\x01", "\x01\x11"},
		{".", ".\x01\x0f"}, {"..", "..\x01\x0f"}, {"...", "..."}, {"./", "./"}, {"\x0e\x1f", "\x0e\x1f"},
	} {
		got, err := encodeKey(tc.key)
		if err != nil || got != tc.name {
			t.Errorf("encodeKey(%q) = %q, %v; want %q", tc.key, got, err, tc.name)
		}
		if strings.ContainsAny(got, "\r\n") || got == "." || got == ".." {
			t.Errorf("encodeKey(%q) = %q is not a valid GCS name", tc.key, got)
		}
		if back, ok := decodeName(got); !ok || back != tc.key {
			t.Errorf("decodeName(%q) = %q, %v", got, back, ok)
		}
	}
	for _, bad := range []string{"", "\xff", strings.Repeat("a", 1025), strings.Repeat("\n", 513), ".well-known/acme-challenge/x"} {
		if _, err := encodeKey(bad); !errors.Is(err, backends.ErrInvalidKey) {
			t.Errorf("encodeKey(%.20q): err = %v, want ErrInvalidKey", bad, err)
		}
	}
	if _, ok := decodeName(tmpPrefix + "x"); ok {
		t.Error("a hidden name decodes as a key")
	}
}

// TestKeyEncodingOrder checks on random keys that the encoding keeps byte
// order and prefixes, and never produces a hidden name.
func TestKeyEncodingOrder(t *testing.T) {
	alphabet := []string{"\x00", "\x01", "\x09", "\n", "\x0d", "\x0e", "\x0f", "\x10", "\x1e", "\x1f", " ", ".", "/", "a", "~", "\x7f", "é", "\U0010FFFF"}
	r := rand.New(rand.NewPCG(1, 2))
	key := func() string {
		var b strings.Builder
		for range r.IntN(5) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		if r.IntN(8) == 0 {
			return []string{".", ".."}[r.IntN(2)]
		}
		return b.String()
	}
	for range 20000 {
		a, b := key(), key()
		if a == "" || b == "" {
			continue
		}
		ea, _ := encodeKey(a)
		eb, _ := encodeKey(b)
		if (a < b) != (ea < eb) || (a == b) != (ea == eb) {
			t.Fatalf("order: %q vs %q encoded %q vs %q", a, b, ea, eb)
		}
		if strings.HasPrefix(b, a) != strings.HasPrefix(eb, encodeBytes(a)) {
			t.Fatalf("prefix: %q of %q, encoded %q of %q", a, b, encodeBytes(a), eb)
		}
		if strings.HasPrefix(ea, hidden) {
			t.Fatalf("key %q encodes into the hidden namespace", a)
		}
		if (a <= b) != (ea <= encodeLoose(b)) {
			t.Fatalf("StartAfter order: %q vs %q", a, b)
		}
	}
}

func TestBucketNames(t *testing.T) {
	for _, tc := range []struct{ prefix, name, want string }{
		{"", "my-bucket", "my-bucket"},
		{"raya-", "my-bucket", "raya-my-bucket"},
		{"", "my.bucket", "my-bucket_"},
		{"raya-", strings.Repeat("a", 63), "raya-" + strings.Repeat("a", 37) + "_"},
		{"", "google-stuff", "x_"},
		{"", "googfoo", "xgoogfoo_"},
	} {
		got := gcsBucketName(tc.prefix, tc.name)
		if !strings.HasPrefix(got, tc.want) || (strings.HasSuffix(tc.want, "_") && len(got) != len(tc.want)+20) {
			t.Errorf("gcsBucketName(%q, %q) = %q, want %q…", tc.prefix, tc.name, got, tc.want)
		}
		if !validGCSBucket(got) {
			t.Errorf("gcsBucketName(%q, %q) = %q is not a valid GCS bucket name", tc.prefix, tc.name, got)
		}
	}
	if gcsBucketName("", "a.b") == gcsBucketName("", "a-b") {
		t.Error("dotted and dashed names collide")
	}
}
