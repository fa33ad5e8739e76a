package app

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

var tokenLine = regexp.MustCompile(`^rgd_[A-Za-z0-9_-]{43}\n$`)

// TestTokenCommands: the command line works on the database directly — the first token of a new
// enterprise, listing, revoking — on both backends.
func TestTokenCommands(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		code, out, errOut := run(t, "token", "create", "--database", dsn, "--enterprise", "acme", "--scope", "regions:read,tokens:admin", "--expires", "720h", "--note", "first")
		if code != 0 || !tokenLine.MatchString(out) {
			t.Fatalf("token create: %d %q %s", code, out, errOut)
		}
		secret := strings.TrimSpace(out)
		if strings.Contains(errOut, secret) {
			t.Fatal("the token value went to stderr (the log) too")
		}
		code, out, _ = run(t, "token", "list", "--database", dsn)
		if code != 0 || !strings.Contains(out, "acme") || !strings.Contains(out, "regions:read,tokens:admin") || strings.Contains(out, secret) {
			t.Fatalf("token list: %d\n%s", code, out)
		}
		id := regexp.MustCompile(`tok_[a-z0-9]+`).FindString(out)
		st, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		tk, err := st.GetToken(context.Background(), "", id)
		if err != nil || tk.ExpiresAt == nil || tk.ExpiresAt.Sub(time.Now().Add(720*time.Hour)).Abs() > time.Minute || tk.Note != "first" {
			t.Fatalf("stored token: %+v %v", tk, err)
		}
		if code, out, _ = run(t, "token", "revoke", "--database", dsn, id); code != 0 || !strings.Contains(out, "revoked "+id) {
			t.Fatalf("revoke: %d %s", code, out)
		}
		if code, _, errOut = run(t, "token", "revoke", "--database", dsn, "tok_nope"); code != 1 || !strings.Contains(errOut, "no token with id tok_nope") {
			t.Fatalf("revoke unknown: %d %s", code, errOut)
		}
		for _, bad := range [][]string{
			{"--scope", "regions:read,root"},
			{"--scope", ""},
			{"--scope", "regions:read", "--expires", "-1h"},
		} {
			args := append([]string{"token", "create", "--database", dsn, "--enterprise", "acme"}, bad...)
			if code, _, errOut := run(t, args...); code == 0 || errOut == "" {
				t.Fatalf("%v: accepted", bad)
			}
		}
	})
}

// TestServeBootstrapAndShutdown starts `regiond serve` on an empty database: it prints one admin
// token on stdout (never in the log), serves with it, and stops cleanly when asked.
func TestServeBootstrapAndShutdown(t *testing.T) {
	cmd := serveCmd(t, "--database", dbtest.SQLite(t), "--addr", "127.0.0.1:0", "--drain-timeout", "5s")
	srv := startServe(t, cmd)
	secret := regexp.MustCompile(`rgd_[A-Za-z0-9_-]{43}`).FindString(srv.out.String())
	if secret == "" {
		t.Fatalf("no admin token printed: %s", srv.out.String())
	}
	req, _ := http.NewRequest("GET", "http://"+srv.addr+"/openapi/v1/regions", nil)
	req.Header.Set("Authorization", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("with the printed token: %v", err)
	}
	resp.Body.Close()
	if err := srv.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	logs := srv.stderr.String()
	if strings.Contains(logs, secret) || !strings.Contains(logs, `"msg":"stopped"`) || !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("log:\n%s", logs)
	}
	// A second start on the same database prints nothing: there is a token already.
	again := startServe(t, cmd)
	if err := again.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(again.out.String(), "rgd_") {
		t.Fatal("a second admin token was made on a database that has one")
	}
}

