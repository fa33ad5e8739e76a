package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

var nextLink = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// walk follows Link headers from path to the last page and returns every region seen, in order.
func walk(t *testing.T, e *apitest.Env, tok, path string, between func(page int)) ([]api.RegionInfoResp, int) {
	t.Helper()
	var all []api.RegionInfoResp
	total := -1
	for page := 0; path != ""; page++ {
		resp, body := e.Do("GET", path, tok, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("page %d (%s): %d %s", page, path, resp.StatusCode, body)
		}
		var items []api.RegionInfoResp
		if err := json.Unmarshal(body, &items); err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
		if n, err := strconv.Atoi(resp.Header.Get("X-Total-Count")); err == nil && total < 0 {
			total = n
		}
		path = ""
		if m := nextLink.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
			path = m[1]
		}
		if between != nil {
			between(page)
		}
	}
	return all, total
}

func names(rs []api.RegionInfoResp) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.RegionName
	}
	return out
}

// TestPagingUnderChurn walks the whole registry page by page while other clients create and
// delete regions between the pages: no region appears twice, every region that existed through
// the whole walk appears, and the pages come in region_name order.
func TestPagingUnderChurn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		stable := map[string]string{} // name -> id, never touched during the walk
		for i := 0; i < 60; i++ {
			name := fmt.Sprintf("r-%03d", i*3)
			id, _ := createRegion(t, e, name)
			stable[name] = id
		}
		// Regions that the churn deletes during the walk.
		var doomed []string
		for i := 0; i < 20; i++ {
			id, _ := createRegion(t, e, fmt.Sprintf("r-%03d", i*3+1))
			doomed = append(doomed, id)
		}
		rng := rand.New(rand.NewSource(1))
		created := 0
		seen, _ := walk(t, e, e.Admin, "/openapi/v1/regions?limit=7", func(page int) {
			// Between pages: delete two doomed regions and create two new ones, before and after
			// the cursor alike.
			for k := 0; k < 2 && len(doomed) > 0; k++ {
				i := rng.Intn(len(doomed))
				if resp, _ := e.Do("DELETE", "/openapi/v1/regions/"+doomed[i], e.Admin, "", nil); resp.StatusCode != 204 {
					t.Fatalf("churn delete: %d", resp.StatusCode)
				}
				doomed = slices.Delete(doomed, i, i+1)
			}
			for k := 0; k < 2; k++ {
				created++
				createRegion(t, e, fmt.Sprintf("r-%03d-new%d", rng.Intn(60)*3, created))
			}
		})
		got := names(seen)
		if !slices.IsSorted(got) {
			t.Fatalf("pages are not in region_name order: %v", got)
		}
		if dup := slices.Compact(slices.Clone(got)); len(dup) != len(got) {
			t.Fatalf("a region appeared twice: %v", got)
		}
		for name := range stable {
			if !slices.Contains(got, name) {
				t.Fatalf("region %s existed throughout the walk but was not seen", name)
			}
		}
		if created == 0 {
			t.Fatal("no churn happened")
		}
	})
}

