// Package app is the regiond command: its flags (each also read from a REGIOND_* environment
// variable), and the commands that serve the API and administer the database directly.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kong"

	"github.com/regiond/regiond/internal/cmdline"
	"github.com/regiond/regiond/internal/config"
	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
)

// CLI is the command line of regiond.
type CLI struct {
	Serve   ServeCmd   `cmd:"" default:"withargs" help:"Serve the API (the default command)."`
	Migrate MigrateCmd `cmd:"" help:"Bring the database schema to this version and exit (serve does it too)."`
	Probe   ProbeCmd   `cmd:"" help:"Run the background health prober alone, without the API (then serve with --probe-interval 0), e.g. at a lower CPU priority."`
	Token   TokenCmd   `cmd:"" help:"Manage API tokens directly in the database (first tokens, break-glass)."`
	Secrets SecretsCmd `cmd:"" help:"Manage the encryption of secrets at rest."`
	Version VersionCmd `cmd:"" help:"Print the version and exit."`
}

// Version is set at build time (-ldflags "-X github.com/regiond/regiond/internal/app.Version=...").
var Version = "dev"

// Main parses args and runs the chosen command. Bad configuration fails here, before anything
// starts, with a message that names the flag.
func Main(args []string, stdout, stderr io.Writer) int {
	var cli CLI
	parser, err := NewParser(&cli, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "regiond:", err)
		return 2
	}
	return cmdline.Run(parser, args, func(err error) int {
		fmt.Fprintln(stderr, "regiond:", err)
		return 1
	})
}

// NewParser is regiond's command line, filling cli: Main runs it, and tests parse with it to see
// the configuration a command line or environment gives.
func NewParser(cli *CLI, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(cli,
		kong.Name("regiond"),
		kong.Description("The region (data center) registry of Rainbond-style cloud platforms.\n\n"+
			"Every flag can also be set in the environment: --db-max-open-conns is REGIOND_DB_MAX_OPEN_CONNS.\n"+
			"Secrets are read from the environment only: REGIOND_ADMIN_TOKEN, REGIOND_SECRET_KEY."),
		kong.DefaultEnvars("REGIOND"),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Bind(&Env{Stdout: stdout, Stderr: stderr}),
		cmdline.Exit(),
	)
}

// Env is where commands write.
type Env struct {
	Stdout, Stderr io.Writer
}

// validateDB refuses database settings that cannot work, naming the flag.
func validateDB(f config.DB) error {
	if _, err := store.ParseDSN(f.Database); err != nil {
		return fmt.Errorf("--database: %w", err)
	}
	if f.DBMaxOpenConns < 1 {
		return fmt.Errorf("--db-max-open-conns must be at least 1")
	}
	if f.DBTimeout <= 0 {
		return fmt.Errorf("--db-timeout must be positive")
	}
	return nil
}

// openStore connects to the database, migrates it, and on Galera says what cannot hold there: a
// warning each, or an error when regiond's data would not be replicated. Tracing makes a span of
// every statement.
func openStore(ctx context.Context, f config.DB, log *slog.Logger, tracing bool) (*store.Store, error) {
	if err := validateDB(f); err != nil {
		return nil, err
	}
	keyring, err := secrets.Load(os.Getenv("REGIOND_SECRET_KEY"), f.SecretKeyFile)
	if err != nil {
		return nil, fmt.Errorf("REGIOND_SECRET_KEY / --secret-key-file: %w", err)
	}
	st, err := store.Open(ctx, f.Database, store.Options{MaxOpenConns: f.DBMaxOpenConns, QueryTimeout: f.DBTimeout,
		Keyring: keyring, Logger: log, Tracing: tracing})
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrating %s: %w", st.DSN(), err)
	}
	problems, err := st.CheckCluster(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("checking the Galera cluster behind %s: %w", st.DSN(), err)
	}
	var fatal []string
	for _, p := range problems {
		if p.Fatal {
			fatal = append(fatal, p.Message)
		} else {
			log.Warn("the Galera cluster weakens a guarantee of regiond", "problem", p.Message)
		}
	}
	if len(fatal) > 0 {
		st.Close()
		return nil, fmt.Errorf("%s: the Galera cluster would not replicate regiond's data: %s", st.DSN(), strings.Join(fatal, "; "))
	}
	return st, nil
}

// requireKeys stops a command that would need every stored key_file (serve, secrets rotate) when
// some were encrypted with keys it is not given: a server would otherwise find out one request at
// a time. It reads key ids only, so it costs one query whatever the number of regions.
func requireKeys(ctx context.Context, st *store.Store) error {
	n, keyIDs, err := st.UndecryptableKeyFiles(ctx)
	if err != nil || n == 0 {
		return err
	}
	if !st.Keyring().Enabled() {
		return fmt.Errorf("REGIOND_SECRET_KEY / --secret-key-file: no encryption key is configured, but %d region(s) hold a key_file "+
			"encrypted at rest; configure the key(s) it was written with", n)
	}
	return fmt.Errorf("REGIOND_SECRET_KEY / --secret-key-file: %d region(s) hold a key_file encrypted with a key that is not configured "+
		"(key id %s); add that key to the list (after the primary one, until `regiond secrets rotate` has re-encrypted them)",
		n, strings.Join(keyIDs, ", "))
}

// MigrateCmd migrates and exits.
type MigrateCmd struct {
	config.DB
}

func (c *MigrateCmd) Run(env *Env) error {
	ctx := context.Background()
	st, err := openStore(ctx, c.DB, newLogger(env.Stderr, "info", "json"), false)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s is at schema version %s\n", st.DSN(), v)
	return nil
}

