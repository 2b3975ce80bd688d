// Package host runs backend plugins for the gateway: it starts a plugin
// executable with hashicorp/go-plugin, verifies its SHA-256 when the
// operator pins one, configures it, and exposes it as a backends.Backend.
//
// The Backend it returns supervises the process. When the plugin crashes,
// calls in flight fail at once with an error wrapping
// backends.ErrUnavailable (a 503-class S3 error), and the next call starts a
// new process (with a growing pause when it keeps crashing). Every unary call
// is bounded by Config.CallTimeout; streams (uploads and downloads) are
// bounded by inactivity: each wait for the plugin gets CallTimeout, however
// long the whole transfer takes. The plugin's logs (its stderr, including
// JSON records written with sdk.NewLogger) arrive in Config.Logger. Close
// stops the plugin cleanly; on Linux the plugin also receives SIGTERM when
// the gateway dies, and the SDK exits by itself when it is re-parented, so
// no plugin process outlives the gateway.
//
// The gateway's composition root (gateway/app) is the only importer.
package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/plugins/internal/slogh"
	"github.com/cloudraya/raya/plugins/internal/wire"
	pb "github.com/cloudraya/raya/plugins/proto/backendv1"
	"github.com/cloudraya/raya/plugins/sdk"
)

// Config says which plugin to run and how.
type Config struct {
	// Path is the plugin executable.
	Path string
	// Args are its command-line arguments.
	Args []string
	// SHA256 optionally pins the executable: the hex SHA-256 of the file
	// (as sha256sum prints it). A mismatch refuses to start, also on every
	// restart.
	SHA256 string
	// Config is handed to the plugin's factory.
	Config map[string]string
	// CallTimeout bounds each unary call and each wait for the plugin
	// within a stream; default 30s.
	CallTimeout time.Duration
	// StartTimeout bounds starting and configuring the process; default 30s.
	StartTimeout time.Duration
	// ChunkSize is the size of the data messages object bytes stream in;
	// 0 means the default (1 MiB, chosen by measurement).
	ChunkSize int
	// Logger receives the host's and the plugin's logs; nil means
	// slog.Default().
	Logger *slog.Logger
}

// BuiltinConfig returns the Config that runs one of raya's built-in
// backends (such as "local") as a plugin, with the raya executable as the
// plugin executable: `raya plugin serve-builtin NAME`.
func BuiltinConfig(rayaExecutable, name string, config map[string]string) Config {
	return Config{
		Path:   rayaExecutable,
		Args:   []string{"plugin", "serve-builtin", name},
		Config: config,
	}
}

// ErrClosed is returned by calls on a closed Backend.
var ErrClosed = fmt.Errorf("%w: plugin backend closed", backends.ErrUnavailable)

// errCallTimeout is the cause of a context ended by CallTimeout.
var errCallTimeout = &timeoutError{}

// timeoutError is a plugin that did not answer in time: the plugin is
// unavailable, and the call's deadline was exceeded.
type timeoutError struct{ what string }

func (e *timeoutError) Error() string {
	if e.what == "" {
		return "backends: unavailable: plugin call timed out"
	}
	return "backends: unavailable: plugin " + e.what + " timed out"
}

func (e *timeoutError) Is(target error) bool {
	return target == backends.ErrUnavailable || target == context.DeadlineExceeded
}

// Backend is a plugin backend. It implements backends.Backend and
// backends.Copier (server-side when the plugin declares sdk.CapCopy,
// streamed through the gateway otherwise).
type Backend struct {
	cfg  Config
	log  *slog.Logger
	sum  []byte
	pool sync.Pool

	mu        sync.Mutex
	inst      *instance
	caps      []string // of the last instance started
	closed    bool
	failures  int       // consecutive failed or short-lived starts
	nextStart time.Time // no start before this
}

// Interface guards.
var (
	_ backends.Backend = (*Backend)(nil)
	_ backends.Copier  = (*Backend)(nil)
)

type instance struct {
	client  *plugin.Client
	rpc     pb.BackendClient
	caps    []string
	name    string
	version string
	pid     int
	started time.Time
}

// Start starts the plugin and configures it. It fails when the executable
// does not match a pinned SHA256, does not speak protocol version 1, or its
// factory refuses the configuration.
func Start(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Path == "" {
		return nil, errors.New("host: Config.Path is empty")
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = wire.DefaultChunkSize
	}
	cfg.ChunkSize = min(cfg.ChunkSize, wire.MaxChunkSize)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Backend{cfg: cfg, log: cfg.Logger.With("plugin", cfg.Path)}
	if cfg.SHA256 != "" {
		sum, err := hex.DecodeString(cfg.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("host: SHA256 %q is not a hex SHA-256 (64 hex digits)", cfg.SHA256)
		}
		b.sum = sum
	}
	size := cfg.ChunkSize
	b.pool.New = func() any { p := make([]byte, size); return &p }
	inst, err := b.start(ctx)
	if err != nil {
		return nil, err
	}
	b.inst, b.caps = inst, inst.caps
	return b, nil
}

