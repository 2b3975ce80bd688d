package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestTemplateMatchesFunction keeps template.yaml and this command in step:
// the SAM build target exists in the Makefile, the runtime and handler are
// the bootstrap's, the Function URL streams (as the function assumes by
// default), and every environment variable the template sets is one the
// function reads. (cfn-lint checks the template itself: make cfn-lint.)
func TestTemplateMatchesFunction(t *testing.T) {
	data, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Globals struct {
			Function struct {
				Runtime string `yaml:"Runtime"`
				Handler string `yaml:"Handler"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
		Resources map[string]struct {
			Type     string `yaml:"Type"`
			Metadata struct {
				BuildMethod string `yaml:"BuildMethod"`
			} `yaml:"Metadata"`
			Properties struct {
				Environment struct {
					Variables map[string]yaml.Node `yaml:"Variables"`
				} `yaml:"Environment"`
				FunctionURLConfig struct {
					InvokeMode string `yaml:"InvokeMode"`
				} `yaml:"FunctionUrlConfig"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	if tpl.Globals.Function.Runtime != "provided.al2023" || tpl.Globals.Function.Handler != "bootstrap" {
		t.Errorf("runtime %q handler %q", tpl.Globals.Function.Runtime, tpl.Globals.Function.Handler)
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	// Every environment variable name the function reads.
	read := map[string]bool{}
	_, _ = loadConfig(context.Background(), func(k string) string { read[k] = true; return "" },
		func(context.Context) (Secrets, error) { return nil, os.ErrNotExist })
	for _, base := range []string{"RAYA_META", "RAYA_ROOT_SECRET_KEY", "RAYA_MASTER_KEY", "RAYA_MASTER_KEY_PREVIOUS", "RAYA_BACKENDS"} {
		read[base+"_SECRET_ID"], read[base+"_PARAMETER"] = true, true
	}
	functions := 0
	for name, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		functions++
		if r.Metadata.BuildMethod != "makefile" {
			t.Errorf("%s: BuildMethod %q", name, r.Metadata.BuildMethod)
		}
		if !regexp.MustCompile(`(?m)^build-` + name + `:`).Match(makefile) {
			t.Errorf("the Makefile has no build-%s target for sam build", name)
		}
		if r.Properties.FunctionURLConfig.InvokeMode != "RESPONSE_STREAM" {
			t.Errorf("%s: the Function URL must stream", name)
		}
		for v := range r.Properties.Environment.Variables {
			if !read[v] {
				t.Errorf("%s sets %s, which the function does not read", name, v)
			}
			if !strings.HasPrefix(v, "RAYA_") {
				t.Errorf("%s: %s", name, v)
			}
		}
	}
	if functions == 0 {
		t.Fatal("no function in template.yaml")
	}
}
