package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cloudraya/raya/functions/lambdahttp"
)

type fakeSecrets struct {
	secrets, params map[string]string
	calls           int
}

func (f *fakeSecrets) SecretString(_ context.Context, id string) (string, error) {
	f.calls++
	v, ok := f.secrets[id]
	if !ok {
		return "", errors.New("ResourceNotFoundException: " + id)
	}
	return v, nil
}

func (f *fakeSecrets) Parameter(_ context.Context, name string) (string, error) {
	f.calls++
	v, ok := f.params[name]
	if !ok {
		return "", errors.New("ParameterNotFound: " + name)
	}
	return v, nil
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	fake := &fakeSecrets{
		secrets: map[string]string{
			"arn:aws:secretsmanager:us-east-1:123456789012:secret:raya-master-AbCdEf": "bWFzdGVyLWtleS1ieXRlcw==",
			"raya/redis": `{"url":"rediss://:tok@raya.cache.amazonaws.com:6379/0","other":1}`,
		},
		params: map[string]string{"/raya/root-secret": "root-secret-value"},
	}
	newSecrets := func(context.Context) (Secrets, error) { return fake, nil }
	cfg, err := loadConfig(context.Background(), env(map[string]string{
		"RAYA_META_SECRET_ID":            "raya/redis#url",
		"RAYA_ROOT_ACCESS_KEY":           "AKIDROOT",
		"RAYA_ROOT_SECRET_KEY_PARAMETER": "/raya/root-secret",
		"RAYA_MASTER_KEY_SECRET_ID":      "arn:aws:secretsmanager:us-east-1:123456789012:secret:raya-master-AbCdEf",
		"RAYA_DOMAIN":                    "s3.example.com, s3.example.net",
		"RAYA_PUBLIC_HOST":               "s3.example.com",
		"RAYA_FUNCTION_URL_MODE":         "buffered",
		"RAYA_EVENT_PATH_ENCODING":       "decoded",
		"RAYA_LAMBDA_MAX_STREAM_BODY":    "-1",
		"RAYA_BACKENDS":                  `[{"name": "local", "type": "local"}, {"name": "archive", "type": "s3", "options": {"bucket": "b"}}]`,
		"RAYA_DEFAULT_BACKEND":           "archive",
	}), newSecrets)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetaURL != "rediss://:tok@raya.cache.amazonaws.com:6379/0" || cfg.RootSecretKey != "root-secret-value" ||
		cfg.MasterKey != "bWFzdGVyLWtleS1ieXRlcw==" || len(cfg.Domains) != 2 || cfg.DataDir != "/tmp/raya" {
		t.Errorf("%+v", cfg)
	}
	if !cfg.Transport.BufferedFunctionURL || cfg.Transport.PathEncoding != lambdahttp.PathDecoded || cfg.Transport.MaxStreamBody != -1 {
		t.Errorf("transport %+v", cfg.Transport)
	}
	if len(cfg.Backends) != 2 || cfg.Backends[1].Options["bucket"] != "b" || cfg.DefaultBackend != "archive" {
		t.Errorf("backends %+v default %q", cfg.Backends, cfg.DefaultBackend)
	}
	if fake.calls != 3 {
		t.Errorf("%d secret calls", fake.calls)
	}
	if got := redact(cfg.MetaURL); strings.Contains(got, "tok") {
		t.Errorf("redact: %s", got)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	noAWS := func(context.Context) (Secrets, error) { return nil, errors.New("no AWS here") }
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no metadata store", map[string]string{}, []string{"RAYA_META is required"}},
		{"shared store without root or master key", map[string]string{"RAYA_META": "redis://r:6379"}, []string{"must not generate a root key pair", "RAYA_MASTER_KEY"}},
		{"half a root pair", map[string]string{"RAYA_META": "embedded", "RAYA_ROOT_ACCESS_KEY": "A"}, []string{"set both"}},
		{"secret unavailable", map[string]string{"RAYA_META": "embedded", "RAYA_MASTER_KEY_SECRET_ID": "x"}, []string{"no AWS here"}},
		{"bad values", map[string]string{"RAYA_META": "embedded", "RAYA_FUNCTION_URL_MODE": "sometimes",
			"RAYA_EVENT_PATH_ENCODING": "rot13", "RAYA_LAMBDA_MAX_REQUEST_BODY": "lots", "RAYA_LOG_FORMAT": "xml", "RAYA_BACKENDS": "[{name: x, type: ftp}]",
			"RAYA_BLOCK_PUBLIC_ACCESS": "maybe"},
			[]string{"RAYA_FUNCTION_URL_MODE", "RAYA_EVENT_PATH_ENCODING", "RAYA_LAMBDA_MAX_REQUEST_BODY", "RAYA_LOG_FORMAT", "unknown type", "RAYA_BLOCK_PUBLIC_ACCESS"}},
	}
	for _, tt := range tests {
		_, err := loadConfig(context.Background(), env(tt.env), noAWS)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v does not mention %q", tt.name, err, w)
			}
		}
	}
}

func TestSecretField(t *testing.T) {
	fake := &fakeSecrets{secrets: map[string]string{"s": `{"a":"1"}`, "plain": "v"}}
	sec := func() (Secrets, error) { return fake, nil }
	ctx := context.Background()
	for _, tt := range []struct{ id, want, err string }{
		{"s#a", "1", ""}, {"plain", "v", ""}, {"s#b", "", "no string field"}, {"plain#a", "", "not a JSON object"},
	} {
		got, err := secretVar(ctx, env(map[string]string{"X_SECRET_ID": tt.id}), sec, "X")
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %q %v", tt.id, got, err)
		}
	}
}