// TestFiltersWithPaging checks every filter, alone and combined, walked page by page, against
// the same filter applied by hand to the whole list.
func TestFiltersWithPaging(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		statuses := []string{"0", "1", "2", "3"}
		scopes := []string{"private", "public"}
		for i := 0; i < 40; i++ {
			body := fmt.Sprintf(`{"region_name":"f-%02d","region_alias":"%s %d","url":"https://f%d.example.com","status":"%s","scope":"%s"}`,
				i, []string{"Hangzhou", "Beijing", "Shanghai_x", "Edge 100%"}[i%4], i, i, statuses[i%4], scopes[i%3%2])
			if resp, b := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", []byte(body)); resp.StatusCode != 201 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		}
		resp, body := e.Do("GET", "/openapi/v1/regions", e.Admin, "", nil)
		var all []api.RegionInfoResp
		json.Unmarshal(body, &all)
		if resp.StatusCode != 200 || len(all) != 40 {
			t.Fatalf("whole list: %d, %d items", resp.StatusCode, len(all))
		}
		type filter struct {
			query string
			keep  func(api.RegionInfoResp) bool
		}
		filters := []filter{
			{"status=1", func(r api.RegionInfoResp) bool { return r.Status == "1" }},
			{"status=0&status=3", func(r api.RegionInfoResp) bool { return r.Status == "0" || r.Status == "3" }},
			{"scope=public", func(r api.RegionInfoResp) bool { return r.Scope == "public" }},
			{"q=hang", func(r api.RegionInfoResp) bool { return strings.Contains(strings.ToLower(r.RegionAlias), "hang") }},
			{"q=F-1", func(r api.RegionInfoResp) bool { return strings.HasPrefix(r.RegionName, "f-1") }},
			{"q=" + url.QueryEscape("_"), func(r api.RegionInfoResp) bool { return strings.Contains(r.RegionAlias, "_") }},
			{"q=" + url.QueryEscape("100%"), func(r api.RegionInfoResp) bool { return strings.Contains(r.RegionAlias, "100%") }},
			{"status=2&scope=private&q=shang", func(r api.RegionInfoResp) bool {
				return r.Status == "2" && r.Scope == "private" && strings.Contains(strings.ToLower(r.RegionAlias), "shang")
			}},
			{"scope=private&status=1&status=2", func(r api.RegionInfoResp) bool { return r.Scope == "private" && (r.Status == "1" || r.Status == "2") }},
		}
		for _, f := range filters {
			var want []string
			for _, r := range all {
				if f.keep(r) {
					want = append(want, r.RegionName)
				}
			}
			// Unpaged (streamed) and paged with several page sizes must agree.
			unpaged, n := walk(t, e, e.Admin, "/openapi/v1/regions?"+f.query, nil)
			if !slices.Equal(names(unpaged), want) || n != len(want) {
				t.Errorf("%s unpaged: got %v (total %d), want %v", f.query, names(unpaged), n, want)
			}
			for _, limit := range []int{1, 3, 1000} {
				paged, total := walk(t, e, e.Admin, fmt.Sprintf("/openapi/v1/regions?%s&limit=%d", f.query, limit), nil)
				if !slices.Equal(names(paged), want) || total != len(want) {
					t.Errorf("%s limit %d: got %v (X-Total-Count %d), want %v", f.query, limit, names(paged), total, want)
				}
			}
		}
		// A page token made for one query is refused with another, and when altered.
		resp, _ = e.Do("GET", "/openapi/v1/regions?status=1&limit=2", e.Admin, "", nil)
		next := nextLink.FindStringSubmatch(resp.Header.Get("Link"))[1]
		u, _ := url.Parse(next)
		tok := u.Query().Get("page_token")
		for _, q := range []string{"status=2&limit=2&page_token=" + tok, "limit=2&page_token=" + tok,
			"status=1&limit=2&page_token=" + tok[:len(tok)-2] + "AA"} {
			resp, body := e.Do("GET", "/openapi/v1/regions?"+q, e.Admin, "", nil)
			if p := problemOf(t, resp, body, 400); (*p.Errors)[0].Field != "page_token" {
				t.Fatalf("%s: %s", q, body)
			}
		}
		// Changing the page size between pages is allowed.
		if resp, body := e.Do("GET", "/openapi/v1/regions?status=1&limit=5&page_token="+tok, e.Admin, "", nil); resp.StatusCode != 200 {
			t.Fatalf("other limit: %d %s", resp.StatusCode, body)
		}
	})
}