// start launches and configures one plugin process.
func (b *Backend) start(ctx context.Context) (*instance, error) {
	cmd := exec.Command(b.cfg.Path, b.cfg.Args...)
	setProcAttr(cmd)
	hl := slogh.New(b.log)
	cc := &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: {sdk.PluginName: &sdk.GRPCPlugin{}}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hl,
		StartTimeout:     b.cfg.StartTimeout,
		SyncStdout:       &slogh.LineWriter{Log: func(l string) { b.log.Info(l, "stream", "stdout") }},
		SyncStderr:       &slogh.LineWriter{Log: func(l string) { b.log.Info(l, "stream", "stderr") }},
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(wire.MaxMessageSize), grpc.MaxCallSendMsgSize(wire.MaxMessageSize)),
			grpc.WithInitialWindowSize(wire.StreamWindow),
			grpc.WithInitialConnWindowSize(wire.ConnWindow),
			grpc.WithReadBufferSize(wire.SocketBuffer),
			grpc.WithWriteBufferSize(wire.SocketBuffer),
		},
	}
	if b.sum != nil {
		cc.SecureConfig = &plugin.SecureConfig{Checksum: b.sum, Hash: sha256.New()}
	}
	client := plugin.NewClient(cc)
	fail := func(err error) (*instance, error) {
		client.Kill()
		return nil, fmt.Errorf("host: starting plugin %s: %w", b.cfg.Path, err)
	}
	rc, err := client.Client()
	if err != nil {
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return fail(fmt.Errorf("executable does not match the pinned SHA-256: %w", err))
		}
		return fail(err)
	}
	raw, err := rc.Dispense(sdk.PluginName)
	if err != nil {
		return fail(err)
	}
	rpc, ok := raw.(pb.BackendClient)
	if !ok {
		return fail(fmt.Errorf("unexpected plugin client %T", raw))
	}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.StartTimeout)
	defer cancel()
	resp, err := rpc.Configure(cctx, &pb.ConfigureRequest{Config: b.cfg.Config, ChunkSize: int32(b.cfg.ChunkSize)})
	if err != nil {
		return fail(fmt.Errorf("configure: %w", wire.FromStatus(err)))
	}
	inst := &instance{client: client, rpc: rpc, caps: resp.Capabilities, name: resp.Name, version: resp.Version, started: time.Now()}
	if rcfg := client.ReattachConfig(); rcfg != nil {
		inst.pid = rcfg.Pid
	}
	b.log.Info("backend plugin started", "name", resp.Name, "version", resp.Version, "pid", inst.pid, "capabilities", resp.Capabilities)
	return inst, nil
}

// restartBackoff is the pause before the n-th consecutive restart of a
// plugin that keeps dying young: none for the first two, then from 100ms
// doubling up to 10s.
func restartBackoff(n int) time.Duration {
	if n <= 2 {
		return 0
	}
	d := 100 * time.Millisecond << min(n-3, 7)
	return min(d, 10*time.Second)
}

// acquire returns the running instance, starting one when there is none or
// the last one exited.
func (b *Backend) acquire(ctx context.Context) (*instance, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if b.inst != nil {
		if !b.inst.client.Exited() {
			return b.inst, nil
		}
		b.dropLocked(b.inst, "plugin process exited")
	}
	if wait := time.Until(b.nextStart); wait > 0 {
		return nil, fmt.Errorf("%w: plugin is restarting (next attempt in %v)", backends.ErrUnavailable, wait.Round(time.Millisecond))
	}
	// A restart serves every caller to come: the caller that happens to
	// trigger it must not cancel it.
	inst, err := b.start(context.WithoutCancel(ctx))
	if err != nil {
		b.failures++
		b.nextStart = time.Now().Add(max(restartBackoff(b.failures), 100*time.Millisecond))
		b.log.Error("backend plugin failed to start", "err", err)
		return nil, fmt.Errorf("%w: %w", backends.ErrUnavailable, err)
	}
	b.inst, b.caps = inst, inst.caps
	return inst, nil
}

