package app

import (
	"context"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestAuditRetentionFlag: --audit-retention takes days or a duration, defaults to 400 days, is
// read from REGIOND_AUDIT_RETENTION, and a serving replica prunes with it.
func TestAuditRetentionFlag(t *testing.T) {
	for args, want := range map[string]time.Duration{"": 400 * 24 * time.Hour, "--audit-retention=30d": 30 * 24 * time.Hour,
		"--audit-retention=36h": 36 * time.Hour, "--audit-retention=0": 0} {
		cmd := serveCmd(t)
		if args != "" {
			cmd = serveCmd(t, args)
		}
		if got := time.Duration(cmd.AuditRetention); got != want {
			t.Errorf("%q: %v, want %v", args, got, want)
		}
	}
	t.Setenv("REGIOND_AUDIT_RETENTION", "7d")
	if got := time.Duration(serveCmd(t).AuditRetention); got != 7*24*time.Hour {
		t.Errorf("REGIOND_AUDIT_RETENTION=7d: %v", got)
	}

	dsn := dbtest.SQLite(t)
	if code, _, errOut := run(t, "migrate", "--database", dsn); code != 0 {
		t.Fatal(errOut)
	}
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, _ := st.DBs()
	for _, age := range []time.Duration{8 * 24 * time.Hour, time.Hour} {
		if _, err := w.Exec("INSERT INTO regiond_audit (time, enterprise_id, token_id, operation, target_id, changed_fields) VALUES (?, 'e', 'cli', 'token.create', 't', '')",
			time.Now().Add(-age).UTC()); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServe(t, serveCmd(t, "--database", dsn, "--addr", "127.0.0.1:0"))
	defer srv.stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		events, err := st.ListAudit(context.Background(), "e", nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 1 && time.Since(events[0].Time) < 24*time.Hour {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the serving replica did not prune: %d events left", len(events))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
