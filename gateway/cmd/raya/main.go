// Command raya is the Raya gateway: `raya serve` runs the S3 endpoint, and
// the admin subcommands (key, bucket, account) manage a running gateway
// through its admin API.
//
// The admin subcommands read their configuration from the environment:
//
//	RAYA_ENDPOINT    the gateway URL (default http://127.0.0.1:9000)
//	RAYA_ACCESS_KEY  the root access key ID (required)
//	RAYA_SECRET_KEY  the root secret access key (required)
//	RAYA_CA_BUNDLE   a PEM file of extra trusted CAs for an HTTPS endpoint with
//	                 a self-signed certificate (AWS_CA_BUNDLE is the fallback)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process the usual way
	}()
	os.Exit(runContext(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run runs the raya command with args (without the program name) and returns
// the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr, os.Getenv)
}

// usageError marks a mistake in the command line (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCmd(getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "raya: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return 2
	}
	return 1
}

// newRootCmd builds the command tree; getenv supplies the environment.
func newRootCmd(getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:           "raya",
		Short:         "Raya: an S3-compatible gateway with per-bucket credentials",
		Long:          "Raya is an S3-compatible gateway. 'raya serve' runs it; the key, bucket and account\ncommands manage a running gateway through its admin API, configured by RAYA_ENDPOINT,\nRAYA_ACCESS_KEY, RAYA_SECRET_KEY and RAYA_CA_BUNDLE.",
		SilenceUsage:  true,
		SilenceErrors: true, // runContext prints errors once, to stderr
		Version:       versionString(),
		// With no subcommand, show help instead of doing nothing.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q", args[0])
			}
			return cmd.Help()
		},
		Args: cobra.ArbitraryArgs,
	}
	root.SetVersionTemplate("raya {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	env := &adminEnv{getenv: getenv}
	root.AddCommand(
		newServeCmd(),
		newKeyCmd(env),
		newBucketCmd(env),
		newAccountCmd(env),
		newVersionCmd(),
	)
	root.AddCommand(newPluginCmd())
	return root
}
