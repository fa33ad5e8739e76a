package store

import (
	"context"
	"embed"
	"fmt"
	"strings"

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
}

// Migrate brings the schema to the latest version. It is safe to run again, and safe to run from
// several replicas at once: on MySQL they take turns under a named lock.
func (s *Store) Migrate(ctx context.Context) error { return s.migrateTo(ctx, "") }

// migrateTo brings the schema to the version target ("" for the latest).
func (s *Store) migrateTo(ctx context.Context, target string) error {
	db := s.w.WithContext(ctx)
	if s.dsn.Backend == MySQL {
		// GET_LOCK belongs to one connection: hold one for the whole migration.
		return db.Connection(func(conn *gorm.DB) error {
			// Each use starts a new statement on the same connection.
			on := func() *gorm.DB { return conn.Session(&gorm.Session{NewDB: true}) }
			var got int
			if err := on().Raw("SELECT GET_LOCK('regiond_migrate', 60)").Scan(&got).Error; err != nil {
				return classify(err)
			}
			if got != 1 {
				return fmt.Errorf("another replica held the migration lock for 60s")
			}
			defer on().Exec("SELECT RELEASE_LOCK('regiond_migrate')")
			return s.migrate(on(), target)
		})
	}
	return s.migrate(db, target)
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
