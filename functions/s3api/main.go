// Command s3api is Raya's S3 endpoint as an AWS Lambda function (the
// `bootstrap` of a provided.al2023 function, built with -tags lambda.norpc).
// It builds the very http.Handler `raya serve` runs, through gateway/app,
// and serves Function URL (streamed), API Gateway HTTP API and REST API,
// and ALB events with package lambdahttp.
//
// Configuration is the environment; see functions/README.md. Secrets can be
// given directly or fetched at cold start: for NAME in RAYA_META,
// RAYA_ROOT_SECRET_KEY, RAYA_MASTER_KEY, RAYA_MASTER_KEY_PREVIOUS and
// RAYA_BACKENDS, NAME_SECRET_ID names a Secrets
// Manager secret ("ID#field" for a field of a JSON secret) and
// NAME_PARAMETER an SSM parameter.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cloudraya/raya/functions/lambdahttp"
	"github.com/cloudraya/raya/gateway/app"
)

func main() {
	start := time.Now()
	ctx := context.Background()
	cfg, err := loadConfig(ctx, os.Getenv, newAWSSecrets)
	if err != nil {
		fatal(slog.Default(), "configuration", err)
	}
	log := newLogger(cfg)
	if err := exportMasterKey(cfg); err != nil {
		fatal(log, "master key", err)
	}
	if cfg.MetaURL == "" {
		log.Warn("embedded metadata store: state is per instance and lost with it; set RAYA_META to a Redis URL for any real deployment", "data", cfg.DataDir)
	}
	a, err := app.New(ctx, app.Config{
		DataDir: cfg.DataDir, Region: cfg.Region, Domains: cfg.Domains, MetaURL: cfg.MetaURL,
		RootAccessKey: cfg.RootAccessKey, RootSecretKey: cfg.RootSecretKey,
		BlockPublicAccess: cfg.BlockPublicAccess, Backends: cfg.Backends, DefaultBackend: cfg.DefaultBackend,
		BackendMode: cfg.BackendMode, Logger: log,
	})
	if err != nil {
		fatal(log, "gateway", err)
	}
	cfg.Transport.Logger = log
	h := lambdahttp.New(a.Handler, &cfg.Transport)
	log.Info("raya lambda ready", "init_ms", time.Since(start).Milliseconds(),
		"meta", redact(cfg.MetaURL), "public_host", cfg.Transport.PublicHost, "function_url_stream", !cfg.Transport.BufferedFunctionURL)
	lambda.Start(h.Invoke)
}

func newLogger(cfg *config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func fatal(log *slog.Logger, what string, err error) {
	log.Error("raya lambda cannot start", "what", what, "err", err)
	fmt.Fprintf(os.Stderr, "raya: %s: %v\n", what, err)
	os.Exit(1)
}

// redact hides a URL's password for the logs.
func redact(s string) string {
	if s == "" {
		return "embedded"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
