// Package app is the composition root: it turns configuration into a
// metadata store, backends and the S3 handler. It is the only place that
// picks implementations; the standalone server and the Lambda functions both
// build their handler here.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/admin"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/boltstore"
	"github.com/cloudraya/raya/gateway/meta/keycache"
	"github.com/cloudraya/raya/gateway/meta/redisstore"
	"github.com/cloudraya/raya/gateway/meta/sealed"
	"github.com/cloudraya/raya/gateway/s3api"
)

// LocalBackend is the name of the local-disk backend.
const LocalBackend = "local"

// Config is what the gateway is built from.
type Config struct {
	// DataDir holds all local state: the embedded metadata store, the
	// local-disk backend's objects and the generated root key pair.
	DataDir string
	// Region answers GetBucketLocation (default us-east-1).
	Region string
	// Domains enable virtual-hosted-style requests (BUCKET.DOMAIN).
	Domains []string
	// RootAccessKey and RootSecretKey set the root pair; when empty, the
	// pair kept in DataDir is used, or one is generated on first start.
	RootAccessKey string
	RootSecretKey string
	// MetaURL selects the metadata store: empty for the embedded store in
	// DataDir, or a Redis URL (redis://, rediss://, redis+sentinel://,
	// redis+cluster://).
	MetaURL string
	// KeyCacheTTL bounds how long a key lookup is cached in process: the
	// bound on revocation across instances (default 2s).
	KeyCacheTTL time.Duration
	// BlockPublicAccess refuses public grants deployment-wide.
	BlockPublicAccess bool
	// Backends are the storage backends; none means the local disk under
	// DataDir/objects, named "local". DefaultBackend takes new buckets
	// whose CreateBucket names none (default: the first).
	Backends       []BackendConfig
	DefaultBackend string
	// BackendMode runs built-in backends in process (default) or as child
	// plugin processes ("plugin") when their entry names no mode.
	BackendMode string
	Logger      *slog.Logger
}

// App is a built gateway.
type App struct {
	Handler http.Handler
	Store   meta.Store
	// Root is the administrator key pair.
	Root     meta.Key
	backends map[string]backends.Backend
	stopSub  context.CancelFunc
}

// rootFile keeps the generated root pair and account (mode 0600).
type rootFile struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	AccountID       string `json:"accountId"`
}