// TestConditionalRequests covers 304, 412 and 428 on the detail and the list.
func TestConditionalRequests(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		id, etag := createRegion(t, e, "cond")
		reader := e.Token(t, apitest.Enterprise, token.RegionsRead)

		// Detail: 304 on the current tag (also weak, also in a list of tags), 200 on an old one.
		for _, inm := range []string{etag, "W/" + etag, `"x", ` + etag, "*"} {
			if resp, body := e.Do("GET", "/openapi/v1/regions/"+id, e.Admin, "", nil, "If-None-Match", inm); resp.StatusCode != 304 || len(body) != 0 || resp.Header.Get("ETag") != etag {
				t.Fatalf("If-None-Match %s: %d", inm, resp.StatusCode)
			}
		}
		// Callers with and without regions:secrets see different representations and tags.
		resp, _ := e.Do("GET", "/openapi/v1/regions/"+id, reader, "", nil)
		if resp.Header.Get("ETag") == etag || resp.Header.Get("Cache-Control") != "private, no-cache" {
			t.Fatalf("reader's tag %s (admin's %s), Cache-Control %q", resp.Header.Get("ETag"), etag, resp.Header.Get("Cache-Control"))
		}
		readerTag := resp.Header.Get("ETag")

		// List: 304 while nothing changes; a write changes the tag at once.
		resp, _ = e.Do("GET", "/openapi/v1/regions", reader, "", nil)
		listTag := resp.Header.Get("ETag")
		if resp, _ := e.Do("GET", "/openapi/v1/regions", reader, "", nil, "If-None-Match", listTag); resp.StatusCode != 304 {
			t.Fatalf("list If-None-Match: %d", resp.StatusCode)
		}
		resp, body := e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "application/merge-patch+json", []byte(`{"desc":"changed"}`), "If-Match", etag)
		if resp.StatusCode != 200 {
			t.Fatalf("If-Match current: %d %s", resp.StatusCode, body)
		}
		newTag := resp.Header.Get("ETag")
		if resp, body := e.Do("GET", "/openapi/v1/regions", reader, "", nil, "If-None-Match", listTag); resp.StatusCode != 200 || !strings.Contains(string(body), "changed") {
			t.Fatalf("list after a write: %d %s", resp.StatusCode, body)
		}

		// Writes: the tag either caller read works (same version); old tags and weak tags fail.
		for _, im := range []string{etag, "W/" + newTag, `"bogus"`} {
			before := e.Snapshot()
			resp, body := e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "application/merge-patch+json", []byte(`{"desc":"lost"}`), "If-Match", im)
			problemOf(t, resp, body, 412)
			if e.Snapshot() != before {
				t.Fatalf("a 412 changed the database (If-Match %s)", im)
			}
		}
		if resp, _ := e.Do("DELETE", "/openapi/v1/regions/"+id, e.Admin, "", nil, "If-Match", readerTag); resp.StatusCode != 412 {
			t.Fatalf("DELETE with an outdated reader tag: %d", resp.StatusCode)
		}
		resp, _ = e.Do("GET", "/openapi/v1/regions/"+id, reader, "", nil)
		if resp, body := e.Do("PUT", "/openapi/v1/regions/"+id, e.Admin, "application/json",
			[]byte(`{"region_name":"cond","region_alias":"B","url":"https://cond.example.com"}`), "If-Match", `"x", `+resp.Header.Get("ETag")); resp.StatusCode != 200 {
			t.Fatalf("PUT with the reader's current tag in a list: %d %s", resp.StatusCode, body)
		}
		if resp, _ := e.Do("DELETE", "/openapi/v1/regions/"+id, e.Admin, "", nil, "If-Match", "*"); resp.StatusCode != 204 {
			t.Fatalf("DELETE If-Match *: %d", resp.StatusCode)
		}
		if resp, _ := e.Do("DELETE", "/openapi/v1/regions/"+id, e.Admin, "", nil, "If-Match", "*"); resp.StatusCode != 404 {
			t.Fatalf("DELETE If-Match * of a deleted region: %d", resp.StatusCode)
		}
	})
}