// TokenCmd groups the token commands.
type TokenCmd struct {
	Create TokenCreateCmd `cmd:"" help:"Create a token and print it (alone, on stdout)."`
	List   TokenListCmd   `cmd:"" help:"List tokens (never their values)."`
	Revoke TokenRevokeCmd `cmd:"" help:"Revoke a token by id."`
}

// cliActor is the token id audit events of command-line writes carry.
const cliActor = "cli"

type TokenCreateCmd struct {
	config.DB
	Enterprise string        `required:"" help:"The enterprise the token belongs to: 1 to 36 ASCII letters, digits, '.', '_' and '-', starting with a letter or digit (case-sensitive)."`
	Scope      string        `required:"" help:"Comma-separated scopes: regions:read, regions:write, regions:secrets, tokens:admin."`
	Expires    time.Duration `help:"Lifetime of the token (for example 720h); none by default."`
	Note       string        `help:"What the token is for."`
}

func (c *TokenCreateCmd) Run(env *Env) error {
	scopes, err := token.ParseScopes(c.Scope)
	if err != nil {
		return fmt.Errorf("--scope: %w", err)
	}
	if err := token.CheckEnterpriseID(c.Enterprise); err != nil {
		return fmt.Errorf("--enterprise: %w", err)
	}
	if c.Expires < 0 {
		return fmt.Errorf("--expires must be positive")
	}
	ctx := context.Background()
	st, err := openStore(ctx, c.DB, newLogger(env.Stderr, "warn", "json"), false)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, err := createToken(ctx, st, c.Enterprise, scopes, c.Note, c.Expires, "")
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, secret)
	return nil
}

// createToken stores a new token of the command line (or the given secret, for
// REGIOND_ADMIN_TOKEN) and returns its value.
func createToken(ctx context.Context, st *store.Store, enterprise string, scopes []token.Scope, note string, expires time.Duration, secret string) (string, error) {
	t, ev, secret := newToken(enterprise, scopes, note, expires, secret)
	return secret, st.CreateToken(ctx, t, ev)
}

// newToken mints a token of the command line, with its audit event and its value (secret, or a
// new one).
func newToken(enterprise string, scopes []token.Scope, note string, expires time.Duration, secret string) (token.Token, store.AuditEvent, string) {
	t := token.Token{EnterpriseID: enterprise, Scopes: scopes, Note: note, CreatedBy: cliActor}
	if expires > 0 {
		exp := time.Now().UTC().Add(expires).Truncate(time.Microsecond)
		t.ExpiresAt = &exp
	}
	t, secret = token.Mint(t, secret)
	return t, store.AuditEvent{EnterpriseID: enterprise, TokenID: cliActor, Operation: store.OpTokenCreate}, secret
}

type TokenListCmd struct {
	config.DB
	Enterprise string `help:"Only this enterprise's tokens."`
}

func (c *TokenListCmd) Run(env *Env) error {
	ctx := context.Background()
	st, err := openStore(ctx, c.DB, newLogger(env.Stderr, "warn", "json"), false)
	if err != nil {
		return err
	}
	defer st.Close()
	toks, err := st.ListTokens(ctx, c.Enterprise, nil, 0)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPREFIX\tENTERPRISE\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tREVOKED\tNOTE")
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	for _, t := range toks {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Prefix, t.EnterpriseID, token.JoinScopes(t.Scopes),
			t.CreatedAt.Format(time.RFC3339), when(t.ExpiresAt), when(t.LastUsedAt), when(t.RevokedAt), strings.ReplaceAll(t.Note, "\t", " "))
	}
	return w.Flush()
}

type TokenRevokeCmd struct {
	config.DB
	ID string `arg:"" help:"The token's id (tok_...), as token list shows it."`
}

func (c *TokenRevokeCmd) Run(env *Env) error {
	ctx := context.Background()
	st, err := openStore(ctx, c.DB, newLogger(env.Stderr, "warn", "json"), false)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.RevokeToken(ctx, "", c.ID, store.AuditEvent{TokenID: cliActor, Operation: store.OpTokenRevoke})
	if err != nil {
		if err == store.ErrNotFound {
			return fmt.Errorf("no token with id %s", c.ID)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "revoked %s (%s, enterprise %s) at %s\n", t.ID, t.Prefix, t.EnterpriseID, t.RevokedAt.Format(time.RFC3339))
	return nil
}

// SecretsCmd groups the encryption commands.
type SecretsCmd struct {
	Rotate      SecretsRotateCmd      `cmd:"" help:"Re-encrypt every key_file with the primary key (the first of REGIOND_SECRET_KEY)."`
	GenerateKey SecretsGenerateKeyCmd `cmd:"" help:"Print a new random encryption key."`
}

type SecretsRotateCmd struct {
	config.DB
}

func (c *SecretsRotateCmd) Run(env *Env) error {
	ctx := context.Background()
	st, err := openStore(ctx, c.DB, newLogger(env.Stderr, "warn", "json"), false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := requireKeys(ctx, st); err != nil {
		return err
	}
	n, err := st.RotateSecrets(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "re-encrypted %d key_file value(s) with key %s\n", n, st.Keyring().PrimaryID())
	return nil
}

type SecretsGenerateKeyCmd struct{}

func (c *SecretsGenerateKeyCmd) Run(env *Env) error {
	fmt.Fprintln(env.Stdout, secrets.GenerateKey())
	return nil
}

type VersionCmd struct{}

func (c *VersionCmd) Run(env *Env) error {
	fmt.Fprintln(env.Stdout, "regiond", Version, "schema", store.LatestSchemaVersion())
	return nil
}
