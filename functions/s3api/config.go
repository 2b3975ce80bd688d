package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cloudraya/raya/functions/lambdahttp"
	"github.com/cloudraya/raya/gateway/app"
)

// Secrets fetches secret values: a Secrets Manager secret's string, or an
// SSM parameter's decrypted value.
type Secrets interface {
	SecretString(ctx context.Context, id string) (string, error)
	Parameter(ctx context.Context, name string) (string, error)
}

// config is the function's configuration, all from the environment.
type config struct {
	DataDir       string
	Region        string
	Domains       []string
	MetaURL       string // "" = embedded store in DataDir
	RootAccessKey string
	RootSecretKey string
	MasterKey     string
	// MasterKeyPrevious are retired master keys still able to open
	// secrets during a rotation (comma-separated base64).
	MasterKeyPrevious string
	BlockPublicAccess bool
	Backends          []app.BackendConfig
	DefaultBackend    string
	BackendMode       string
	LogLevel          slog.Level
	LogJSON           bool
	Transport         lambdahttp.Options
}

// secretVar resolves NAME from the first of:
//
//	NAME             the value itself
//	NAME_SECRET_ID   a Secrets Manager secret (ARN or name); "ID#field"
//	                 takes one field of a JSON secret
//	NAME_PARAMETER   an SSM Parameter Store name (SecureString decrypted)
func secretVar(ctx context.Context, getenv func(string) string, sec func() (Secrets, error), name string) (string, error) {
	if v := getenv(name); v != "" {
		return v, nil
	}
	if id := getenv(name + "_SECRET_ID"); id != "" {
		s, err := sec()
		if err != nil {
			return "", err
		}
		field := ""
		if i := strings.LastIndexByte(id, '#'); i >= 0 {
			id, field = id[:i], id[i+1:]
		}
		v, err := s.SecretString(ctx, id)
		if err != nil {
			return "", fmt.Errorf("%s_SECRET_ID: %w", name, err)
		}
		if field != "" {
			var m map[string]any
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				return "", fmt.Errorf("%s_SECRET_ID: secret %q is not a JSON object, so it has no field %q", name, id, field)
			}
			f, ok := m[field].(string)
			if !ok || f == "" {
				return "", fmt.Errorf("%s_SECRET_ID: secret %q has no string field %q", name, id, field)
			}
			v = f
		}
		if v == "" {
			return "", fmt.Errorf("%s_SECRET_ID: secret %q is empty", name, id)
		}
		return v, nil
	}
	if p := getenv(name + "_PARAMETER"); p != "" {
		s, err := sec()
		if err != nil {
			return "", err
		}
		v, err := s.Parameter(ctx, p)
		if err != nil {
			return "", fmt.Errorf("%s_PARAMETER: %w", name, err)
		}
		if v == "" {
			return "", fmt.Errorf("%s_PARAMETER: parameter %q is empty", name, p)
		}
		return v, nil
	}
	return "", nil
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

func envInt(getenv func(string) string, name string) (int64, error) {
	v := getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a number of bytes", name, v)
	}
	return n, nil
}