// TestConcurrentConditionalUpdates: 50 clients read the same version and update it with If-Match
// at once. Exactly one wins per version; the losers get 412; the final state is the winner's.
func TestConcurrentConditionalUpdates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		id, etag := createRegion(t, e, "race")
		for round := 0; round < 3; round++ {
			var wg sync.WaitGroup
			var wins atomic.Int32
			var winner atomic.Value
			start := make(chan struct{})
			for i := 0; i < 50; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					desc := fmt.Sprintf("round %d writer %d", round, i)
					resp, body := e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "application/merge-patch+json",
						[]byte(`{"desc":"`+desc+`"}`), "If-Match", etag)
					switch resp.StatusCode {
					case 200:
						wins.Add(1)
						winner.Store(desc)
					case 412:
					default:
						t.Errorf("writer %d: %d %s", i, resp.StatusCode, body)
					}
				}(i)
			}
			close(start)
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("round %d: %d writers won, want exactly 1", round, wins.Load())
			}
			resp, body := e.Do("GET", "/openapi/v1/regions/"+id, e.Admin, "", nil)
			var r api.RegionInfoResp
			json.Unmarshal(body, &r)
			if r.Desc != winner.Load().(string) {
				t.Fatalf("round %d: final desc %q, winner wrote %q", round, r.Desc, winner.Load())
			}
			etag = resp.Header.Get("ETag")
		}
	})
}

// TestReadAfterWrite: on one replica, a read right after a write returns the new data, through
// the cached list, for every kind of write.
func TestReadAfterWrite(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		list := func() string {
			_, body := e.Do("GET", "/openapi/v1/regions", e.Admin, "", nil)
			return string(body)
		}
		list() // warm the cache
		for i := 0; i < 20; i++ {
			name := fmt.Sprintf("raw-%02d", i)
			id, _ := createRegion(t, e, name)
			if !strings.Contains(list(), name) {
				t.Fatalf("create %d not visible at once", i)
			}
			desc := fmt.Sprintf("desc-%d", i)
			if resp, _ := e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "application/merge-patch+json", []byte(`{"desc":"`+desc+`"}`)); resp.StatusCode != 200 {
				t.Fatal(resp.StatusCode)
			}
			if !strings.Contains(list(), desc) {
				t.Fatalf("update %d not visible at once", i)
			}
			if i%2 == 0 {
				e.Do("DELETE", "/openapi/v1/regions/"+id, e.Admin, "", nil)
				if strings.Contains(list(), name) {
					t.Fatalf("delete %d not visible at once", i)
				}
			}
		}
	})
}

// TestCrossReplicaStaleness runs two servers on one MariaDB: a write on one is visible on the
// other within the configured staleness bound, even though the other serves its list from cache.
func TestCrossReplicaStaleness(t *testing.T) {
	dsn := dbtest.MySQL(t)
	const bound = 300 * time.Millisecond
	cfg := apitest.Options{Server: func(c *server.Config) { c.CacheStaleness = bound }}
	a := apitest.Start(t, dsn, cfg)
	b := apitest.Start(t, dsn, cfg)
	tokB := b.Token(t, apitest.Enterprise, token.RegionsRead)
	read := func() string {
		_, body := b.Do("GET", "/openapi/v1/regions", tokB, "", nil)
		return string(body)
	}
	read()
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("xr-%02d", i)
		_, _ = createRegion(t, a, name)
		written := time.Now()
		// The first read may be stale; once the bound has passed since the write, none may be.
		time.Sleep(bound)
		if got := read(); !strings.Contains(got, name) {
			t.Fatalf("write %d on replica A not visible on replica B %v after it", i, time.Since(written))
		}
	}
	// And a revocation on A locks the token out of B within the bound too.
	victim := a.Token(t, apitest.Enterprise, token.RegionsRead)
	if resp, _ := b.Do("GET", "/openapi/v1/regions", victim, "", nil); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	stored, err := a.Store.TokenByHash(context.Background(), token.Hash(victim))
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := a.Do("DELETE", "/openapi/v1/tokens/"+stored.ID, a.Admin, "", nil); resp.StatusCode != 204 {
		t.Fatal(resp.StatusCode)
	}
	time.Sleep(bound)
	if resp, _ := b.Do("GET", "/openapi/v1/regions", victim, "", nil); resp.StatusCode != 401 {
		t.Fatalf("revoked token on the other replica after the bound: %d", resp.StatusCode)
	}
}

