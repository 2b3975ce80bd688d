package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloudraya/raya/gateway/app"
)

type serveFlags struct {
	listen    string
	data      string
	tlsCert   string
	tlsKey    string
	domains   []string
	region    string
	allowHTTP bool
	logFormat string
	logLevel  string
	shutdown  time.Duration
	meta      string
	blockPub  bool
	keyTTL    time.Duration
	config    string
	mode      string
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// newServeCmd returns `raya serve`: the S3 endpoint as one process.
func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the S3 endpoint",
		Long: `Run the S3 endpoint over the embedded metadata store and the local-disk backend.

Plain HTTP is served only on a loopback address; elsewhere give --tls-cert and
--tls-key, or --allow-http behind a TLS-terminating proxy you trust.
The root key pair comes from RAYA_ROOT_ACCESS_KEY / RAYA_ROOT_SECRET_KEY, or is
generated on first start and kept in DATA/root.json (mode 0600).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", envOr("RAYA_LISTEN", "127.0.0.1:9000"), "address to listen on (env RAYA_LISTEN)")
	fl.StringVar(&f.data, "data", envOr("RAYA_DATA", "./data"), "folder for all local state (env RAYA_DATA)")
	fl.StringVar(&f.tlsCert, "tls-cert", os.Getenv("RAYA_TLS_CERT"), "TLS certificate (PEM) to serve HTTPS (env RAYA_TLS_CERT)")
	fl.StringVar(&f.tlsKey, "tls-key", os.Getenv("RAYA_TLS_KEY"), "TLS private key (PEM) (env RAYA_TLS_KEY)")
	fl.StringSliceVar(&f.domains, "domain", splitList(os.Getenv("RAYA_DOMAIN")), "domain for virtual-hosted-style requests BUCKET.DOMAIN; repeatable (env RAYA_DOMAIN)")
	fl.StringVar(&f.region, "region", envOr("RAYA_REGION", "us-east-1"), "region reported to clients (env RAYA_REGION)")
	fl.BoolVar(&f.allowHTTP, "allow-http", os.Getenv("RAYA_ALLOW_HTTP") == "true", "serve plain HTTP on a non-loopback address (only behind a trusted TLS-terminating proxy)")
	fl.StringVar(&f.logFormat, "log-format", envOr("RAYA_LOG_FORMAT", "text"), "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", envOr("RAYA_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	fl.DurationVar(&f.shutdown, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown waits for requests in flight")
	fl.StringVar(&f.meta, "meta", os.Getenv("RAYA_META"), "metadata store: empty for the embedded store in --data, or redis://HOST:PORT/DB, rediss://..., redis+sentinel://..., redis+cluster://... (env RAYA_META)")
	fl.BoolVar(&f.blockPub, "block-public-access", os.Getenv("RAYA_BLOCK_PUBLIC_ACCESS") == "true", "refuse public grants deployment-wide and ignore existing ones (env RAYA_BLOCK_PUBLIC_ACCESS=true)")
	fl.DurationVar(&f.keyTTL, "key-cache-ttl", 2*time.Second, "how long key lookups are cached in process: the bound on revocation across instances")
	fl.StringVar(&f.config, "config", os.Getenv("RAYA_CONFIG"), "configuration file (YAML); flags and environment variables override it (env RAYA_CONFIG)")
	fl.StringVar(&f.mode, "backend-mode", envOr("RAYA_BACKEND_MODE", app.ModeInProcess), "run built-in backends in process (inprocess) or as child plugin processes (plugin) (env RAYA_BACKEND_MODE)")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// isLoopbackAddr reports whether a listen address is on loopback.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopback(host)
}

// applyFile fills the settings neither a flag nor the environment gave
// from the configuration file.
func applyFile(cmd *cobra.Command, f *serveFlags, file *app.File) {
	set := func(flag, env string) bool { return !cmd.Flags().Changed(flag) && os.Getenv(env) == "" }
	str := func(dst *string, flag, env, v string) {
		if v != "" && set(flag, env) {
			*dst = v
		}
	}
	str(&f.listen, "listen", "RAYA_LISTEN", file.Listen)
	str(&f.data, "data", "RAYA_DATA", file.Data)
	str(&f.tlsCert, "tls-cert", "RAYA_TLS_CERT", file.TLSCert)
	str(&f.tlsKey, "tls-key", "RAYA_TLS_KEY", file.TLSKey)
	str(&f.region, "region", "RAYA_REGION", file.Region)
	str(&f.meta, "meta", "RAYA_META", file.Meta)
	str(&f.logFormat, "log-format", "RAYA_LOG_FORMAT", file.LogFormat)
	str(&f.logLevel, "log-level", "RAYA_LOG_LEVEL", file.LogLevel)
	str(&f.mode, "backend-mode", "RAYA_BACKEND_MODE", file.BackendMode)
	if len(file.Domains) > 0 && set("domain", "RAYA_DOMAIN") {
		f.domains = file.Domains
	}
	if file.AllowHTTP && set("allow-http", "RAYA_ALLOW_HTTP") {
		f.allowHTTP = true
	}
	if file.BlockPublicAccess && set("block-public-access", "RAYA_BLOCK_PUBLIC_ACCESS") {
		f.blockPub = true
	}
	if file.KeyCacheTTL > 0 && !cmd.Flags().Changed("key-cache-ttl") {
		f.keyTTL = file.KeyCacheTTL
	}
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	var file app.File
	if f.config != "" {
		loaded, err := app.LoadFile(f.config)
		if err != nil {
			return err
		}
		file = *loaded
		applyFile(cmd, f, &file)
	}
	switch f.mode {
	case app.ModeInProcess, app.ModePlugin:
	default:
		return fmt.Errorf("--backend-mode must be %s or %s, not %q", app.ModeInProcess, app.ModePlugin, f.mode)
	}
	log, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	useTLS := f.tlsCert != "" || f.tlsKey != ""
	if useTLS && (f.tlsCert == "" || f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if !useTLS && !f.allowHTTP && !isLoopbackAddr(f.listen) {
		return fmt.Errorf("refusing plain HTTP on %s, which is not a loopback address: give --tls-cert and --tls-key, or --allow-http behind a TLS-terminating proxy", f.listen)
	}
	var tlsCfg *tls.Config
	if useTLS {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, app.Config{
		DataDir: f.data, Region: f.region, Domains: f.domains, Logger: log,
		MetaURL: f.meta, BlockPublicAccess: f.blockPub, KeyCacheTTL: f.keyTTL,
		Backends: file.Backends, DefaultBackend: file.DefaultBackend, BackendMode: f.mode,
		RootAccessKey: os.Getenv("RAYA_ROOT_ACCESS_KEY"), RootSecretKey: os.Getenv("RAYA_ROOT_SECRET_KEY"),
	})
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	endpoint := scheme + "://" + ln.Addr().String()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Raya S3 endpoint: %s\n", endpoint)
	fmt.Fprintf(out, "Root access key:  %s\n", a.Root.AccessKeyID)
	fmt.Fprintf(out, "Root secret key:  %s\n", a.Root.SecretAccessKey)
	fmt.Fprintf(out, "Try: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws --endpoint-url %s s3 ls\n",
		a.Root.AccessKeyID, a.Root.SecretAccessKey, endpoint)

	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "endpoint", endpoint, "data", f.data, "domains", f.domains)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "timeout", f.shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
		return err
	}
	log.Info("stopped")
	return nil
}
