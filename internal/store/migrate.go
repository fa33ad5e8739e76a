package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationIDs lists the versioned migrations in order. Each has one SQL file per backend,
// migrations/<id>.<backend>.sql. Never edit a released migration: add the next one.
var migrationIDs = []string{
	"0001_region_info",
	"0002_tokens",
	"0003_audit",
	"0004_generation_meta",
	"0005_binary_ids",
	"0006_lease",
	"0007_audit_warnings",
	"0008_audit_time_order",
	"0009_region_health",
	"0010_health_details",
}

// Migrate brings the schema to the latest version. It is safe to run again, and safe to run from
// several replicas at once: on MySQL they take turns under the migration lock (lockMigrations);
// on SQLite the migration is one write transaction.
func (s *Store) Migrate(ctx context.Context) error { return s.migrateTo(ctx, "") }

// migrateTo brings the schema to the version target ("" for the latest).
func (s *Store) migrateTo(ctx context.Context, target string) error {
	db := s.w.WithContext(ctx)
	if s.dsn.Backend != MySQL {
		return s.migrate(db, target)
	}
	release, err := s.lockMigrations(ctx)
	if err != nil {
		return err
	}
	defer release()
	// One connection for the whole migration: through a failover list, another connection may
	// reach a node that has not yet applied the previous step.
	return db.Connection(func(conn *gorm.DB) error {
		return s.migrate(conn.Session(&gorm.Session{NewDB: true}), target) // each use a new statement
	})
}

// migrationLockTTL is how long a claim to migrate lasts unless its holder renews it: a replica
// that died while migrating holds the others back this long at most. Its holder renews it every
// quarter of that while it migrates.
var migrationLockTTL = time.Minute

// lockMigrations claims, for this process, the right to migrate, waiting while another replica
// holds it. The claim is a row of regiond_migration_lock, which every server of a cluster sees
// (GET_LOCK would not do: on Galera each node grants it to its own clients). Replicas inserting
// the claim at once lose with a duplicate key or, on Galera, with a certification conflict;
// a claim not renewed within migrationLockTTL is taken over. The table is not a versioned
// migration: it must exist before any migration runs. release gives the claim up.
func (s *Store) lockMigrations(ctx context.Context) (release func(), err error) {
	// Only when missing: on Galera even a DDL that changes nothing holds up the cluster's writes.
	if !s.w.WithContext(ctx).Migrator().HasTable("regiond_migration_lock") {
		err = s.w.WithContext(ctx).Exec(`CREATE TABLE IF NOT EXISTS regiond_migration_lock (
			name varchar(64) NOT NULL,
			holder varchar(255) NOT NULL,
			expires_at datetime(6) NOT NULL,
			PRIMARY KEY (name)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`).Error
		if err != nil {
			return nil, classify(err)
		}
	}
	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s pid %d %08x", host, os.Getpid(), rand.Uint32())
	var waitingSince, logged time.Time
	for {
		won, current, err := s.claimMigrations(ctx, holder)
		if err != nil {
			return nil, classify(err)
		}
		if won {
			break
		}
		if waitingSince.IsZero() {
			waitingSince, logged = time.Now(), time.Now()
		}
		if time.Since(logged) >= 10*time.Second {
			s.opts.Logger.Info("waiting for another replica to finish migrating the database", "holder", current,
				"waiting_s", int(time.Since(waitingSince).Seconds()))
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100*time.Millisecond + rand.N(200*time.Millisecond)):
		}
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(migrationLockTTL / 4)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			rctx, cancel := s.deadline(context.WithoutCancel(ctx))
			var renewed int64
			err := retryConflicts(rctx, func() error {
				res := s.w.WithContext(rctx).Exec("UPDATE regiond_migration_lock SET expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND WHERE name = 'migrate' AND holder = ?",
					migrationLockTTL.Microseconds(), holder)
				renewed = res.RowsAffected
				return res.Error
			})
			cancel()
			if err != nil || renewed != 1 {
				s.opts.Logger.Warn("renewing the migration lock failed: another replica may take it over", "error", err, "renewed", renewed)
			}
		}
	}()
	return func() {
		close(stop)
		<-stopped
		rctx, cancel := s.deadline(context.WithoutCancel(ctx))
		defer cancel()
		err := retryConflicts(rctx, func() error {
			return s.w.WithContext(rctx).Exec("DELETE FROM regiond_migration_lock WHERE name = 'migrate' AND holder = ?", holder).Error
		})
		if err != nil {
			s.opts.Logger.Warn("releasing the migration lock failed: other replicas wait until it expires", "error", err,
				"expires_in", migrationLockTTL.String())
		}
	}, nil
}

