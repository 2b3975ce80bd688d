package main

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/app"
	"github.com/cloudraya/raya/plugins/host"
	"github.com/cloudraya/raya/plugins/sdk"
)

// newPluginCmd is `raya plugin`: serving raya's built-in backends as
// plugins (so raya is its own plugin executable) and inspecting plugin
// executables.
func newPluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Inspect backend plugins, and serve raya's built-in backends as plugins",
		Long: "Backend plugins are executables that raya starts and talks to over gRPC (hashicorp/go-plugin).\n" +
			"'raya plugin describe PATH' shows what a plugin offers. 'raya plugin serve-builtin TYPE' is run\n" +
			"by raya itself when a built-in backend runs as a plugin (--backend-mode plugin).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newPluginDescribeCmd(), newPluginServeBuiltinCmd())
	return cmd
}

func newPluginDescribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe PATH [ARG...]",
		Short: "Print a plugin's protocol versions, capabilities, name and version as JSON",
		Long: "Runs 'PATH ARG... describe' and prints what the plugin declares. Exit status 1 when the\n" +
			"plugin does not speak this raya's protocol version.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usagef("plugin describe needs the plugin executable's path")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := host.Describe(cmd.Context(), args[0], args[1:]...)
			if d != nil {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if eerr := enc.Encode(d); eerr != nil && err == nil {
					err = eerr
				}
			}
			return err
		},
	}
}

// builtinCapabilities are declared by the built-in backends served as
// plugins (describe mode); a type not listed here declares what its
// backend implements once configured.
var builtinCapabilities = map[string][]string{
	"local": {sdk.CapCopy},
}

func newPluginServeBuiltinCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve-builtin TYPE [describe]",
		Short: "Serve a built-in backend as a plugin (started by raya, not by hand)",
		Long: "Serves one of raya's built-in backend types (local, ...) over the plugin protocol, built from\n" +
			"the options raya sends (for local: root, the data folder). raya starts this itself when a\n" +
			"built-in backend runs as a plugin; run by hand it only answers 'describe'.",
		Hidden:             true,
		DisableFlagParsing: true, // everything after TYPE belongs to the plugin
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usagef("plugin serve-builtin needs a backend type, such as local")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			typ := args[0]
			if typ == "-h" || typ == "--help" {
				return cmd.Help()
			}
			return sdk.Serve(func(ctx context.Context, config map[string]string) (backends.Backend, error) {
				return app.OpenBuiltin(ctx, typ, config)
			}, &sdk.ServeOptions{
				Name:         "raya-" + typ,
				Version:      versionString(),
				Capabilities: builtinCapabilities[typ],
				Args:         append([]string{}, args[1:]...),
				Stdout:       cmd.OutOrStdout(),
			})
		},
	}
}
