package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/regiond/regiond/internal/store"
)

// seedCmd inserts many regions straight into the database, with multi-row INSERTs in one
// transaction: creating 100,000 regions through the API would take minutes and measure the
// write path, which the benchmark measures separately. It bumps the enterprise's generation
// like every write does, so a running regiond notices the new rows too.
func seedCmd(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	dsn := fs.String("database", "", "regiond DSN (sqlite://PATH or mysql://...)")
	enterprise := fs.String("enterprise", "default", "enterprise of the regions")
	count := fs.Int("count", 100000, "regions to insert")
	batch := fs.Int("batch", 1000, "rows per INSERT")
	prefix := fs.String("prefix", "region", "region_name prefix (names are PREFIX-NNNNNN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *count < 0 || *batch < 1 {
		return fmt.Errorf("--count must be >= 0 and --batch >= 1")
	}
	ctx := context.Background()
	start := time.Now()
	st, err := store.Open(ctx, *dsn, store.Options{MaxOpenConns: 2, QueryTimeout: 10 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	db, _ := st.DBs()
	quote := "`"
	upsertGen := "INSERT INTO regiond_generation (enterprise_id, generation) VALUES (?, 1) ON DUPLICATE KEY UPDATE generation = generation + 1"
	if st.Backend() == store.SQLite {
		quote = `"`
		upsertGen = "INSERT INTO regiond_generation (enterprise_id, generation) VALUES (?, 1) ON CONFLICT (enterprise_id) DO UPDATE SET generation = generation + 1"
	}
	const cols = 15
	head := "INSERT INTO region_info (region_id, region_name, region_alias, region_type, url, wsurl, httpdomain, tcpdomain, status, create_time, " +
		quote + "desc" + quote + ", scope, enterprise_id, version, update_time) VALUES "
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UTC().Truncate(time.Microsecond)
	statuses := []string{"1", "1", "1", "1", "2", "3", "0"}
	for done := 0; done < *count; {
		n := min(*batch, *count-done)
		var sql strings.Builder
		sql.WriteString(head)
		vals := make([]any, 0, n*cols)
		for i := range n {
			k := done + i + 1
			if i > 0 {
				sql.WriteByte(',')
			}
			sql.WriteString(row)
			name := fmt.Sprintf("%s-%06d", *prefix, k)
			scope := "private"
			if k%3 == 0 {
				scope = "public"
			}
			vals = append(vals, uuid.NewString(), name, fmt.Sprintf("Region %d", k), "[]",
				"https://"+name+".example.com:8443", "wss://"+name+".example.com:6060",
				"apps-"+name+".example.com", fmt.Sprintf("10.%d.%d.%d", k>>16&255, k>>8&255, k&255),
				statuses[k%len(statuses)], now, "Bulk-seeded by make bench", scope, *enterprise, 1, now)
		}
		if _, err := tx.ExecContext(ctx, sql.String(), vals...); err != nil {
			return fmt.Errorf("inserting regions %d..%d: %w", done+1, done+n, err)
		}
		done += n
	}
	if _, err := tx.ExecContext(ctx, upsertGen, *enterprise); err != nil {
		return fmt.Errorf("bumping the generation: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Printf("seeded %d regions into %s in %s\n", *count, st.DSN(), time.Since(start).Round(time.Millisecond))
	return nil
}
