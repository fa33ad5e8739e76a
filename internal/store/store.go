// Package store keeps regions, tokens and the audit trail in a relational database through
// GORM: MySQL/MariaDB in production, an embedded SQLite file (pure Go) by default. Both run the
// same code and the same test suite; the few dialect differences live in the migrations.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/glebarez/sqlite"
	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	otelgorm "gorm.io/plugin/opentelemetry/tracing"

	"github.com/regiond/regiond/internal/secrets"
)

// Options tune a Store.
type Options struct {
	// MaxOpenConns bounds the connection pool (MySQL) or the reader pool (SQLite, which has one
	// writer connection besides); 0 leaves database/sql's own pool settings. Idle connections are
	// kept up to the same number: database/sql keeps only 2 by default, and reconnecting cost
	// about a third of MySQL's throughput.
	MaxOpenConns int
	// QueryTimeout is the deadline of every query that has no earlier one; 0 sets none.
	QueryTimeout time.Duration
	// Keyring encrypts key_file at rest. Without a key, storing a key_file is refused.
	Keyring *secrets.Keyring
	// Logger receives slow-query and error lines (statements without their values).
	Logger *slog.Logger
	// Tracing makes a span of every statement (without its values: they can be secrets), as a
	// child of the request's span, with the global tracer provider.
	Tracing bool
}

// Store is the database. Its methods are safe for concurrent use.
type Store struct {
	dsn     DSN
	w       *gorm.DB // writes (and, on MySQL, reads too)
	r       *gorm.DB // reads
	opts    Options
	keyring *secrets.Keyring
	galera  bool // a MariaDB Galera cluster node
}

// Open connects to the database named by dsn. It does not migrate: call Migrate.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	d, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Store{dsn: d, opts: opts, keyring: opts.Keyring}
	// Each pool gets its own configuration: gorm keeps registered plugins in it.
	cfg := func() *gorm.Config {
		return &gorm.Config{
			TranslateError:         true,
			SkipDefaultTransaction: true, // every write that needs one opens its own
			Logger:                 slowLog{opts.Logger},
			NowFunc:                now,
		}
	}
	switch d.Backend {
	case SQLite:
		wdsn, err := d.sqliteDSN(true)
		if err != nil {
			return nil, err
		}
		rdsn, _ := d.sqliteDSN(false)
		if s.w, err = gorm.Open(sqlite.Open(wdsn), cfg()); err != nil {
			return nil, fmt.Errorf("opening %s: %w", d, err)
		}
		if s.r, err = gorm.Open(sqlite.Open(rdsn), cfg()); err != nil {
			return nil, fmt.Errorf("opening %s: %w", d, err)
		}
		// SQLite has one writer at a time: one connection serialises this process's writes.
		setPool(s.w, 1)
		if opts.MaxOpenConns == 0 {
			break
		}
		setPool(s.r, opts.MaxOpenConns)
	case MySQL:
		// The driver logs broken connections itself; route that into the service's log.
		_ = gomysql.SetLogger(driverLog{opts.Logger})
		pool, err := s.openMySQLPool(ctx, d.MySQL)
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", d, classify(err))
		}
		s.w, err = gorm.Open(mysql.New(mysql.Config{Conn: pool, DSNConfig: d.MySQL}), cfg())
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("opening %s: %w", d, err)
		}
		setPool(s.w, opts.MaxOpenConns)
		s.r = s.w
	}
	if opts.Tracing {
		for _, db := range []*gorm.DB{s.w, s.r} {
			if err := db.Use(otelgorm.NewPlugin(otelgorm.WithoutQueryVariables(), otelgorm.WithoutMetrics(),
				otelgorm.WithDBSystem(string(d.Backend)))); err != nil {
				return nil, err
			}
			if s.r == s.w {
				break
			}
		}
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connecting to %s: %w", d, err)
	}
	return s, nil
}

func setPool(db *gorm.DB, n int) {
	sqlDB, _ := db.DB()
	if n > 0 {
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
	}
	// Recycle connections so that a database failover or a proxy's idle cut is noticed.
	sqlDB.SetConnMaxLifetime(5 * time.Minute)
	sqlDB.SetConnMaxIdleTime(time.Minute)
}

// Backend says which database this is.
func (s *Store) Backend() Backend { return s.dsn.Backend }

// DSN is the parsed database address.
func (s *Store) DSN() DSN { return s.dsn }