// dropLocked forgets inst (and kills what is left of it), counting a short
// life as a failure so that a crash loop backs off.
func (b *Backend) dropLocked(inst *instance, why string) {
	if b.inst != inst {
		return
	}
	b.inst = nil
	if time.Since(inst.started) < 10*time.Second {
		b.failures++
	} else {
		b.failures = 1
	}
	b.nextStart = time.Now().Add(restartBackoff(b.failures))
	b.log.Warn("backend plugin lost; the next call restarts it", "reason", why, "pid", inst.pid)
	go inst.client.Kill()
}

// Capabilities returns the capabilities the plugin declared (sdk.Cap*) when
// it was last started.
func (b *Backend) Capabilities() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.caps)
}

// PID returns the process ID of the running plugin, or 0 when none runs.
func (b *Backend) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inst == nil || b.inst.client.Exited() {
		return 0
	}
	return b.inst.pid
}

// Close closes the backend in the plugin and stops the process.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	inst := b.inst
	b.inst = nil
	b.mu.Unlock()
	if inst == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.CallTimeout)
	_, err := inst.rpc.Close(ctx, &pb.CloseRequest{})
	cancel()
	inst.client.Kill()
	if err != nil {
		if err := wire.FromStatus(err); !isTransport(err) {
			return fmt.Errorf("host: closing plugin backend: %w", err)
		}
	}
	return nil
}

func isTransport(err error) bool {
	var re *wire.RemoteError
	return errors.As(err, &re) && re.Transport
}

// callErr maps the error of a call on inst: statuses back to the
// vocabulary, a lost connection to ErrUnavailable (and the instance is
// dropped so the next call restarts the plugin), a CallTimeout to a
// timeout error that wraps both ErrUnavailable and DeadlineExceeded.
func (b *Backend) callErr(ctx, cctx context.Context, inst *instance, err error) error {
	if err == nil {
		return nil
	}
	err = wire.FromStatus(err)
	if isTransport(err) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The call was ended by a context: say whose. The plugin keeps its
		// own copy of a deadline and may act on it a moment before this
		// side does, so a deadline about to pass counts as passed.
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case cctx.Err() != nil:
			if cause := context.Cause(cctx); cause != nil {
				return cause
			}
		case expiring(ctx):
			return context.DeadlineExceeded
		case expiring(cctx):
			return errCallTimeout
		}
		// No context ended it: the connection was closed under the call
		// because the plugin went away.
		if b.lost(inst) {
			return fmt.Errorf("host: the plugin went away during the call (%v): %w", err, backends.ErrUnavailable)
		}
		return err
	}
	if ctx.Err() == nil && cctx.Err() != nil {
		if cause := context.Cause(cctx); cause != nil && !errors.Is(cause, context.Canceled) && cause != context.DeadlineExceeded {
			return cause
		}
	}
	if isTransport(err) && errors.Is(err, backends.ErrUnavailable) {
		b.mu.Lock()
		b.dropLocked(inst, err.Error())
		b.mu.Unlock()
	}
	return err
}

// lost reports whether inst is no longer the running plugin.
func (b *Backend) lost(inst *instance) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inst != inst || inst.client.Exited()
}

// expiring reports whether ctx's deadline is (all but) reached.
func expiring(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < 50*time.Millisecond
}

// unary runs one call bounded by CallTimeout.
func (b *Backend) unary(ctx context.Context, fn func(ctx context.Context, c pb.BackendClient) error) error {
	inst, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeoutCause(ctx, b.cfg.CallTimeout, errCallTimeout)
	defer cancel()
	return b.callErr(ctx, cctx, inst, fn(cctx, inst.rpc))
}

// retryable runs a call that is safe to repeat (it changes nothing), once
// more on a fresh process when the first attempt found the connection
// lost: a crash between two requests then costs no failed request.
func (b *Backend) retryable(ctx context.Context, fn func(ctx context.Context, c pb.BackendClient) error) error {
	err := b.unary(ctx, fn)
	if err != nil && isTransport(err) && errors.Is(err, backends.ErrUnavailable) && ctx.Err() == nil {
		return b.unary(ctx, fn)
	}
	return err
}

// watchdog cancels a stream that waits for the plugin longer than d at a
// time.
type watchdog struct {
	t *time.Timer
	d time.Duration
}

var errStalled = &timeoutError{what: "stream"}

func newWatchdog(d time.Duration, cancel context.CancelCauseFunc) *watchdog {
	t := time.AfterFunc(time.Hour, func() { cancel(errStalled) })
	t.Stop()
	return &watchdog{t: t, d: d}
}

func (w *watchdog) arm()    { w.t.Reset(w.d) }
func (w *watchdog) disarm() { w.t.Stop() }

// fill reads into buf until it is full or r fails; unlike io.ReadFull it
// returns r's error unchanged (io.EOF at the end).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