// New builds the gateway from cfg.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("app: a data folder is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if (cfg.RootAccessKey == "") != (cfg.RootSecretKey == "") {
		return nil, errors.New("app: set both RAYA_ROOT_ACCESS_KEY and RAYA_ROOT_SECRET_KEY, or neither")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("app: data folder: %w", err)
	}
	kr, err := masterKeyring(cfg)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	// Secrets are sealed innermost; key lookups are cached outermost, so a
	// warm cache answers authentication without a store round trip and a
	// revoked key stops working within the cache's TTL.
	copts := &keycache.Options{TTL: cfg.KeyCacheTTL}
	subCtx, stopSub := context.WithCancel(context.WithoutCancel(ctx))
	var ping func(context.Context) error
	if rs, ok := store.(*redisstore.Store); ok {
		// Instances tell each other which keys changed, so a revocation
		// usually applies everywhere at once; the TTL bounds it otherwise.
		copts.Invalidations = rs.SubscribeChanges(subCtx)
		copts.Publish = rs.PublishChange
		ping = rs.Ping
	}
	store = keycache.New(sealed.New(store, kr), copts)
	a := &App{Store: store, backends: map[string]backends.Backend{}, stopSub: stopSub}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	bcs := cfg.Backends
	if len(bcs) == 0 {
		bcs = defaultBackends(cfg)
	}
	if err := ValidateBackends(bcs, cfg.DefaultBackend); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	for _, bc := range bcs {
		be, err := openBackend(ctx, cfg, bc)
		if err != nil {
			return nil, fmt.Errorf("app: backend %q: %w", bc.Name, err)
		}
		a.backends[bc.Name] = be
	}
	def := cfg.DefaultBackend
	if def == "" {
		def = bcs[0].Name
	}
	if a.Root, err = ensureRoot(ctx, store, cfg); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h, err := s3api.New(s3api.Options{
		Metrics:           s3api.NewMetrics(reg),
		MetricsHandler:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Store:             store,
		Backends:          a.backends,
		DefaultBackend:    def,
		BlockPublicAccess: cfg.BlockPublicAccess,
		Region:            cfg.Region,
		Domains:           cfg.Domains,
		Admin:             admin.NewHandler(store, &admin.Options{Logger: cfg.Logger}),
		Logger:            cfg.Logger,
		Ready: func(ctx context.Context) error {
			if ping != nil {
				return ping(ctx)
			}
			_, err := store.GetKey(ctx, a.Root.AccessKeyID)
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	a.Handler = h
	return a, nil
}

// openStore opens the metadata store cfg names.
func openStore(ctx context.Context, cfg Config) (meta.Store, error) {
	if cfg.MetaURL == "" {
		return boltstore.Open(filepath.Join(cfg.DataDir, "meta.db"), nil)
	}
	if !strings.HasPrefix(cfg.MetaURL, "redis") {
		return nil, fmt.Errorf("metadata store %q: use a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL, or none for the embedded store", cfg.MetaURL)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return redisstore.Open(ctx, cfg.MetaURL, nil)
}

// masterKeyring loads the master key that seals secret keys at rest:
// RAYA_MASTER_KEY or RAYA_MASTER_KEY_FILE (with RAYA_MASTER_KEY_PREVIOUS
// during a rotation). The embedded store, when none is configured, keeps a
// generated one in DataDir/master.key (mode 0600); a shared store requires
// one.
func masterKeyring(cfg Config) (*sealed.Keyring, error) {
	kr, err := sealed.LoadKeyring()
	if !errors.Is(err, sealed.ErrNoMasterKey) {
		return kr, err
	}
	if cfg.MetaURL != "" {
		return nil, errors.New("a shared metadata store needs a master key: set RAYA_MASTER_KEY (generate one with: head -c 32 /dev/urandom | base64) or RAYA_MASTER_KEY_FILE")
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, gerr := sealed.GenerateKey()
		if gerr != nil {
			return nil, gerr
		}
		if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
			return nil, err
		}
		data, err = []byte(k), nil
	}
	if err != nil {
		return nil, err
	}
	return sealed.ParseKeyring(strings.TrimSpace(string(data)))
}

// ensureRoot makes the root account and key exist, from the configured
// pair, the pair kept in the data folder, or a new one.
func ensureRoot(ctx context.Context, store meta.Store, cfg Config) (meta.Key, error) {
	path := filepath.Join(cfg.DataDir, "root.json")
	var rf rootFile
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &rf); err != nil {
			return meta.Key{}, fmt.Errorf("app: %s is corrupt: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return meta.Key{}, fmt.Errorf("app: %w", err)
	}
	old := rf.AccessKeyID
	if cfg.RootAccessKey != "" {
		rf.AccessKeyID, rf.SecretAccessKey = cfg.RootAccessKey, cfg.RootSecretKey
	}
	if rf.AccessKeyID == "" {
		if rf.AccessKeyID, rf.SecretAccessKey, err = admin.GenerateKeyPair(); err != nil {
			return meta.Key{}, err
		}
	}
	// A root key already in the store keeps its account: instances that
	// share a store (or Lambda's fresh /tmp) must not mint new ones.
	existing, err := store.GetKey(ctx, rf.AccessKeyID)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return meta.Key{}, fmt.Errorf("app: root key: %w", err)
	}
	if existing != nil && existing.Root {
		rf.AccountID = existing.Account
	}
	if rf.AccountID == "" {
		if rf.AccountID, err = admin.NewAccountID(); err != nil {
			return meta.Key{}, err
		}
	}
	if _, err := store.GetAccount(ctx, rf.AccountID); errors.Is(err, meta.ErrNotFound) {
		err = store.CreateAccount(ctx, meta.Account{ID: rf.AccountID, DisplayName: "root", CreatedAt: time.Now().UTC()})
		if err != nil && !errors.Is(err, meta.ErrExists) {
			return meta.Key{}, fmt.Errorf("app: root account: %w", err)
		}
	} else if err != nil {
		return meta.Key{}, fmt.Errorf("app: root account: %w", err)
	}
	k := existing
	if k == nil || k.SecretAccessKey != rf.SecretAccessKey || !k.Root {
		k = &meta.Key{
			AccessKeyID: rf.AccessKeyID, SecretAccessKey: rf.SecretAccessKey, Account: rf.AccountID,
			Root: true, Label: "root", Status: meta.KeyActive, CreatedAt: time.Now().UTC(),
		}
		if err := store.PutKey(ctx, *k); err != nil {
			return meta.Key{}, fmt.Errorf("app: root key: %w", err)
		}
	}
	if old != "" && old != rf.AccessKeyID {
		if err := store.DeleteKey(ctx, old); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return meta.Key{}, fmt.Errorf("app: retire old root key: %w", err)
		}
	}
	out, _ := json.MarshalIndent(rf, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
		return meta.Key{}, fmt.Errorf("app: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return meta.Key{}, fmt.Errorf("app: %w", err)
	}
	return *k, nil
}

// Close releases the store and the backends.
func (a *App) Close() error {
	a.stopSub()
	var errs []error
	for _, b := range a.backends {
		errs = append(errs, b.Close())
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	return errors.Join(errs...)
}
