package server_test

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden files of TestListGolden")

// seedGolden fills a fresh database with a fixed registry — fixed region ids, names, values and
// page-token key — so that every list response over it is the same bytes on every run and on
// both backends.
func seedGolden(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	keyring, err := secrets.Parse(base64.StdEncoding.EncodeToString([]byte("regiond golden test secret key!!")))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dsn, store.Options{Keyring: keyring})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString([]byte("regiond golden test page key 32b"))
	if _, err := st.Meta(ctx, "page_token_key", key); err != nil {
		t.Fatal(err)
	}
	// Certificates valid from 2020 to 2120, fixed so that the bytes are.
	ca, cert, keyPEM := readGolden(t, "ca.pem"), readGolden(t, "cert.pem"), readGolden(t, "key.pem")
	statuses := []region.Status{region.StatusEnabled, region.StatusEnabled, region.StatusDisabled, region.StatusMaintenance, region.StatusEditing}
	for i := 1; i <= 12; i++ {
		r := region.Region{
			EnterpriseID: apitest.Enterprise,
			RegionID:     fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			RegionName:   fmt.Sprintf("golden-%02d", i),
			RegionAlias:  fmt.Sprintf("Golden \"%d\" <é>", i),
			URL:          fmt.Sprintf("https://golden-%02d.example.com:8443", i),
			WSURL:        fmt.Sprintf("wss://golden-%02d.example.com:6060", i),
			HTTPDomain:   fmt.Sprintf("apps-%02d.example.com", i),
			TCPDomain:    fmt.Sprintf("10.0.0.%d", i),
			Status:       statuses[i%len(statuses)],
			Desc:         fmt.Sprintf("region %d\nsecond line & more", i),
			Scope:        region.ScopePrivate,
		}
		if i%3 == 0 {
			r.Scope = region.ScopePublic
		}
		if i%4 == 0 {
			r.SSLCACert, r.CertFile, r.KeyFile = &ca, &cert, &keyPEM
		}
		ev := store.AuditEvent{EnterpriseID: r.EnterpriseID, TokenID: "golden", Operation: store.OpRegionCreate}
		if _, err := st.CreateRegion(ctx, r, ev); err != nil {
			t.Fatal(err)
		}
	}
	other := region.Region{EnterpriseID: "e2", RegionID: "00000000-0000-4000-8000-999999999999", RegionName: "golden-05",
		RegionAlias: "another enterprise", URL: "https://other.example.com", Status: region.StatusEnabled, Scope: region.ScopePrivate}
	if _, err := st.CreateRegion(ctx, other, store.AuditEvent{EnterpriseID: "e2", TokenID: "golden", Operation: store.OpRegionCreate}); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goldenResponse is a response as the golden files hold it: the status, every header but Date
// and X-Request-Id (which change from run to run), how the body was framed, and the body.
func goldenResponse(resp *http.Response, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", resp.StatusCode)
	var names []string
	for name := range resp.Header {
		if name != "Date" && name != "X-Request-Id" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range resp.Header[name] {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	fmt.Fprintf(&b, "(framing: content-length %d, transfer-encoding %v)\n\n", resp.ContentLength, resp.TransferEncoding)
	b.Write(body)
	b.WriteByte('\n')
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-golden to write it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// TestListGolden pins the bytes of Rainbond's list call — status, headers and body — over a fixed
// registry, on both backends: the bare list served from the snapshot (first and later requests
// alike), the same list streamed in chunks of a few regions, a filtered list, two pages of a paged
// list, and the lists a regions:secrets token sees. Any change to what a client receives shows
// up as a difference from testdata/golden.
func TestListGolden(t *testing.T) {
	if *updateGolden {
		// One backend writes the files; the other must then match them.
		t.Log("rewriting the golden files")
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		seedGolden(t, dsn)
		neverStale := func(c *server.Config) { c.CacheStaleness = time.Hour }
		cached := apitest.Start(t, dsn, apitest.Options{Server: neverStale})
		streamed := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) {
			neverStale(c)
			c.ListCacheBytes, c.ListChunk = 4096, 5
		}})
		for _, who := range []struct {
			name   string
			scopes []token.Scope
		}{{"reader", []token.Scope{token.RegionsRead}}, {"secrets", []token.Scope{token.RegionsRead, token.RegionsSecrets}}} {
			tok := cached.Token(t, apitest.Enterprise, who.scopes...)
			streamed.Secret(tok)
			get := func(e *apitest.Env, path string, headers ...string) string {
				resp, body := e.Do("GET", path, tok, "", nil, headers...)
				return goldenResponse(resp, body)
			}
			// The bare list: the token's first request, then later ones (served from the snapshot).
			for i := 0; i < 3; i++ {
				checkGolden(t, who.name+"-bare", get(cached, "/openapi/v1/regions"))
			}
			for i := 0; i < 2; i++ {
				checkGolden(t, who.name+"-streamed", get(streamed, "/openapi/v1/regions"))
			}
			checkGolden(t, who.name+"-filtered", get(cached, "/openapi/v1/regions?status=1&status=3&q=GOLDEN-1"))
			checkGolden(t, who.name+"-filtered-streamed", get(streamed, "/openapi/v1/regions?scope=private&q=golden"))
			first, body := cached.Do("GET", "/openapi/v1/regions?limit=5&q=golden", tok, "", nil)
			checkGolden(t, who.name+"-page-1", goldenResponse(first, body))
			m := nextLink.FindStringSubmatch(first.Header.Get("Link"))
			if m == nil {
				t.Fatalf("the first page has no next link: %q", first.Header.Get("Link"))
			}
			checkGolden(t, who.name+"-page-2", get(cached, m[1]))
			etag := strings.Split(get(cached, "/openapi/v1/regions"), "\n")
			var tag string
			for _, line := range etag {
				if v, ok := strings.CutPrefix(line, "Etag: "); ok {
					tag = v
				}
			}
			checkGolden(t, who.name+"-bare-not-modified", get(cached, "/openapi/v1/regions", "If-None-Match", tag))
		}
	})
}
