// Package sdk is what a Raya backend plugin imports. A plugin is an
// executable that implements backends.Backend and calls Serve from main:
//
//	func main() {
//		err := sdk.Serve(func(ctx context.Context, config map[string]string) (backends.Backend, error) {
//			return newMyBackend(config["root"])
//		}, &sdk.ServeOptions{Name: "mybackend", Version: "1.0.0"})
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//	}
//
// Raya (package plugins/host) starts the executable with hashicorp/go-plugin,
// negotiates protocol version 1 (package plugins/proto/backendv1) over gRPC,
// sends the operator's configuration, which Serve hands to the factory, and
// then calls the backend over the protocol: object bytes stream in chunks,
// deadlines and cancellation of the gateway's requests arrive as the
// context of each call, and errors of the backends vocabulary
// (backends.ErrNotFound, ...) reach the gateway as the same errors.
//
// Run with the single argument "describe", a plugin prints a JSON
// Description (protocol versions, capabilities, name, version) and exits;
// operators use it through `raya plugin describe PATH`.
//
// A plugin proves itself with the conformance suite, run through a real
// plugin process: see plugins/example for the whole path.
//
// This package imports only the backends contract, go-plugin, gRPC and
// protobuf: never the gateway, Redis or Lambda.
package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/plugins/internal/slogh"
	"github.com/cloudraya/raya/plugins/internal/wire"
)

// ProtocolVersion is the plugin protocol version this SDK speaks
// (plugins/proto/backendv1).
const ProtocolVersion = 1

// PluginName is the name the backend service is dispensed under.
const PluginName = "backend"

// Handshake is the go-plugin handshake shared by Raya and its plugins. The
// magic cookie only keeps a plugin from being run by hand by mistake; it is
// not a security measure (pin the executable's SHA-256 for that).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "RAYA_BACKEND_PLUGIN",
	MagicCookieValue: "9d1c3a6e5b2f47c8a0e4f6b8d2c1e7a3",
}

// Capabilities a plugin can declare.
const (
	// CapCopy: the backend implements backends.Copier (server-side copy).
	CapCopy = "copy"
	// CapNativeMultipart: multipart uploads map onto the storage's own
	// multipart API rather than being emulated.
	CapNativeMultipart = "native-multipart"
	// CapPresign: the storage can serve presigned URLs itself.
	CapPresign = "presign"
)

// Factory builds the backend from the operator's configuration. ctx ends
// when the host gives up waiting (its call timeout).
type Factory func(ctx context.Context, config map[string]string) (backends.Backend, error)

// ServeOptions configure Serve. nil means defaults.
type ServeOptions struct {
	// Name and Version describe the plugin (describe mode, logs).
	Name    string
	Version string
	// Capabilities are declared up front, for describe mode. The host is
	// told the capabilities the configured backend really has: those
	// declared (CapCopy only if the backend implements backends.Copier).
	// nil declares CapCopy when the backend implements backends.Copier.
	Capabilities []string
	// Args are the command-line arguments after those that selected the
	// plugin; nil means os.Args[1:]. Serve looks only for "describe".
	Args []string
	// Logger receives the plugin's own logs; nil means NewLogger(slog.LevelInfo).
	// The host forwards what reaches stderr into its log.
	Logger *slog.Logger
	// Stdout is where describe mode prints; nil means os.Stdout.
	Stdout io.Writer
}

// Description is what describe mode prints, as JSON.
type Description struct {
	ProtocolVersions []int    `json:"protocolVersions"`
	Capabilities     []string `json:"capabilities"`
	Name             string   `json:"name,omitempty"`
	Version          string   `json:"version,omitempty"`
}

// Describe returns the Description of a plugin served with opts.
func Describe(opts *ServeOptions) Description {
	var o ServeOptions
	if opts != nil {
		o = *opts
	}
	caps := o.Capabilities
	if caps == nil {
		caps = []string{}
	}
	return Description{
		ProtocolVersions: []int{ProtocolVersion},
		Capabilities:     caps,
		Name:             o.Name,
		Version:          o.Version,
	}
}

