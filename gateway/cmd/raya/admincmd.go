package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloudraya/raya/gateway/admin"
	"github.com/cloudraya/raya/gateway/meta"
)

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// groupCmd is a command that only holds subcommands.
func groupCmd(use, short string, aliases ...string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Aliases: aliases,
		Short:   short,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %s", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

// writeJSON prints v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func newTable(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// keyOut is a key as the CLI prints it in JSON: the secret appears only when
// the key was just created.
type keyOut struct {
	AccessKeyID     string     `json:"accessKeyId"`
	SecretAccessKey string     `json:"secretAccessKey,omitempty"`
	Account         string     `json:"account"`
	Bucket          string     `json:"bucket,omitempty"`
	Root            bool       `json:"root,omitempty"`
	Label           string     `json:"label,omitempty"`
	Status          string     `json:"status"`
	CreatedAt       time.Time  `json:"createdAt"`
	LastUsedAt      *time.Time `json:"lastUsedAt,omitempty"`
	ExpiresAt       *time.Time `json:"expiresAt,omitempty"`
}

func keyOutOf(k meta.Key) keyOut {
	return keyOut{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, Account: k.Account, Bucket: k.Bucket,
		Root: k.Root, Label: k.Label, Status: k.Status, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt}
}

// parseExpiry reads --expires: a duration from now ("720h") or an RFC 3339
// time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("--expires %s: the duration must be positive", s)
		}
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("--expires %q: give a duration such as 720h or a time such as 2030-01-02T15:04:05Z", s)
	}
	if !t.After(now) {
		return time.Time{}, usagef("--expires %s is in the past", s)
	}
	return t, nil
}

func newKeyCmd(env *adminEnv) *cobra.Command {
	cmd := groupCmd("key", "Create, list and revoke access keys", "keys")
	cmd.AddCommand(newKeyCreateCmd(env), newKeyListCmd(env), newKeyDeleteCmd(env))
	return cmd
}

func newKeyCreateCmd(env *adminEnv) *cobra.Command {
	var (
		req     admin.CreateKeyRequest
		expires string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "create (--bucket BUCKET | --account ACCOUNT_ID) [--label LABEL] [--expires 720h] [--json]",
		Short: "Issue a key pair for a bucket, or an account-wide key",
		Long: "Issue a key pair. With --bucket the key grants access to that bucket only and belongs\n" +
			"to the bucket's owner; with --account alone it is an account-wide key (for automation\n" +
			"that creates buckets). The secret is shown once: store it now.",
		Example: "  raya key create --bucket photos --label web-app --expires 720h\n" +
			"  raya key create --account 9f86d0...0f00a08 --label ci --json",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Bucket == "" && req.Account == "" {
				return usagef("give --bucket for a bucket key or --account for an account-wide key")
			}
			if expires != "" {
				t, err := parseExpiry(expires, time.Now())
				if err != nil {
					return err
				}
				req.ExpiresAt = &t
			}
			c, err := env.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			k, err := c.CreateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, keyOutOf(*k))
			}
			scope := "bucket " + k.Bucket
			if k.Bucket == "" {
				scope = "account-wide"
			}
			tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
			for _, row := range [][2]string{
				{"Access key ID:", k.AccessKeyID},
				{"Secret access key:", k.SecretAccessKey},
				{"Scope:", scope},
				{"Account:", k.Account},
				{"Label:", orDash(k.Label)},
				{"Status:", k.Status},
				{"Created:", fmtTime(k.CreatedAt)},
				{"Expires:", fmtTimePtr(k.ExpiresAt)},
			} {
				fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintln(out, "\nStore the secret access key now: it cannot be shown again.")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Bucket, "bucket", "", "bucket the key grants access to")
	f.StringVar(&req.Account, "account", "", "account ID for an account-wide key (with --bucket: must be the bucket's owner)")
	f.StringVar(&req.Label, "label", "", "label naming the application that uses the key")
	f.StringVar(&expires, "expires", "", "expiry: a duration from now (720h) or an RFC 3339 time; default never")
	f.BoolVar(&asJSON, "json", false, "print the key as one JSON object")
	return cmd
}

func newKeyListCmd(env *adminEnv) *cobra.Command {
	var (
		bucket, account string
		asJSON          bool
	)
	cmd := &cobra.Command{
		Use:     "list [--bucket BUCKET] [--account ACCOUNT_ID] [--json]",
		Aliases: []string{"ls"},
		Short:   "List access keys (never their secrets)",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := env.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			keys, err := c.ListKeys(cmd.Context(), bucket, account)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]keyOut, 0, len(keys))
				for _, k := range keys {
					k.SecretAccessKey = ""
					out = append(out, keyOutOf(k))
				}
				return writeJSON(cmd.OutOrStdout(), out)
			}
			tw := newTable(cmd.OutOrStdout(), "ACCESS KEY ID", "SCOPE", "ACCOUNT", "LABEL", "STATUS", "CREATED", "LAST USED", "EXPIRES")
			for _, k := range keys {
				scope := k.Bucket
				switch {
				case k.Root:
					scope = "(root)"
				case k.Bucket == "":
					scope = "(account-wide)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.AccessKeyID, scope, k.Account, orDash(k.Label),
					k.Status, fmtTime(k.CreatedAt), fmtTimePtr(k.LastUsedAt), fmtTimePtr(k.ExpiresAt))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&bucket, "bucket", "", "only keys of this bucket")
	f.StringVar(&account, "account", "", "only keys of this account")
	f.BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newKeyDeleteCmd(env *adminEnv) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ACCESS_KEY_ID",
		Aliases: []string{"revoke"},
		Short:   "Revoke an access key",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s takes one access key ID, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := c.DeleteKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Revoked access key %s\n", args[0])
			return err
		},
	}
}

func newBucketCmd(env *adminEnv) *cobra.Command {
	var asJSON bool
	list := &cobra.Command{
		Use:     "list [--json]",
		Aliases: []string{"ls"},
		Short:   "List all buckets",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := env.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			buckets, err := c.ListBuckets(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if buckets == nil {
					buckets = []meta.Bucket{}
				}
				return writeJSON(cmd.OutOrStdout(), buckets)
			}
			tw := newTable(cmd.OutOrStdout(), "NAME", "OWNER", "BACKEND", "REGION", "CREATED")
			for _, b := range buckets {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Name, b.Owner, b.Backend, orDash(b.Region), fmtTime(b.CreatedAt))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd := groupCmd("bucket", "List buckets", "buckets")
	cmd.AddCommand(list)
	return cmd
}

func newAccountCmd(env *adminEnv) *cobra.Command {
	var asJSON bool
	list := &cobra.Command{
		Use:     "list [--json]",
		Aliases: []string{"ls"},
		Short:   "List all accounts",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := env.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			accounts, err := c.ListAccounts(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if accounts == nil {
					accounts = []meta.Account{}
				}
				return writeJSON(cmd.OutOrStdout(), accounts)
			}
			tw := newTable(cmd.OutOrStdout(), "ID", "DISPLAY NAME", "CREATED")
			for _, a := range accounts {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", a.ID, orDash(a.DisplayName), fmtTime(a.CreatedAt))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd := groupCmd("account", "List accounts", "accounts")
	cmd.AddCommand(list)
	return cmd
}
