// Package infra holds deployment material for Raya: the container image,
// example production configurations and Prometheus alert rules. This test
// keeps the examples honest: every configuration loads as raya serve would
// load it, and the alert rules are well formed and use only the metric
// names Raya exports.
package infra

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cloudraya/raya/gateway/app"
)

func TestExampleConfigs(t *testing.T) {
	files, _ := filepath.Glob("config/*.yaml")
	if len(files) < 2 {
		t.Fatalf("example configurations: %v", files)
	}
	types := map[string]bool{}
	for _, f := range files {
		cfg, err := app.LoadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !strings.HasPrefix(cfg.Meta, "redis") {
			t.Errorf("%s: a production example uses Redis, not %q", f, cfg.Meta)
		}
		if cfg.TLSCert == "" && !cfg.AllowHTTP {
			t.Errorf("%s: serves plain HTTP off loopback", f)
		}
		for _, b := range cfg.Backends {
			types[b.Type] = true
		}
	}
	for _, want := range []string{"gcs", "s3"} {
		if !types[want] {
			t.Errorf("no example uses a %s backend", want)
		}
	}
}

type rules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestAlertRules(t *testing.T) {
	data, err := os.ReadFile("prometheus/raya-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var r rules
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{
		"raya_http_requests_total": true, "raya_http_request_duration_seconds_bucket": true,
		"raya_meta_errors_total": true, "up": true,
	}
	metric := regexp.MustCompile(`\b(raya_[a-z_]+|up)\b`)
	seen := map[string]bool{}
	n := 0
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			n++
			if rule.Alert == "" || rule.Expr == "" || rule.Annotations["summary"] == "" {
				t.Errorf("rule %+v: alert, expr and a summary are required", rule)
			}
			if s := rule.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q", rule.Alert, s)
			}
			if seen[rule.Alert] {
				t.Errorf("%s twice", rule.Alert)
			}
			seen[rule.Alert] = true
			if strings.Count(rule.Expr, "(") != strings.Count(rule.Expr, ")") {
				t.Errorf("%s: unbalanced parentheses", rule.Alert)
			}
			for _, m := range metric.FindAllString(rule.Expr, -1) {
				if !known[m] {
					t.Errorf("%s: unknown metric %s", rule.Alert, m)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("%d rules", n)
	}
}

// TestDockerfile checks what the image promises (no engine runs here to
// build it): a static binary, a distroless base, a non-root user, and the
// build stage localdev's seed job uses.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []string{
		"CGO_ENABLED=0",
		"./gateway/cmd/raya",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER 65532:65532",
		`ENTRYPOINT ["/usr/local/bin/raya"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^FROM golang:\S+ AS build$`).MatchString(df) {
		t.Error("Dockerfile has no build stage named build")
	}
	if _, err := os.Stat("../gateway/cmd/raya"); err != nil {
		t.Error(err)
	}
}