// claimMigrations tries once to claim the migration lock for holder: won, or who holds it.
func (s *Store) claimMigrations(ctx context.Context, holder string) (won bool, current string, err error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	db := s.w.WithContext(ctx)
	ttl := migrationLockTTL.Microseconds()
	err = db.Exec("INSERT INTO regiond_migration_lock (name, holder, expires_at) VALUES ('migrate', ?, UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)", holder, ttl).Error
	if err == nil {
		return true, holder, nil
	}
	if !errors.Is(err, gorm.ErrDuplicatedKey) && !isConflict(err) {
		return false, "", err
	}
	res := db.Exec("UPDATE regiond_migration_lock SET holder = ?, expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND WHERE name = 'migrate' AND expires_at < UTC_TIMESTAMP(6)", holder, ttl)
	if res.Error == nil && res.RowsAffected == 1 {
		s.opts.Logger.Warn("took over the migration lock from a replica that stopped renewing it (it may have died while migrating)")
		return true, holder, nil
	}
	if res.Error != nil && !isConflict(res.Error) {
		return false, "", res.Error
	}
	var holders []string
	if err := db.Raw("SELECT holder FROM regiond_migration_lock WHERE name = 'migrate'").Scan(&holders).Error; err != nil {
		return false, "", err
	}
	if len(holders) > 0 {
		current = holders[0]
	}
	return false, current, nil
}

func (s *Store) migrate(db *gorm.DB, target string) error {
	var ms []*gormigrate.Migration
	for _, id := range migrationIDs {
		file := fmt.Sprintf("migrations/%s.%s.sql", id, s.dsn.Backend)
		body, err := migrationFiles.ReadFile(file)
		if err != nil {
			return fmt.Errorf("migration %s has no file for %s: %w", id, s.dsn.Backend, err)
		}
		ms = append(ms, &gormigrate.Migration{
			ID: id,
			Migrate: func(tx *gorm.DB) error {
				for _, stmt := range statements(string(body)) {
					if strings.Contains(stmt, idCollationVar) {
						coll, err := idCollation(tx)
						if err != nil {
							return fmt.Errorf("migration %s: %w", id, err)
						}
						stmt = strings.ReplaceAll(stmt, idCollationVar, coll)
					}
					if err := tx.Exec(stmt).Error; err != nil {
						return fmt.Errorf("migration %s: %w", id, err)
					}
				}
				return nil
			},
		})
	}
	opts := *gormigrate.DefaultOptions
	opts.TableName = "regiond_migrations"
	opts.UseTransaction = s.dsn.Backend == SQLite // MySQL commits DDL implicitly anyway
	m := gormigrate.New(db, &opts, ms)
	var err error
	if target == "" {
		err = m.Migrate()
	} else {
		err = m.MigrateTo(target)
	}
	return classify(err)
}

// idCollationVar in a MySQL migration stands for the collation of id columns.
const idCollationVar = "{{id_collation}}"

// idCollation is the server's binary NO PAD collation: it compares ids byte for byte, trailing
// spaces included, as SQLite does. MariaDB (10.2+) and MySQL (8.0+) name it differently.
func idCollation(db *gorm.DB) (string, error) {
	var names []string
	err := db.Raw("SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin') ORDER BY COLLATION_NAME DESC").
		Scan(&names).Error
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", fmt.Errorf("the server has no binary NO PAD collation (utf8mb4_nopad_bin or utf8mb4_0900_bin): regiond needs MariaDB 10.2 or MySQL 8.0, or later")
	}
	return names[0], nil
}

// SchemaVersion is the id of the last applied migration ("" on an empty database).
func (s *Store) SchemaVersion(ctx context.Context) (string, error) {
	if !s.reader(ctx).Migrator().HasTable("regiond_migrations") {
		return "", nil
	}
	var id string
	err := s.reader(ctx).Raw("SELECT id FROM regiond_migrations ORDER BY id DESC LIMIT 1").Scan(&id).Error
	return id, classify(err)
}

// LatestSchemaVersion is the id of the newest migration this binary knows.
func LatestSchemaVersion() string { return migrationIDs[len(migrationIDs)-1] }

// statements splits a migration file into statements: they end with ";" at the end of a line.
// Comment lines are dropped.
func statements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}
