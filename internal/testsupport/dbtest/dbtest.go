// Package dbtest gives tests a fresh database on every backend regiond supports: a new SQLite
// file, and a new database on the MariaDB/MySQL server named by REGIOND_TEST_MYSQL (default
// root@tcp(127.0.0.1:3306)/). When REGIOND_TEST_MYSQL_REQUIRED=1 (make test and CI set it) an
// unreachable MariaDB fails the test; otherwise the MySQL half is skipped, loudly.
package dbtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Backend is a database a test can run against.
type Backend struct {
	Name string
	// New returns the DSN of a fresh, empty database, dropped when the test ends.
	New func(t testing.TB) string
}

// Backends returns SQLite and MySQL.
func Backends() []Backend {
	return []Backend{{Name: "sqlite", New: SQLite}, {Name: "mysql", New: MySQL}}
}

// SQLite returns the DSN of a new SQLite file in the test's temporary directory.
func SQLite(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "regiond.db")
}

// ServerDSN is the MySQL server tests use, without a database name.
func ServerDSN() string {
	if s := os.Getenv("REGIOND_TEST_MYSQL"); s != "" {
		return s
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// MySQL creates a new database on the test MySQL server and returns its DSN.
func MySQL(t testing.TB) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(ServerDSN())
	if err != nil {
		t.Fatalf("REGIOND_TEST_MYSQL: %v", err)
	}
	cfg.DBName = ""
	cfg.Timeout = 3 * time.Second
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		if os.Getenv("REGIOND_TEST_MYSQL_REQUIRED") == "1" {
			t.Fatalf("MariaDB is required (REGIOND_TEST_MYSQL_REQUIRED=1) but unreachable at %s: %v", ServerDSN(), err)
		}
		t.Skipf("SKIPPING the MySQL backend: MariaDB unreachable at %s (%v); `make test` requires it", ServerDSN(), err)
	}
	name := "regiond_test_" + randomHex(6)
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		admin.Close()
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name)
		admin.Close()
	})
	cfg.DBName = name
	return "mysql://" + cfg.FormatDSN()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Each runs fn as a subtest on every backend, each with a fresh database, the backends in
// parallel (t.Parallel): they run once the calling test function has returned, so Each must be the
// last thing it does. A test that sets process environment or other globals uses EachSerial.
func Each(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.New(t))
		})
	}
}

// EachSerial is Each with the backends one after the other, for tests that cannot share the
// process with another (t.Setenv, global state, goroutine or memory counts).
func EachSerial(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fn(t, b.New(t))
		})
	}
}

// Fresh returns a new empty database on the same backend as dsn.
func Fresh(t testing.TB, dsn string) string {
	if strings.HasPrefix(dsn, "sqlite://") {
		return SQLite(t)
	}
	return MySQL(t)
}
