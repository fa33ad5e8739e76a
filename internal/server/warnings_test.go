package server_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
	"github.com/regiond/regiond/internal/token"
)

// TestCertificateWarnings: a certificate that has expired or is not valid yet is stored, and the
// write's response says so in Warning headers (one per certificate, RFC 7234 as Kubernetes sends
// them), as does the write's audit event. Valid certificates give no warning, and a caller who
// cannot see the TLS fields is not told about them.
func TestCertificateWarnings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		now := time.Now().UTC().Truncate(time.Second)
		expiredAt, validFrom := now.Add(-24*time.Hour), now.Add(24*time.Hour)
		expired, expiredKey := testpki.PairValid(t, "expired.example.com", now.Add(-48*time.Hour), expiredAt)
		notYet, _ := testpki.PairValid(t, "future-ca", validFrom, now.Add(48*time.Hour))
		valid, validKey := testpki.Pair(t, "valid")
		e.Secret(expiredKey)
		e.Secret(validKey)
		expiredWarning := "cert_file: the certificate CN=expired.example.com expired on " + expiredAt.Format(time.RFC3339)
		notYetWarning := "ssl_ca_cert: the certificate CN=future-ca is not valid before " + validFrom.Format(time.RFC3339)
		header := func(text string) string { return `299 - "` + text + `"` }
		body := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }

		resp, created := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", body(map[string]any{
			"region_name": "expired", "region_alias": "E", "url": "https://e.example.com", "cert_file": expired, "key_file": expiredKey}))
		if resp.StatusCode != 201 {
			t.Fatalf("create with an expired certificate: %d %s", resp.StatusCode, created)
		}
		if got := resp.Header.Values("Warning"); !slices.Equal(got, []string{header(expiredWarning)}) {
			t.Fatalf("create: Warning %q, want %q", got, header(expiredWarning))
		}
		var r api.RegionInfoResp
		json.Unmarshal(created, &r)
		id := r.RegionId

		resp, patched := e.Do("PATCH", "/openapi/v1/regions/"+id, e.Admin, "application/merge-patch+json", body(map[string]any{"ssl_ca_cert": notYet}))
		if want := []string{header(notYetWarning), header(expiredWarning)}; resp.StatusCode != 200 || !slices.Equal(resp.Header.Values("Warning"), want) {
			t.Fatalf("patch: %d Warning %q, want %q: %s", resp.StatusCode, resp.Header.Values("Warning"), want, patched)
		}

		// Someone who cannot see the certificates is not told about them.
		rw := e.Token(t, apitest.Enterprise, token.RegionsRead, token.RegionsWrite)
		resp, _ = e.Do("PATCH", "/openapi/v1/regions/"+id, rw, "application/merge-patch+json", []byte(`{"desc":"no secrets"}`))
		if resp.StatusCode != 200 || len(resp.Header.Values("Warning")) != 0 {
			t.Fatalf("patch without regions:secrets: %d Warning %q", resp.StatusCode, resp.Header.Values("Warning"))
		}

		// Valid certificates: no warning, on replace and on create.
		resp, _ = e.Do("PUT", "/openapi/v1/regions/"+id, e.Admin, "application/json", body(map[string]any{
			"region_name": "expired", "region_alias": "E", "url": "https://e.example.com", "ssl_ca_cert": valid, "cert_file": valid, "key_file": validKey}))
		if resp.StatusCode != 200 || len(resp.Header.Values("Warning")) != 0 {
			t.Fatalf("replace with valid certificates: %d Warning %q", resp.StatusCode, resp.Header.Values("Warning"))
		}
		resp, _ = e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", body(map[string]any{
			"region_name": "valid", "region_alias": "V", "url": "https://v.example.com", "ssl_ca_cert": valid}))
		if resp.StatusCode != 201 || len(resp.Header.Values("Warning")) != 0 {
			t.Fatalf("create with a valid certificate: %d Warning %q", resp.StatusCode, resp.Header.Values("Warning"))
		}

		// The audit trail records what each write was warned about, newest first.
		resp, audit := e.Do("GET", "/openapi/v1/audit", e.Admin, "", nil)
		var all []map[string]any
		if err := json.Unmarshal(audit, &all); resp.StatusCode != 200 || err != nil {
			t.Fatalf("audit: %d %v %s", resp.StatusCode, err, audit)
		}
		var events []map[string]any
		for _, ev := range all {
			if ev["target_id"] == id || ev["operation"] == "region.create" {
				events = append(events, ev)
			}
		}
		if len(events) != 5 {
			t.Fatalf("audit: %s", audit)
		}
		wantWarnings := [][]string{nil, nil, nil, {notYetWarning, expiredWarning}, {expiredWarning}} // create valid, replace, patch, patch, create
		for i, want := range wantWarnings {
			var got []string
			if w, ok := events[i]["warnings"]; ok {
				for _, s := range w.([]any) {
					got = append(got, s.(string))
				}
				if len(got) == 0 {
					t.Errorf("audit event %d: an empty warnings member", i)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("audit event %d (%s): warnings %q, want %q", i, events[i]["operation"], got, want)
			}
		}
	})
}
