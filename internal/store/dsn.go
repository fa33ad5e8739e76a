package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Backend names a supported database.
type Backend string

const (
	SQLite Backend = "sqlite"
	MySQL  Backend = "mysql"
)

// DSN is a parsed --database value.
type DSN struct {
	Backend Backend
	// Path is the SQLite file.
	Path string
	// MySQL is the MySQL/MariaDB driver configuration.
	MySQL *mysql.Config
}

// ParseDSN reads `sqlite://PATH` (relative, or absolute as sqlite:///abs/path.db) or
// `mysql://user:pass@tcp(host:3306)/db?params` (`mariadb://` is accepted too), where
// `failover(h1:3306,h2:3306)` may replace `tcp(host:3306)` (FailoverNetwork).
func ParseDSN(s string) (DSN, error) {
	switch {
	case strings.HasPrefix(s, "sqlite://"):
		path := strings.TrimPrefix(s, "sqlite://")
		if path == "" {
			return DSN{}, fmt.Errorf("database %q: the sqlite file path is empty", s)
		}
		return DSN{Backend: SQLite, Path: path}, nil
	case strings.HasPrefix(s, "mysql://"), strings.HasPrefix(s, "mariadb://"):
		raw := s[strings.Index(s, "://")+3:]
		cfg, err := mysql.ParseDSN(raw)
		if err != nil {
			// The driver's message can quote the DSN, password included: keep it out.
			return DSN{}, fmt.Errorf("database %s: not a valid MySQL DSN (want mysql://user:pass@tcp(host:3306)/db?params)", Redact(s))
		}
		if cfg.DBName == "" {
			return DSN{}, fmt.Errorf("database %s: the MySQL DSN names no database", Redact(s))
		}
		if cfg.Net == FailoverNetwork {
			if err := checkFailoverList(cfg.Addr); err != nil {
				return DSN{}, fmt.Errorf("database %s: %w", Redact(s), err)
			}
		}
		// regiond's own requirements: times in UTC as time.Time, 4-byte UTF-8, one round trip per
		// query, and deadlines on every network step.
		cfg.ParseTime = true
		cfg.Loc = time.UTC
		cfg.Collation = "utf8mb4_unicode_ci"
		if _, set := cfg.Params["interpolateParams"]; !set {
			cfg.InterpolateParams = true
		}
		if cfg.Timeout == 0 {
			cfg.Timeout = 5 * time.Second
		}
		if cfg.ReadTimeout == 0 {
			cfg.ReadTimeout = 30 * time.Second
		}
		if cfg.WriteTimeout == 0 {
			cfg.WriteTimeout = 30 * time.Second
		}
		return DSN{Backend: MySQL, MySQL: cfg}, nil
	}
	return DSN{}, fmt.Errorf("database %s: unknown scheme (want sqlite://PATH or mysql://user:pass@tcp(host:3306)/db)", Redact(s))
}

// Redact hides the password of a database DSN, for logs and error messages.
func Redact(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	creds := s[scheme+3 : at]
	if colon := strings.Index(creds, ":"); colon >= 0 {
		return s[:scheme+3] + creds[:colon] + ":***" + s[at:]
	}
	return s
}

// String is the DSN with its password hidden.
func (d DSN) String() string {
	if d.Backend == SQLite {
		return "sqlite://" + d.Path
	}
	c := d.MySQL.Clone()
	if c.Passwd != "" {
		c.Passwd = "***"
	}
	return "mysql://" + c.FormatDSN()
}

// sqliteDSN is the driver DSN for the file: WAL lets readers run beside the writer, the busy
// timeout makes a second process wait instead of failing, and immediate transactions take the
// write lock up front so that two writers never deadlock upgrading read locks.
func (d DSN) sqliteDSN(write bool) (string, error) {
	if dir := filepath.Dir(d.Path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("creating the directory of the sqlite database: %w", err)
		}
	}
	q := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	if write {
		q += "&_txlock=immediate"
	} else {
		q += "&_pragma=query_only(1)"
	}
	return "file:" + d.Path + "?" + q, nil
}
