// Command example is a complete, third-party-style Raya backend plugin: an
// in-memory object store, served over the plugin protocol by one call to
// sdk.Serve. Copy this folder to start your own plugin; README.md walks an
// operator through building, testing, pinning and configuring it.
//
// Configuration (the plugin's config map in raya's configuration):
//
//	max_bytes   upper bound on stored object and part bytes (default: unlimited)
//
// Everything is lost when the process stops or is restarted: it is an
// example, and a test double, not a place to keep data.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/plugins/sdk"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	err := sdk.Serve(newFromConfig, &sdk.ServeOptions{
		Name:         "example-memory",
		Version:      version,
		Capabilities: []string{sdk.CapCopy},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// newFromConfig is the plugin's factory: it validates the configuration
// the operator wrote and builds the backend.
func newFromConfig(_ context.Context, config map[string]string) (backends.Backend, error) {
	var maxBytes int64
	for k, v := range config {
		switch k {
		case "max_bytes":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("max_bytes: want a positive number of bytes, got %q", v)
			}
			maxBytes = n
		default:
			return nil, fmt.Errorf("unknown configuration key %q (known: max_bytes)", k)
		}
	}
	return newMemory(maxBytes), nil
}
