// Command testplugin is what plugins/host's tests and benchmarks run as a
// plugin, with the command line of `raya plugin serve-builtin NAME`, without
// building the whole gateway:
//
//	testplugin plugin serve-builtin NAME [describe]
//
// NAME "local" is the local disk backend (config "root", and "nosync":
// "true" to skip fsync), as raya serves it. NAME "probe" is a test-only backend: the local disk backend (config
// "root") whose HeadObject of key "hang" blocks until its context ends and
// whose HeadObject of key "last-context" reports (once), as the ETag, how
// the last hanging call ended and whether it had a deadline; key "log" writes a log
// record at warn level. Its bucket "null" stores nothing: a put reads and
// discards the body, and a get of key N streams N zero bytes, which
// measures the plugin boundary alone; key "stall" stalls both: a put never
// reads its body, a get sends 1 MiB and then nothing, until the call's
// context ends.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/backends/fsbackend"
	"github.com/cloudraya/raya/plugins/sdk"
)

func main() {
	args := os.Args[1:]
	if len(args) < 3 || args[0] != "plugin" || args[1] != "serve-builtin" {
		fmt.Fprintln(os.Stderr, "usage: testplugin plugin serve-builtin NAME [describe]")
		os.Exit(2)
	}
	var err error
	if args[2] == "probe" {
		err = sdk.Serve(func(ctx context.Context, config map[string]string) (backends.Backend, error) {
			fs, err := fsbackend.New(ctx, config["root"], &fsbackend.Options{NoSync: true})
			if err != nil {
				return nil, err
			}
			return &probe{Backend: fs, log: sdk.NewLogger(slog.LevelInfo)}, nil
		}, &sdk.ServeOptions{Name: "probe", Version: "test", Args: args[3:]})
	} else if args[2] == "local" {
		err = sdk.Serve(localFactory, &sdk.ServeOptions{Name: "raya-local", Version: "test", Capabilities: []string{sdk.CapCopy}, Args: args[3:]})
	} else {
		err = fmt.Errorf("testplugin: no backend %q", args[2])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type probe struct {
	*fsbackend.Backend
	log  *slog.Logger
	mu   sync.Mutex
	last string
}

func (p *probe) HeadObject(ctx context.Context, bucket, key string) (*backends.ObjectInfo, error) {
	switch key {
	case "hang":
		_, hasDeadline := ctx.Deadline()
		<-ctx.Done()
		p.mu.Lock()
		p.last = fmt.Sprintf("%v deadline=%v", ctx.Err(), hasDeadline)
		p.mu.Unlock()
		return nil, ctx.Err()
	case "last-context":
		p.mu.Lock()
		defer p.mu.Unlock()
		last := p.last
		p.last = ""
		return &backends.ObjectInfo{Key: key, Metadata: backends.Metadata{ETag: last}}, nil
	case "log":
		p.log.Warn("probe log record", "answer", 42)
		return &backends.ObjectInfo{Key: key}, nil
	}
	return p.Backend.HeadObject(ctx, bucket, key)
}

func (p *probe) PutObject(ctx context.Context, bucket, key string, r io.Reader, opts *backends.PutOptions) (*backends.ObjectInfo, error) {
	if bucket != "null" {
		return p.Backend.PutObject(ctx, bucket, key, r, opts)
	}
	if key == "stall" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return nil, err
	}
	var md backends.Metadata
	if opts != nil && opts.Finish != nil {
		if md, err = opts.Finish(); err != nil {
			return nil, err
		}
	}
	return &backends.ObjectInfo{Key: key, Size: n, Metadata: md}, nil
}

func (p *probe) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (*backends.ObjectInfo, io.ReadCloser, error) {
	if bucket != "null" {
		return p.Backend.GetObject(ctx, bucket, key, rng)
	}
	if key == "stall" {
		return &backends.ObjectInfo{Key: key, Size: 2 << 20}, io.NopCloser(io.MultiReader(io.LimitReader(zeros{}, 1<<20), ctxReader{ctx})), nil
	}
	n, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return nil, nil, backends.ErrNotFound
	}
	return &backends.ObjectInfo{Key: key, Size: n}, io.NopCloser(io.LimitReader(zeros{}, n)), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func localFactory(ctx context.Context, config map[string]string) (backends.Backend, error) {
	root := config["root"]
	if root == "" {
		return nil, errors.New(`local: config key "root" (the data folder) is required`)
	}
	opts := &fsbackend.Options{Logger: sdk.NewLogger(slog.LevelInfo)}
	for k, v := range config {
		switch k {
		case "root":
		case "nosync":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("local: config key nosync: %w", err)
			}
			opts.NoSync = b
		default:
			return nil, fmt.Errorf("local: unknown config key %q", k)
		}
	}
	return fsbackend.New(ctx, root, opts)
}

// ctxReader blocks until its context ends.
type ctxReader struct{ ctx context.Context }

func (r ctxReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}
