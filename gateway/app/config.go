package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// BackendConfig configures one named backend.
type BackendConfig struct {
	// Name is what buckets (and CreateBucket's LocationConstraint) use.
	Name string `yaml:"name"`
	// Type is local, s3, gcs or plugin (a third-party executable).
	Type string `yaml:"type"`
	// Mode runs a built-in type in process (default) or as a child plugin
	// process ("plugin").
	Mode string `yaml:"mode"`
	// Path is the executable of a plugin backend; SHA256 pins it.
	Path   string `yaml:"path"`
	SHA256 string `yaml:"sha256"`
	// Options are the backend's own settings (for local: root).
	Options map[string]string `yaml:"options"`
}

// Backend modes.
const (
	ModeInProcess = "inprocess"
	ModePlugin    = "plugin"
)

// File is the configuration file of raya serve (YAML). Every field has a
// flag and an environment variable of the same meaning; flags win over the
// environment, which wins over the file.
type File struct {
	Listen            string          `yaml:"listen"`
	Data              string          `yaml:"data"`
	TLSCert           string          `yaml:"tls_cert"`
	TLSKey            string          `yaml:"tls_key"`
	Domains           []string        `yaml:"domains"`
	Region            string          `yaml:"region"`
	AllowHTTP         bool            `yaml:"allow_http"`
	Meta              string          `yaml:"meta"`
	BlockPublicAccess bool            `yaml:"block_public_access"`
	KeyCacheTTL       time.Duration   `yaml:"key_cache_ttl"`
	LogFormat         string          `yaml:"log_format"`
	LogLevel          string          `yaml:"log_level"`
	BackendMode       string          `yaml:"backend_mode"`
	DefaultBackend    string          `yaml:"default_backend"`
	Backends          []BackendConfig `yaml:"backends"`
}

// LoadFile reads and validates a configuration file. Unknown fields are
// errors, so a typo never silently falls back to a default.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file is a valid, empty configuration.
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := ValidateBackends(f.Backends, f.DefaultBackend); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &f, nil
}

// ValidateBackends checks backend entries: unique names, known types and
// modes, and a default that names one of them.
func ValidateBackends(bs []BackendConfig, def string) error {
	seen := map[string]bool{}
	for i, b := range bs {
		if b.Name == "" {
			return fmt.Errorf("backends[%d]: a name is required", i)
		}
		if seen[b.Name] {
			return fmt.Errorf("backends[%d]: the name %q is used twice", i, b.Name)
		}
		seen[b.Name] = true
		switch b.Type {
		case "local", "s3", "gcs":
		case "plugin":
			if b.Path == "" {
				return fmt.Errorf("backend %q: a plugin needs a path to its executable", b.Name)
			}
		default:
			return fmt.Errorf("backend %q: unknown type %q (local, s3, gcs or plugin)", b.Name, b.Type)
		}
		switch b.Mode {
		case "", ModeInProcess, ModePlugin:
		default:
			return fmt.Errorf("backend %q: unknown mode %q (inprocess or plugin)", b.Name, b.Mode)
		}
		if b.SHA256 != "" && (len(b.SHA256) != 64 || strings.Trim(strings.ToLower(b.SHA256), "0123456789abcdef") != "") {
			return fmt.Errorf("backend %q: sha256 must be 64 hex digits", b.Name)
		}
	}
	if def != "" && !seen[def] {
		return fmt.Errorf("default_backend %q is not one of the configured backends", def)
	}
	return nil
}
