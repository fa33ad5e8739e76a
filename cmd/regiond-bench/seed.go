package main

import (
	"cmp"
	"context"
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
type seedCmd struct {
	Database   string `required:"" help:"regiond DSN (sqlite://PATH or mysql://...)."`
	Enterprise string `default:"default" help:"Enterprise of the regions."`
	Count      int    `default:"100000" help:"Regions to insert."`
	Batch      int    `default:"1000" help:"Rows per INSERT."`
	Prefix     string `default:"region" help:"region_name prefix (names are PREFIX-NNNNNN)."`
	URL        string `placeholder:"URL" help:"Every region's url (default: one of its own under example.com, which never resolves)."`
}

func (c *seedCmd) Run() error {
	if c.Count < 0 || c.Batch < 1 {
		return fmt.Errorf("--count must be >= 0 and --batch >= 1")
	}
	ctx := context.Background()
	start := time.Now()
	st, err := store.Open(ctx, c.Database, store.Options{MaxOpenConns: 2, QueryTimeout: 10 * time.Minute,
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
	for done := 0; done < c.Count; {
		n := min(c.Batch, c.Count-done)
		var sql strings.Builder
		sql.WriteString(head)
		vals := make([]any, 0, n*cols)
		for i := range n {
			k := done + i + 1
			if i > 0 {
				sql.WriteByte(',')
			}
			sql.WriteString(row)
			name := fmt.Sprintf("%s-%06d", c.Prefix, k)
			scope := "private"
			if k%3 == 0 {
				scope = "public"
			}
			vals = append(vals, uuid.NewString(), name, fmt.Sprintf("Region %d", k), "[]",
				cmp.Or(c.URL, "https://"+name+".example.com:8443"), "wss://"+name+".example.com:6060",
				"apps-"+name+".example.com", fmt.Sprintf("10.%d.%d.%d", k>>16&255, k>>8&255, k&255),
				statuses[k%len(statuses)], now, "Bulk-seeded by make bench", scope, c.Enterprise, 1, now)
		}
		if _, err := tx.ExecContext(ctx, sql.String(), vals...); err != nil {
			return fmt.Errorf("inserting regions %d..%d: %w", done+1, done+n, err)
		}
		done += n
	}
	if _, err := tx.ExecContext(ctx, upsertGen, c.Enterprise); err != nil {
		return fmt.Errorf("bumping the generation: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Printf("seeded %d regions into %s in %s\n", c.Count, st.DSN(), time.Since(start).Round(time.Millisecond))
	return nil
}
