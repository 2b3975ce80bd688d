// Package localdev holds the docker compose stack of Raya's local
// development environment; this test validates it with compose-go, the
// loader docker compose itself uses, since CI has no Docker engine.
package localdev

import (
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/cloudraya/raya/gateway/app"
)

func loadProject(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"},
		cli.WithWorkingDirectory("."),
		cli.WithEnv([]string{}), // the host's environment must not change what is checked
		cli.WithProfiles(profiles),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	return p
}

func TestComposeFile(t *testing.T) {
	p := loadProject(t, "seed")
	for _, name := range []string{"redis", "raya", "minio", "fake-gcs", "seed"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
	}
	// Without the profile, seed is not started by `docker compose up`.
	if _, err := loadProject(t).GetService("seed"); err == nil {
		t.Error("seed must only run on demand (profile seed)")
	}

	raya, _ := p.GetService("raya")
	if raya.Build == nil || !fileExists(filepath.Join(raya.Build.Context, raya.Build.Dockerfile)) {
		t.Fatalf("raya must build from infra/Dockerfile: %+v", raya.Build)
	}
	if filepath.Base(raya.Build.Context) == "localdev" || !strings.HasSuffix(filepath.ToSlash(raya.Build.Dockerfile), "infra/Dockerfile") {
		t.Errorf("raya build: context %s dockerfile %s", raya.Build.Context, raya.Build.Dockerfile)
	}
	// The published ports stay on the host's loopback.
	for _, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("service %s publishes %s:%s beyond loopback", s.Name, port.HostIP, port.Published)
			}
		}
	}
	env := func(s types.ServiceConfig, k string) string {
		if v := s.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	// The gateway's metadata store is the compose Redis.
	meta, err := url.Parse(env(raya, "RAYA_META"))
	if err != nil || !strings.HasPrefix(meta.Scheme, "redis") {
		t.Fatalf("RAYA_META %q", env(raya, "RAYA_META"))
	}
	if _, err := p.GetService(meta.Hostname()); err != nil {
		t.Errorf("RAYA_META names host %q, which is no service", meta.Hostname())
	}
	if k, err := base64.StdEncoding.DecodeString(env(raya, "RAYA_MASTER_KEY")); err != nil || len(k) != 32 {
		t.Errorf("RAYA_MASTER_KEY must be base64 of 32 bytes")
	}
	if dep, ok := raya.DependsOn["redis"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("raya must wait for a healthy redis: %+v", raya.DependsOn)
	}
	// The mounted configuration is valid for raya serve, and its backends
	// point at the emulators of this stack.
	var cfgPath string
	for _, v := range raya.Volumes {
		if v.Target == env(raya, "RAYA_CONFIG") {
			cfgPath = v.Source
		}
	}
	if cfgPath == "" {
		t.Fatalf("RAYA_CONFIG %q is not mounted", env(raya, "RAYA_CONFIG"))
	}
	f, err := app.LoadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range f.Backends {
		ep := b.Options["endpoint"]
		if ep == "" {
			continue
		}
		u, err := url.Parse(ep)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.GetService(u.Hostname()); err != nil {
			t.Errorf("backend %s: endpoint %s names no service", b.Name, ep)
		}
	}
	// The seed uses the root pair the gateway was given, and a stage of the
	// Dockerfile that exists.
	seed, _ := p.GetService("seed")
	if env(seed, "RAYA_ACCESS_KEY") != env(raya, "RAYA_ROOT_ACCESS_KEY") || env(seed, "RAYA_SECRET_KEY") != env(raya, "RAYA_ROOT_SECRET_KEY") {
		t.Error("seed and raya disagree on the root key pair")
	}
	df, err := os.ReadFile(filepath.Join(seed.Build.Context, seed.Build.Dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?mi)^FROM .* AS ` + regexp.QuoteMeta(seed.Build.Target) + `$`).Match(df) {
		t.Errorf("infra/Dockerfile has no stage %q", seed.Build.Target)
	}
	for _, v := range seed.Volumes {
		if !fileExists(v.Source) {
			t.Errorf("seed mounts %s, which does not exist", v.Source)
		}
	}
	// Images are pinned.
	for _, s := range p.Services {
		if s.Image != "" && s.Build == nil && (!strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest")) {
			t.Errorf("service %s: image %q is not pinned", s.Name, s.Image)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