// TestAdminTokenFromEnvironment: REGIOND_ADMIN_TOKEN is stored once, whichever replica starts
// first, and is never printed.
func TestAdminTokenFromEnvironment(t *testing.T) {
	dsn := dbtest.SQLite(t)
	secret := "my-deployment-admin-token-0123456789abcdef"
	t.Setenv("REGIOND_ADMIN_TOKEN", secret)
	cmd := serveCmd(t, "--database", dsn, "--enterprise", "ops")
	var out, errb syncBuffer
	for i := 0; i < 2; i++ {
		st, err := cmd.open(context.Background(), newLogger(&errb, "info", "json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.bootstrapAdmin(context.Background(), st, &Env{Stdout: &out, Stderr: &errb}, newLogger(&errb, "info", "json")); err != nil {
			t.Fatal(err)
		}
		toks, _ := st.ListTokens(context.Background(), "", nil, 0)
		if len(toks) != 1 || toks[0].EnterpriseID != "ops" || len(toks[0].Scopes) != 4 {
			t.Fatalf("start %d: tokens %+v", i, toks)
		}
		st.Close()
	}
	if out.String() != "" || strings.Contains(errb.String(), secret) {
		t.Fatalf("the env token was printed: %q", out.String())
	}
	t.Setenv("REGIOND_ADMIN_TOKEN", "short")
	if code, _, errOut := run(t, "serve", "--database", dsn); code == 0 || !strings.Contains(errOut, "REGIOND_ADMIN_TOKEN must be at least 32") {
		t.Fatalf("a weak admin token was accepted: %d %s", code, errOut)
	}
}

// TestBadConfigurationFailsFast: every bad setting stops the start with a message naming it.
func TestBadConfigurationFailsFast(t *testing.T) {
	dsn := dbtest.SQLite(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"serve", "--database", "postgres://x"}, nil, "--database"},
		{[]string{"serve", "--database", "mysql://root:hunter2@tcp(127.0.0.1:1)/x"}, nil, "mysql://root:***@tcp(127.0.0.1:1)/x"},
		{[]string{"serve", "--database", dsn, "--addr", "nonsense"}, nil, "--addr"},
		{[]string{"serve", "--database", dsn, "--base-path", "noslash"}, nil, "--base-path"},
		{[]string{"serve", "--database", dsn, "--rate-limit", "-1"}, nil, "--rate-limit"},
		{[]string{"serve", "--database", dsn, "--auth-fail-rate", "-1"}, nil, "--auth-fail-rate"},
		{[]string{"serve", "--database", dsn, "--auth-fail-rate", "5", "--auth-fail-burst", "0"}, nil, "--auth-fail-burst"},
		{[]string{"serve", "--database", dsn, "--cache-staleness", "1ns"}, nil, "--cache-staleness"},
		{[]string{"serve", "--database", dsn, "--log-level", "loud"}, nil, "--log-level"},
		{[]string{"serve", "--database", dsn, "--db-timeout", "soon"}, nil, "--db-timeout"},
		{[]string{"serve"}, map[string]string{"REGIOND_DATABASE": dsn, "REGIOND_BODY_LIMIT": "10"}, "--body-limit"},
		{[]string{"serve", "--database", dsn}, map[string]string{"REGIOND_SECRET_KEY": "not-a-key"}, "REGIOND_SECRET_KEY"},
		{[]string{"serve", "--database", dsn, "--addr", taken.Addr().String()}, nil, "--addr"},
		{[]string{"serve", "--database", dsn, "--probe-deny-cidrs", "10.0.0.0/33"}, nil, "--probe-deny-cidrs"},
		{[]string{"serve", "--database", dsn, "--probe-concurrency", "0"}, nil, "--probe-concurrency"},
		{[]string{"serve", "--database", dsn, "--probe-interval", "-1s"}, nil, "--probe-interval"},
	}
	for _, c := range cases {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		code, _, errOut := run(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want a failure naming %s", c.args, c.env, code, errOut, c.want)
		}
		if strings.Contains(errOut, "hunter2") {
			t.Errorf("a database password leaked: %s", errOut)
		}
		for k := range c.env {
			os.Unsetenv(k)
		}
	}
}

// TestHelpDocumentsEverything: --help names every flag and its environment variable.
func TestHelpDocumentsEverything(t *testing.T) {
	code, out, _ := run(t, "serve", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--addr", "($REGIOND_ADDR)", "--database", "($REGIOND_DATABASE)", "--rate-limit", "--cache-staleness",
		"--require-if-match", "--cors-origins", "--shutdown-delay", "--drain-timeout", "--base-path", "--list-cache-bytes", "--secret-key-file",
		"--auth-fail-rate", "($REGIOND_AUTH_FAIL_RATE)", "--auth-fail-burst"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %s", want)
		}
	}
}

// TestMigrateAndRotateCommands: migrate reports the schema version; secrets rotate re-encrypts
// under a new primary key, after which the old key is no longer needed.
func TestMigrateAndRotateCommands(t *testing.T) {
	dbtest.EachSerial(t, func(t *testing.T, dsn string) {
		code, out, errOut := run(t, "migrate", "--database", dsn)
		if code != 0 || !strings.Contains(out, store.LatestSchemaVersion()) {
			t.Fatalf("migrate: %d %s %s", code, out, errOut)
		}
		oldKey, newKey := secrets.GenerateKey(), secrets.GenerateKey()
		t.Setenv("REGIOND_SECRET_KEY", oldKey)
		code, out, _ = run(t, "secrets", "generate-key")
		if k, err := secrets.Parse(strings.TrimSpace(out)); code != 0 || err != nil || !k.Enabled() {
			t.Fatalf("generate-key: %q %v", out, err)
		}
		// A region with a key_file, written under the old key.
		kr, _ := secrets.Parse(oldKey)
		st, err := store.Open(context.Background(), dsn, store.Options{Keyring: kr})
		if err != nil {
			t.Fatal(err)
		}
		cert, key := testpki.Pair(t, "rotate")
		if _, err := st.CreateRegion(context.Background(), regionWithKey(cert, key), store.AuditEvent{EnterpriseID: "e", TokenID: "t", Operation: store.OpRegionCreate}); err != nil {
			t.Fatal(err)
		}
		st.Close()
		// The key list also comes from a file.
		keyFile := filepath.Join(t.TempDir(), "keys")
		os.WriteFile(keyFile, []byte(newKey+"\n"+oldKey+"\n"), 0o600)
		t.Setenv("REGIOND_SECRET_KEY", "")
		code, out, errOut = run(t, "secrets", "rotate", "--database", dsn, "--secret-key-file", keyFile)
		if code != 0 || !strings.Contains(out, "re-encrypted 1 key_file") {
			t.Fatalf("rotate: %d %s %s", code, out, errOut)
		}
		if strings.Contains(out+errOut, newKey) || strings.Contains(out+errOut, oldKey) {
			t.Fatal("a key was printed")
		}
		onlyNew, _ := secrets.Parse(newKey)
		st, _ = store.Open(context.Background(), dsn, store.Options{Keyring: onlyNew})
		defer st.Close()
		list, _ := st.ListRegions(context.Background(), store.RegionQuery{EnterpriseID: "e"})
		got, err := st.GetRegion(context.Background(), "e", list[0].RegionID, store.WithSecrets)
		if err != nil || *got.KeyFile != key {
			t.Fatalf("after rotation the new key alone does not decrypt: %v", err)
		}
	})
}
