package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "raya.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f, err := LoadFile(write(`
listen: 0.0.0.0:9443
meta: redis://127.0.0.1:6379/0
domains: [s3.example.com]
key_cache_ttl: 5s
default_backend: disk
backends:
  - name: disk
    type: local
    options: {root: /srv/raya}
  - name: vendor
    type: plugin
    path: /opt/raya/plugins/vendor
    sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Listen != "0.0.0.0:9443" || f.KeyCacheTTL.Seconds() != 5 || len(f.Backends) != 2 || f.Backends[0].Options["root"] != "/srv/raya" {
		t.Errorf("parsed %+v", f)
	}
	if _, err := LoadFile(write("")); err != nil {
		t.Errorf("empty file: %v", err)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"unknown field":  {"lisen: x\n", "field lisen not found"},
		"unknown type":   {"backends: [{name: a, type: ftp}]\n", "unknown type"},
		"duplicate":      {"backends: [{name: a, type: local}, {name: a, type: local}]\n", "used twice"},
		"plugin no path": {"backends: [{name: a, type: plugin}]\n", "needs a path"},
		"bad default":    {"default_backend: b\nbackends: [{name: a, type: local}]\n", "not one of"},
		"bad sha":        {"backends: [{name: a, type: plugin, path: /x, sha256: abc}]\n", "64 hex"},
		"bad mode":       {"backends: [{name: a, type: local, mode: remote}]\n", "unknown mode"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadFile(write(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}
