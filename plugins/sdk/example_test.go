package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/plugins/sdk"
)

// newMyBackend stands for a plugin author's backends.Backend.
func newMyBackend(root string) (backends.Backend, error) {
	return nil, errors.New("not implemented in this example")
}

// A plugin's main is one call to Serve with a factory that turns the
// operator's configuration into a backend.
func ExampleServe() {
	err := sdk.Serve(func(ctx context.Context, config map[string]string) (backends.Backend, error) {
		if config["root"] == "" {
			return nil, errors.New(`config key "root" is required`)
		}
		return newMyBackend(config["root"])
	}, &sdk.ServeOptions{Name: "mybackend", Version: "1.0.0"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
