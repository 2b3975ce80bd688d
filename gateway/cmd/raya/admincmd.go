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
	if d, err := admin.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("--expires %s: the duration must be positive", s)
		}
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("--expires %q: give a duration such as 720h or 30d, or a time such as 2030-01-02T15:04:05Z", s)
	}
	if !t.After(now) {
		return time.Time{}, usagef("--expires %s is in the past", s)
	}
	return t, nil
}

func newKeyCmd(env *adminEnv) *cobra.Command {
	cmd := groupCmd("key", "Create, rotate, list, disable and revoke access keys", "keys")
	cmd.AddCommand(newKeyCreateCmd(env), newKeyListCmd(env), newKeyRevokeCmd(env), newKeyRotateCmd(env),
		newKeyStatusCmd(env, "disable", meta.KeyInactive), newKeyStatusCmd(env, "enable", meta.KeyActive),
		newKeyResealCmd(env))
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
			return printNewSecret(out, [][2]string{
				{"Access key ID:", k.AccessKeyID},
				{"Secret access key:", k.SecretAccessKey},
				{"Scope:", scopeOf(*k)},
				{"Account:", k.Account},
				{"Label:", orDash(k.Label)},
				{"Status:", k.Status},
				{"Created:", fmtTime(k.CreatedAt)},
				{"Expires:", fmtTimePtr(k.ExpiresAt)},
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Bucket, "bucket", "", "bucket the key grants access to")
	f.StringVar(&req.Account, "account", "", "account ID for an account-wide key (with --bucket: must be the bucket's owner)")
	f.StringVar(&req.Label, "label", "", "label naming the application that uses the key")
	f.StringVar(&expires, "expires", "", "expiry: a duration from now (720h, 30d) or an RFC 3339 time; default never")
	f.BoolVar(&asJSON, "json", false, "print the key as one JSON object")
	return cmd
}

func newKeyListCmd(env *adminEnv) *cobra.Command {
	var (
		q         admin.KeyQuery
		unusedFor string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:     "list [--bucket BUCKET] [--account ACCOUNT_ID] [--unused-for 30d] [--json]",
		Aliases: []string{"ls"},
		Short:   "List access keys (never their secrets); --unused-for reports unused keys",
		Long: "List access keys, never their secrets. With --unused-for, only keys not used for at\n" +
			"least that long (keys never used count from their creation): the unused-key report.\n" +
			"Disable what it finds with 'raya key disable', revoke with 'raya key revoke'.",
		Example: "  raya key list --bucket photos\n  raya key list --unused-for 30d --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if unusedFor != "" {
				d, err := admin.ParseDuration(unusedFor)
				if err != nil || d <= 0 {
					return usagef("--unused-for %q: give a positive duration such as 30d or 720h", unusedFor)
				}
				q.UnusedFor = d
			}
			c, err := env.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			keys, err := c.FindKeys(cmd.Context(), q)
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
			now := time.Now()
			tw := newTable(cmd.OutOrStdout(), "ACCESS KEY ID", "SCOPE", "ACCOUNT", "LABEL", "STATUS", "CREATED", "LAST USED", "EXPIRES")
			for _, k := range keys {
				scope := k.Bucket
				switch {
				case k.Root:
					scope = "(root)"
				case k.Bucket == "":
					scope = "(account-wide)"
				}
				status := k.Status
				if status == meta.KeyActive && k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
					status = "expired"
				}
				lastUsed := "never"
				if k.LastUsedAt != nil {
					lastUsed = fmtTime(*k.LastUsedAt)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.AccessKeyID, scope, k.Account, orDash(k.Label),
					status, fmtTime(k.CreatedAt), lastUsed, fmtTimePtr(k.ExpiresAt))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Bucket, "bucket", "", "only keys of this bucket")
	f.StringVar(&q.Account, "account", "", "only keys of this account")
	f.StringVar(&unusedFor, "unused-for", "", "only keys unused for at least this long (30d, 720h)")
	f.BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

// oneKeyID checks that a command got exactly one access key ID.
func oneKeyID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("%s takes one access key ID, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

func newKeyRevokeCmd(env *adminEnv) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke ACCESS_KEY_ID",
		Aliases: []string{"delete"},
		Short:   "Revoke (delete) an access key",
		Long: "Revoke an access key: it is deleted and stops working at once on the gateway that\n" +
			"handles the request and within the key cache TTL (2s by default) on every other\n" +
			"instance. The root key cannot be revoked: it is configuration.",
		Args: oneKeyID,
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

func newKeyStatusCmd(env *adminEnv, verb, status string) *cobra.Command {
	var asJSON bool
	past := map[string]string{"disable": "Disabled", "enable": "Enabled"}[verb]
	cmd := &cobra.Command{
		Use: verb + " ACCESS_KEY_ID [--json]",
		Short: map[string]string{"disable": "Disable an access key (status inactive); enable undoes it",
			"enable": "Enable a disabled access key (status active)"}[verb],
		Args: oneKeyID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			k, err := c.SetKeyStatus(cmd.Context(), args[0], status)
			if err != nil {
				return err
			}
			if asJSON {
				k.SecretAccessKey = ""
				return writeJSON(cmd.OutOrStdout(), keyOutOf(*k))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s access key %s (status %s)\n", past, k.AccessKeyID, k.Status)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the key as one JSON object")
	return cmd
}

// rotateOut is `key rotate --json`: the new key with its secret, and what
// became of the old one.
type rotateOut struct {
	keyOut
	Replaces        string    `json:"replaces"`
	OldKeyExpiresAt time.Time `json:"oldKeyExpiresAt"`
	OldKeyRevoked   bool      `json:"oldKeyRevoked,omitempty"`
}

func newKeyRotateCmd(env *adminEnv) *cobra.Command {
	var (
		grace, expires string
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "rotate ACCESS_KEY_ID [--grace 24h] [--expires 720h] [--json]",
		Short: "Issue a new pair for the same bucket and label; retire the old key after a grace period",
		Long: "Issue a new key pair for the same bucket (or account) and label as ACCESS_KEY_ID.\n" +
			"Both keys work during the grace period (default 24h); then the old key expires.\n" +
			"--grace 0 revokes the old key at once. The new secret is shown once: store it now.",
		Example: "  raya key rotate RYABCDEFGHIJKLMNOPQR --grace 7d --json\n  raya key rotate RYABCDEFGHIJKLMNOPQR --grace 0",
		Args:    oneKeyID,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := admin.ParseDuration(grace)
			if err != nil || d < 0 {
				return usagef("--grace %q: give a duration such as 24h, 7d or 0", grace)
			}
			req := admin.RotateKeyRequest{Grace: d.String()}
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
			res, err := c.RotateKey(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, rotateOut{keyOut: keyOutOf(res.Key), Replaces: res.Replaces,
					OldKeyExpiresAt: res.OldKeyExpiresAt, OldKeyRevoked: res.OldKeyRevoked})
			}
			old := "expires " + fmtTime(res.OldKeyExpiresAt)
			if res.OldKeyRevoked {
				old = "revoked"
			}
			return printNewSecret(out, [][2]string{
				{"Access key ID:", res.AccessKeyID},
				{"Secret access key:", res.SecretAccessKey},
				{"Replaces:", res.Replaces + " (" + old + ")"},
				{"Scope:", scopeOf(res.Key)},
				{"Label:", orDash(res.Label)},
				{"Expires:", fmtTimePtr(res.ExpiresAt)},
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&grace, "grace", "24h", "how long the old key keeps working (0: revoke it at once)")
	f.StringVar(&expires, "expires", "", "expiry of the new key: a duration from now (720h, 30d) or an RFC 3339 time")
	f.BoolVar(&asJSON, "json", false, "print the new key as one JSON object")
	return cmd
}

// printNewSecret prints a newly issued pair as aligned rows, with the
// reminder that the secret is shown only once.
func printNewSecret(out io.Writer, rows [][2]string) error {
	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(out, "\nStore the secret access key now: it cannot be shown again.")
	return err
}

func scopeOf(k meta.Key) string {
	if k.Bucket == "" {
		return "account-wide"
	}
	return "bucket " + k.Bucket
}

func newKeyResealCmd(env *adminEnv) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reseal [--json]",
		Short: "Re-encrypt every stored secret with the gateway's primary master key",
		Long: "Re-encrypt every stored secret key with the primary master key (RAYA_MASTER_KEY),\n" +
			"after a master key change or to encrypt secrets stored before a master key was set.\n" +
			"Master key rotation without downtime:\n" +
			"  1. on every instance: RAYA_MASTER_KEY=<new>, RAYA_MASTER_KEY_PREVIOUS=<old>; restart\n" +
			"  2. raya key reseal\n" +
			"  3. on every instance: drop RAYA_MASTER_KEY_PREVIOUS; restart\n" +
			"Exits 1 if any key could not be re-encrypted (its master key is not configured).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := env.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			res, err := c.Reseal(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(out, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "Master key %s: %d keys, %d re-encrypted (%d were plaintext), %d already current, %d failed\n",
					res.PrimaryKeyID, res.Total, res.Resealed, res.Plaintext, res.Current, len(res.Failed))
				for _, f := range res.Failed {
					fmt.Fprintf(out, "  %s: %s\n", f.AccessKeyID, f.Error)
				}
			}
			if len(res.Failed) > 0 {
				return fmt.Errorf("%d keys could not be re-encrypted; add their master key to RAYA_MASTER_KEY_PREVIOUS and run reseal again", len(res.Failed))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	return cmd
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
	cmd := groupCmd("account", "Create and list accounts", "accounts")
	cmd.AddCommand(list, newAccountCreateCmd(env))
	return cmd
}

func newAccountCreateCmd(env *adminEnv) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "create NAME [--json]",
		Short:   "Create an account (a new canonical ID) with a display name",
		Example: "  raya account create acme --json\n  raya key create --account \"$(raya account create acme --json | jq -r .id)\" --json",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s takes one account name, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			a, err := c.CreateAccount(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), a)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Created account %s (%s)\n", a.ID, a.DisplayName)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the account as one JSON object")
	return cmd
}
