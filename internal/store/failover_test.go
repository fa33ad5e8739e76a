package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestFailoverList: a failover DSN connects through the first of its addresses that accepts
// (here after one that refuses), and one whose list has an entry that is not host:port is refused
// when parsed, naming the entry.
func TestFailoverList(t *testing.T) {
	dsn := dbtest.MySQL(t)
	failover := strings.Replace(dsn, "@tcp(", "@"+store.FailoverNetwork+"(127.0.0.1:1,", 1)
	if failover == dsn {
		t.Fatalf("the test database's DSN %s is not tcp(...)", dsn)
	}
	s := open(t, failover, nil)
	if _, err := s.CreateRegion(context.Background(), newRegion("fo", "fo-a"), ev(store.OpRegionCreate)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"db1:3306,db2", "db1:3306,,db2:3306", ":3306"} {
		_, err := store.ParseDSN("mysql://u:secret@failover(" + bad + ")/db")
		if err == nil || !strings.Contains(err.Error(), "is not host:port") || strings.Contains(err.Error(), "secret") {
			t.Errorf("failover(%s): %v; want an error naming the entry that is not host:port, without the password", bad, err)
		}
	}
}