// ErrNotLaunchedByHost is returned by Serve when the process was not started
// by Raya (the handshake cookie is missing).
var ErrNotLaunchedByHost = errors.New("sdk: this is a Raya backend plugin; it is started by raya, not by hand (run it with the argument \"describe\" to see what it offers)")

// Serve serves the backend built by factory as a plugin until the host stops
// it, then closes the backend. With the argument "describe" it prints the
// plugin's Description and returns. main should return (or exit non-zero on
// an error) when Serve returns.
func Serve(factory Factory, opts *ServeOptions) error {
	var o ServeOptions
	if opts != nil {
		o = *opts
	}
	if factory == nil {
		return errors.New("sdk: Serve needs a factory")
	}
	args := o.Args
	if args == nil {
		args = os.Args[1:]
	}
	if len(args) > 0 && args[0] == "describe" {
		out := o.Stdout
		if out == nil {
			out = os.Stdout
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(Describe(&o))
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		return ErrNotLaunchedByHost
	}
	if o.Logger == nil {
		o.Logger = NewLogger(slog.LevelInfo)
	}
	srv := newServer(factory, &o)
	defer srv.closeBackend()

	// Leave when the host goes away, whatever way it went: SIGTERM (the
	// host's Linux parent-death signal), or re-parenting (the host was
	// killed and nothing signalled us).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go watchParent(ctx, stop, 500*time.Millisecond)

	done := make(chan struct{})
	go func() {
		defer close(done)
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  Handshake,
			VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &GRPCPlugin{server: srv}}},
			GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
				return grpc.NewServer(append(opts, ServerOptions()...)...)
			},
			Logger: slogh.New(o.Logger),
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
		o.Logger.Info("host gone; stopping the plugin")
	}
	return nil
}

// ServerOptions are the gRPC server options a plugin's server needs
// (message size limits matching the host's). Serve applies them; they are
// exported for tests that serve a backend without a process.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(wire.MaxMessageSize),
		grpc.MaxSendMsgSize(wire.MaxMessageSize),
		grpc.InitialWindowSize(wire.StreamWindow),
		grpc.InitialConnWindowSize(wire.ConnWindow),
		grpc.ReadBufferSize(wire.SocketBuffer),
		grpc.WriteBufferSize(wire.SocketBuffer),
	}
}

// watchParent stops ctx when this process is re-parented, which means the
// host that started it has died.
func watchParent(ctx context.Context, stop func(), every time.Duration) {
	ppid := os.Getppid()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != ppid {
				stop()
				return
			}
		}
	}
}

// NewLogger returns a logger that writes JSON lines to the plugin's stderr
// in the shape the host parses (go-plugin's hclog JSON), so each record
// arrives in the host's log with its level, message and attributes.
func NewLogger(level slog.Level) *slog.Logger {
	return slog.New(newLogHandler(processStderr, level))
}

// processStderr is the process's real stderr, which the host parses. Once
// serving, go-plugin points os.Stderr at a pipe that it relays to the host
// as plain text, so NewLogger must not use the variable's later value.
var processStderr = os.Stderr

func newLogHandler(w io.Writer, level slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				// The exact layout go-plugin's host parses.
				a.Key = "@timestamp"
				if t, ok := a.Value.Any().(time.Time); ok {
					a.Value = slog.StringValue(t.Format("2006-01-02T15:04:05.000000Z07:00"))
				}
			case slog.MessageKey:
				a.Key = "@message"
			case slog.LevelKey:
				a.Key = "@level"
				l, _ := a.Value.Any().(slog.Level)
				a.Value = slog.StringValue(hclogLevelName(l))
			}
			return a
		},
	})
}

func hclogLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}

// String of a Description, for logs.
func (d Description) String() string {
	return fmt.Sprintf("%s %s (protocols %v, capabilities %v)", d.Name, d.Version, d.ProtocolVersions, d.Capabilities)
}