// Keyring is the keyring secrets are encrypted with.
func (s *Store) Keyring() *secrets.Keyring { return s.keyring }

// DBs returns the connection pools, for metrics: the writer and the reader (the same on MySQL).
func (s *Store) DBs() (writer, reader *sql.DB) {
	w, _ := s.w.DB()
	r, _ := s.r.DB()
	return w, r
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	for _, db := range []*gorm.DB{s.w, s.r} {
		sqlDB, err := db.DB()
		if err != nil {
			return err
		}
		if err := sqlDB.PingContext(ctx); err != nil {
			return classify(err)
		}
	}
	return nil
}

// Close closes the connection pools.
func (s *Store) Close() error {
	var errs []error
	for _, db := range []*gorm.DB{s.w, s.r} {
		if db == nil {
			continue
		}
		if sqlDB, err := db.DB(); err == nil {
			errs = append(errs, sqlDB.Close())
		}
	}
	return errors.Join(errs...)
}

// deadline gives ctx the query timeout, or keeps the caller's deadline when it is earlier: no
// query runs longer than the timeout, whatever the caller (a streamed list's deadline is minutes,
// and must not lift the query timeout of each chunk).
func (s *Store) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opts.QueryTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.opts.QueryTimeout)
}

// reader is the pool reads use: the transaction of a View, or the read pool.
func (s *Store) reader(ctx context.Context) *gorm.DB { return s.r.WithContext(ctx) }

// View is one consistent snapshot of the database: every read made through its Store sees the
// same committed state. It holds a connection and a read transaction until Close.
type View struct {
	*Store
	cancel context.CancelFunc
}

// OpenView opens a View, under the query timeout (the whole view is one short read).
func (s *Store) OpenView(ctx context.Context) (*View, error) {
	ctx, cancel := s.deadline(ctx)
	tx := s.r.WithContext(ctx).Begin(&sql.TxOptions{Isolation: s.viewIsolation()})
	if tx.Error != nil {
		cancel()
		return nil, classify(tx.Error)
	}
	v := *s
	v.r, v.w = tx, tx
	return &View{Store: &v, cancel: cancel}, nil
}

// Close ends the view's transaction and gives its connection back.
func (v *View) Close() {
	v.r.Rollback()
	v.cancel()
}

func (s *Store) viewIsolation() sql.IsolationLevel {
	if s.dsn.Backend == MySQL {
		return sql.LevelRepeatableRead
	}
	return sql.LevelDefault // a SQLite read transaction is a snapshot already
}

// update runs fn in one write transaction, again whenever it loses a conflict with another
// writer (MySQL reports deadlocks when concurrent writers first create the same enterprise's
// generation row; on Galera, writers of the same rows through different nodes conflict at
// COMMIT): the retry reads what the winner wrote.
func (s *Store) update(ctx context.Context, fn func(tx *gorm.DB) error) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	return classify(retryConflicts(ctx, func() error { return s.w.WithContext(ctx).Transaction(fn) }))
}

// retryConflicts runs fn until it does not lose a conflict (isConflict: rolled back whole, so
// safe to run again), waiting a random and growing while between tries, until ctx ends.
func retryConflicts(ctx context.Context, fn func() error) error {
	for wait := 2 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := fn()
		if !isConflict(err) {
			return err
		}
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// driverLog receives the MySQL driver's own messages (lost connections), which carry no secrets.
type driverLog struct{ l *slog.Logger }

func (d driverLog) Print(v ...any) { d.l.Warn("mysql driver", "msg", fmt.Sprint(v...)) }

// now is the time the store writes: UTC, at the microsecond precision both backends keep, so
// that a value reads back equal to what was written.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// slowLog logs slow statements, without their values (they can be secrets). Failed statements
// are not logged here: the store returns them, and the caller decides whether they are news.
type slowLog struct{ l *slog.Logger }

const slowQuery = 500 * time.Millisecond

func (g slowLog) LogMode(logger.LogLevel) logger.Interface { return g }
func (g slowLog) Info(context.Context, string, ...any)     {}
func (g slowLog) Warn(context.Context, string, ...any)     {}
func (g slowLog) Error(context.Context, string, ...any)    {}
func (g slowLog) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}
func (g slowLog) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if elapsed := time.Since(begin); elapsed >= slowQuery {
		sql, rows := fc()
		g.l.WarnContext(ctx, "slow database statement", "elapsed_ms", elapsed.Milliseconds(), "rows", rows, "sql", sql)
	}
}
