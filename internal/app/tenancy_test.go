package app

import (
	"context"
	"strings"
	"testing"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestEnterpriseIDFormatOnTheCommandLine: `token create --enterprise` and `serve --enterprise`
// refuse an enterprise id outside the documented format, saying what the format is, and store
// nothing; a --expires the database cannot hold is refused too.
func TestEnterpriseIDFormatOnTheCommandLine(t *testing.T) {
	dsn := dbtest.SQLite(t)
	if code, _, errOut := run(t, "migrate", "--database", dsn); code != 0 {
		t.Fatal(errOut)
	}
	for _, bad := range []string{"entb ", "éntB", " entB", "-acme", "a/b", strings.Repeat("a", 37), ""} {
		code, out, errOut := run(t, "token", "create", "--database", dsn, "--enterprise="+bad, "--scope", "regions:read")
		if code == 0 || out != "" || !strings.Contains(errOut, "--enterprise") || !strings.Contains(errOut, "ASCII letters, digits") {
			t.Errorf("token create --enterprise %q: exit %d, stdout %q, stderr %q", bad, code, out, errOut)
		}
		if err := serveCmd(t, "--database", dsn, "--enterprise="+bad).validate(); err == nil || !strings.Contains(err.Error(), "--enterprise") {
			t.Errorf("serve --enterprise %q: %v", bad, err)
		}
	}
	code, out, errOut := run(t, "token", "create", "--database", dsn, "--enterprise", "acme", "--scope", "regions:read", "--expires", "100000000h")
	if code == 0 || out != "" || !strings.Contains(errOut, "--expires") {
		t.Errorf("token create --expires 100000000h: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.CountTokens(context.Background()); err != nil || n != 0 {
		t.Fatalf("%d tokens stored (%v), want none", n, err)
	}
}
