package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/fsbackend"
	"github.com/cloudraya/raya/backends/gcsbackend"
	"github.com/cloudraya/raya/backends/s3backend"
	"github.com/cloudraya/raya/plugins/host"
)

// defaultBackends is the quick start: the local disk under DataDir/objects.
func defaultBackends(cfg Config) []BackendConfig {
	return []BackendConfig{{Name: LocalBackend, Type: "local", Mode: cfg.BackendMode}}
}

// openBackend builds one configured backend, in process or as a plugin.
func openBackend(ctx context.Context, cfg Config, bc BackendConfig) (backends.Backend, error) {
	opts := map[string]string{}
	for k, v := range bc.Options {
		opts[k] = v
	}
	if bc.Type == "local" && opts["root"] == "" {
		opts["root"] = filepath.Join(cfg.DataDir, "objects")
	}
	mode := bc.Mode
	if mode == "" {
		mode = cfg.BackendMode
	}
	switch {
	case bc.Type == "plugin":
		hc := host.Config{Path: bc.Path, SHA256: bc.SHA256, Config: opts, Logger: cfg.Logger.With("backend", bc.Name)}
		return host.Start(ctx, hc)
	case mode == ModePlugin:
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		hc := host.BuiltinConfig(exe, bc.Type, opts)
		hc.Logger = cfg.Logger.With("backend", bc.Name)
		return host.Start(ctx, hc)
	}
	return OpenBuiltin(ctx, bc.Type, opts)
}

// OpenBuiltin opens a built-in backend in process from string options: the
// one constructor behind both `raya serve` and `raya plugin serve-builtin`.
func OpenBuiltin(ctx context.Context, typ string, opts map[string]string) (backends.Backend, error) {
	switch typ {
	case "local":
		if opts["root"] == "" {
			return nil, fmt.Errorf("local backend: option root (a folder) is required")
		}
		return fsbackend.New(ctx, opts["root"], nil)
	case "s3":
		c, err := s3backend.ConfigFromMap(opts)
		if err != nil {
			return nil, err
		}
		return s3backend.New(ctx, c, nil)
	case "gcs":
		c, err := gcsbackend.ConfigFromMap(opts)
		if err != nil {
			return nil, err
		}
		return gcsbackend.New(ctx, c, nil)
	}
	return nil, fmt.Errorf("unknown built-in backend type %q", typ)
}
