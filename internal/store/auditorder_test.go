package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestAuditOrderIsTimeNotID: the audit trail lists newest first by time, whatever order the ids
// are in (Galera interleaves AUTO_INCREMENT per node: a later event can have a smaller id), and
// its pages, each starting after the previous page's last event, return each event exactly once,
// events of the same microsecond included.
func TestAuditOrderIsTimeNotID(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, nil)
		w, _ := s.DBs()
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		// id -> seconds after base: ids 1..4 and 9 out of time order, 5..8 share one microsecond.
		at := map[int64]int{1: 10, 2: 3, 3: 12, 4: 1, 5: 7, 6: 7, 7: 7, 8: 7, 9: 2}
		for id, sec := range at {
			if _, err := w.Exec("INSERT INTO regiond_audit (id, time, enterprise_id, token_id, operation, target_id, changed_fields, request_id) VALUES (?, ?, 'ord', 't', 'region.update', 'x', '', '')",
				id, base.Add(time.Duration(sec)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		want := "3,1,8,7,6,5,2,9,4" // time descending, then id descending
		for _, size := range []int{1, 2, 3, 4, 100} {
			got := ""
			var after *store.AuditCursor
			for pages := 0; pages < 20; pages++ {
				page, err := s.ListAudit(ctx, "ord", after, size)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page {
					got += fmt.Sprintf(",%d", e.ID)
				}
				if len(page) < size {
					break
				}
				c := page[len(page)-1].Cursor()
				after = &c
			}
			if got != ","+want {
				t.Fatalf("pages of %d: ids %s, want %s", size, got[min(1, len(got)):], want)
			}
		}
		// A page token of an older version carries an event id alone: paging goes on after that
		// event.
		legacy, err := store.ParseAuditCursor("6")
		if err != nil {
			t.Fatal(err)
		}
		page, err := s.ListAudit(ctx, "ord", &legacy, 3)
		if err != nil || len(page) != 3 || page[0].ID != 5 || page[1].ID != 2 || page[2].ID != 9 {
			t.Fatalf("after the legacy cursor of event 6: %+v, %v", page, err)
		}
		for _, bad := range []string{"", "x", "1.2.3", "-5", "99999999999999999999.1"} {
			if _, err := store.ParseAuditCursor(bad); err == nil {
				t.Errorf("ParseAuditCursor(%q) accepted it", bad)
			}
		}
	})
}