// loadConfig reads the configuration; sec is called at most once, and only
// when a secret is to be fetched.
func loadConfig(ctx context.Context, getenv func(string) string, newSecrets func(context.Context) (Secrets, error)) (*config, error) {
	var (
		secrets Secrets
		secErr  error
		made    bool
	)
	sec := func() (Secrets, error) {
		if !made {
			secrets, secErr = newSecrets(ctx)
			made = true
		}
		return secrets, secErr
	}
	var errs []error
	get := func(name string) string {
		v, err := secretVar(ctx, getenv, sec, name)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	// The file of raya serve, when given (e.g. packaged with the function);
	// the environment wins over it.
	file := &app.File{}
	if path := getenv("RAYA_CONFIG"); path != "" {
		f, err := app.LoadFile(path)
		if err != nil {
			return nil, err
		}
		file = f
	}
	c := &config{
		DataDir:           orDefault(getenv("RAYA_DATA"), orDefault(file.Data, "/tmp/raya")),
		Region:            orDefault(getenv("RAYA_REGION"), orDefault(file.Region, "us-east-1")),
		Domains:           file.Domains,
		BlockPublicAccess: file.BlockPublicAccess,
		Backends:          file.Backends,
		DefaultBackend:    orDefault(getenv("RAYA_DEFAULT_BACKEND"), file.DefaultBackend),
		BackendMode:       orDefault(getenv("RAYA_BACKEND_MODE"), file.BackendMode),
	}
	if d := splitList(getenv("RAYA_DOMAIN")); len(d) > 0 {
		c.Domains = d
	}
	switch v := getenv("RAYA_BLOCK_PUBLIC_ACCESS"); v {
	case "":
	case "true", "1":
		c.BlockPublicAccess = true
	case "false", "0":
		c.BlockPublicAccess = false
	default:
		errs = append(errs, fmt.Errorf("RAYA_BLOCK_PUBLIC_ACCESS=%q: want true or false", v))
	}
	switch meta := orDefault(get("RAYA_META"), file.Meta); meta {
	case "":
		errs = append(errs, errors.New("RAYA_META is required: a Redis URL (redis://, rediss://, redis+sentinel://, redis+cluster://) shared by every instance; "+
			"'embedded' keeps a per-instance store in RAYA_DATA, for tests only"))
	case "embedded":
	default:
		c.MetaURL = meta
	}
	c.RootAccessKey = getenv("RAYA_ROOT_ACCESS_KEY")
	c.RootSecretKey = get("RAYA_ROOT_SECRET_KEY")
	if (c.RootAccessKey == "") != (c.RootSecretKey == "") {
		errs = append(errs, errors.New("set both RAYA_ROOT_ACCESS_KEY and RAYA_ROOT_SECRET_KEY (or one of its _SECRET_ID / _PARAMETER forms), or neither"))
	}
	if c.MetaURL != "" && c.RootAccessKey == "" {
		errs = append(errs, errors.New("RAYA_ROOT_ACCESS_KEY and RAYA_ROOT_SECRET_KEY are required with a shared metadata store: "+
			"an instance must not generate a root key pair of its own"))
	}
	c.MasterKey = get("RAYA_MASTER_KEY")
	c.MasterKeyPrevious = get("RAYA_MASTER_KEY_PREVIOUS")
	if c.MetaURL != "" && c.MasterKey == "" && getenv("RAYA_MASTER_KEY_FILE") == "" {
		errs = append(errs, errors.New("RAYA_MASTER_KEY (or RAYA_MASTER_KEY_SECRET_ID / _PARAMETER / _FILE) is required with a shared metadata store: it seals the secret keys kept there"))
	}
	if b := get("RAYA_BACKENDS"); b != "" {
		var bs []app.BackendConfig
		dec := yaml.NewDecoder(strings.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&bs); err != nil {
			errs = append(errs, fmt.Errorf("RAYA_BACKENDS: a YAML or JSON list of backends: %w", err))
		}
		c.Backends = bs
	}
	if err := app.ValidateBackends(c.Backends, c.DefaultBackend); err != nil {
		errs = append(errs, fmt.Errorf("backends: %w", err))
	}
	switch c.BackendMode {
	case "", app.ModeInProcess, app.ModePlugin:
	default:
		errs = append(errs, fmt.Errorf("RAYA_BACKEND_MODE=%q: want %s or %s", c.BackendMode, app.ModeInProcess, app.ModePlugin))
	}

	t := &c.Transport
	t.PublicHost = getenv("RAYA_PUBLIC_HOST")
	t.ForwardedHostHeader = getenv("RAYA_FORWARDED_HOST_HEADER")
	t.PathPrefix = getenv("RAYA_PATH_PREFIX")
	var err error
	if t.PathEncoding, err = lambdahttp.ParsePathEncoding(getenv("RAYA_EVENT_PATH_ENCODING")); err != nil {
		errs = append(errs, fmt.Errorf("RAYA_EVENT_PATH_ENCODING: %w", err))
	}
	switch m := strings.ToLower(getenv("RAYA_FUNCTION_URL_MODE")); m {
	case "", "stream", "response_stream":
	case "buffered":
		t.BufferedFunctionURL = true
	default:
		errs = append(errs, fmt.Errorf("RAYA_FUNCTION_URL_MODE=%q: want stream or buffered (the Function URL's InvokeMode)", m))
	}
	for name, p := range map[string]*int64{
		"RAYA_LAMBDA_MAX_REQUEST_BODY":  &t.MaxRequestBody,
		"RAYA_LAMBDA_MAX_RESPONSE_BODY": &t.MaxResponseBody,
		"RAYA_LAMBDA_MAX_STREAM_BODY":   &t.MaxStreamBody,
	} {
		if *p, err = envInt(getenv, name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(orDefault(getenv("RAYA_LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Errorf("RAYA_LOG_LEVEL: %w", err))
	}
	switch f := orDefault(getenv("RAYA_LOG_FORMAT"), "json"); f {
	case "json":
		c.LogJSON = true
	case "text":
	default:
		errs = append(errs, fmt.Errorf("RAYA_LOG_FORMAT=%q: want json or text", f))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// exportMasterKey hands the master key (fetched from Secrets Manager or
// SSM when so configured) to the gateway the way `raya serve` receives it:
// the process environment's RAYA_MASTER_KEY and RAYA_MASTER_KEY_PREVIOUS,
// which package sealed reads.
func exportMasterKey(c *config) error {
	for name, v := range map[string]string{"RAYA_MASTER_KEY": c.MasterKey, "RAYA_MASTER_KEY_PREVIOUS": c.MasterKeyPrevious} {
		if v == "" {
			continue
		}
		if err := os.Setenv(name, v); err != nil {
			return err
		}
	}
	return nil
}
