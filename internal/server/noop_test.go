package server_test

import (
	"context"
	"testing"

	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
)

// TestNoOpWrites: a PUT or PATCH that changes nothing answers 200 with the unchanged body and
// ETag, and keeps the version, the enterprise's generation and the audit trail as they were, so
// that another client's If-Match on the same tag still succeeds; a stale If-Match is still 412.
func TestNoOpWrites(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		ctx := context.Background()
		id, etag := createRegion(t, e, "noop")
		cert, key := testpki.Pair(t, "noop")
		resp, body := e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "application/merge-patch+json",
			[]byte(`{"desc":"steady","cert_file":`+jsonString(cert)+`,"key_file":`+jsonString(key)+`}`), "If-Match", etag)
		if resp.StatusCode != 200 {
			t.Fatalf("setup: %d %s", resp.StatusCode, body)
		}
		etag = resp.Header.Get("ETag")
		_, current := e.Do("GET", "/openapi/v1/regions/"+id, e.Admin, "", nil)
		state := func() (int, int64) {
			events, err := e.Store.ListAudit(ctx, apitest.Enterprise, nil, 1000)
			if err != nil {
				t.Fatal(err)
			}
			gen, err := e.Store.Generation(ctx, apitest.Enterprise)
			if err != nil {
				t.Fatal(err)
			}
			return len(events), gen
		}
		events, gen := state()
		before := e.Snapshot()
		for _, w := range []struct{ method, contentType, body string }{
			{"PATCH", "application/merge-patch+json", `{"status":"1"}`},
			{"PATCH", "application/merge-patch+json", `{"desc":"steady","status":"1"}`},
			{"PATCH", "application/merge-patch+json", `{"key_file":` + jsonString(key) + `}`},
			{"PUT", "application/json", `{"region_name":"noop","region_alias":"A","url":"https://noop.example.com","desc":"steady","ssl_ca_cert":null,"cert_file":` + jsonString(cert) + `,"key_file":` + jsonString(key) + `}`},
		} {
			for _, ifMatch := range []string{etag, ""} {
				var headers []string
				if ifMatch != "" {
					headers = []string{"If-Match", ifMatch}
				}
				resp, body := e.Do(w.method, "/openapi/v1/regions/"+id, e.Admin, w.contentType, []byte(w.body), headers...)
				if resp.StatusCode != 200 || resp.Header.Get("ETag") != etag || string(body) != string(current) {
					t.Fatalf("no-op %s %s (If-Match %q): %d, ETag %s (was %s)\n%s\nwas\n%s", w.method, w.body, ifMatch, resp.StatusCode, resp.Header.Get("ETag"), etag, body, current)
				}
			}
		}
		if n, g := state(); n != events || g != gen {
			t.Fatalf("no-op writes: %d audit events (was %d), generation %d (was %d)", n, events, g, gen)
		}
		if e.Snapshot() != before {
			t.Fatal("no-op writes changed the database")
		}
		// A stale tag is refused even when the write would change nothing.
		resp, body = e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "application/merge-patch+json", []byte(`{"status":"1"}`), "If-Match", `"r1s"`)
		problemOf(t, resp, body, 412)
		// Another client holding the tag read before the no-ops still writes.
		resp, body = e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "application/merge-patch+json", []byte(`{"desc":"moved"}`), "If-Match", etag)
		if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
			t.Fatalf("a real change with the tag read before the no-ops: %d %s", resp.StatusCode, body)
		}
		if n, g := state(); n != events+1 || g != gen+1 {
			t.Fatalf("a real change: %d audit events (was %d), generation %d (was %d)", n, events, g, gen)
		}
	})
}