// TestStreamedList: a list too large for the cache, or filtered, is read from the database in
// chunks: whatever the chunk size, the bytes are the cached form's, with its count and a tag that
// If-None-Match matches until a write. A list that fits in one chunk is an ordinary response with
// Content-Length; a longer one is streamed.
func TestStreamedList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		big := apitest.Start(t, dsn, apitest.Options{})
		for i := 0; i < 30; i++ {
			createRegion(t, big, fmt.Sprintf("s-%02d", i))
		}
		_, cached := big.Do("GET", "/openapi/v1/regions", big.Admin, "", nil)
		_, filtered := big.Do("GET", "/openapi/v1/regions?q=s-1", big.Admin, "", nil) // s-10 .. s-19
		for _, chunk := range []int{1, 7, 10, 29, 30} {
			small := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { c.ListCacheBytes = 4096; c.ListChunk = chunk }})
			for _, l := range []struct {
				path  string
				want  []byte
				count int
			}{{"/openapi/v1/regions", cached, 30}, {"/openapi/v1/regions?q=s-1", filtered, 10}} {
				resp, body := small.Do("GET", l.path, big.Admin, "", nil)
				if resp.StatusCode != 200 || string(body) != string(l.want) {
					t.Fatalf("chunk %d, %s: the streamed list differs from the cached one:\n%s\n%s", chunk, l.path, body, l.want)
				}
				length, whole := resp.Header.Get("Content-Length"), l.count <= chunk
				if resp.Header.Get("X-Total-Count") != strconv.Itoa(l.count) || (length != "") != whole || (whole && length != strconv.Itoa(len(body))) {
					t.Fatalf("chunk %d, %s: X-Total-Count %q, Content-Length %q", chunk, l.path, resp.Header.Get("X-Total-Count"), length)
				}
				if resp, _ := small.Do("GET", l.path, big.Admin, "", nil, "If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified {
					t.Fatalf("chunk %d, %s: If-None-Match: %d", chunk, l.path, resp.StatusCode)
				}
			}
		}
		// A write moves the tag on.
		small := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { c.ListCacheBytes = 4096; c.ListChunk = 7 }})
		resp, _ := small.Do("GET", "/openapi/v1/regions", big.Admin, "", nil)
		createRegion(t, big, "s-99")
		if resp, body := small.Do("GET", "/openapi/v1/regions", big.Admin, "", nil, "If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != 200 || !strings.Contains(string(body), "s-99") {
			t.Fatalf("If-None-Match after a write: %d %s", resp.StatusCode, body)
		}
	})
}

// TestStreamedListUnderChurn reads a list in chunks of 3 while other clients create and delete
// regions: each read is a keyset walk — in order, no region twice, every region that existed
// throughout present.
func TestStreamedListUnderChurn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { c.ListCacheBytes = 4096; c.ListChunk = 3; c.RateLimit = 0 }})
		var stable []string
		for i := 0; i < 60; i++ {
			name := fmt.Sprintf("c-%03d", i*2)
			createRegion(t, e, name)
			stable = append(stable, name)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var writes atomic.Int64
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id, _ := createRegion(t, e, fmt.Sprintf("c-%03d-%d-%d", (i*7+w*31)%120, w, i))
					if resp, _ := e.Do("DELETE", "/openapi/v1/regions/"+id, e.Admin, "", nil); resp.StatusCode != 204 {
						t.Errorf("churn delete: %d", resp.StatusCode)
						return
					}
					writes.Add(2)
				}
			}(w)
		}
		for read := 0; read < 20; read++ {
			resp, body := e.Do("GET", "/openapi/v1/regions", e.Admin, "", nil)
			var items []api.RegionInfoResp
			if resp.StatusCode != 200 || json.Unmarshal(body, &items) != nil {
				t.Fatalf("read %d: %d %.200s", read, resp.StatusCode, body)
			}
			got := names(items)
			if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Fatalf("read %d is not a keyset walk: %v", read, got)
			}
			for _, name := range stable {
				if !slices.Contains(got, name) {
					t.Fatalf("read %d lacks %s, which existed throughout", read, name)
				}
			}
		}
		close(stop)
		wg.Wait()
		if writes.Load() == 0 {
			t.Fatal("no churn happened")
		}
	})
}
