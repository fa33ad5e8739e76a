package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/rbdapi"
	"github.com/regiond/regiond/internal/token"
)

// createProbed creates a region with this url and TLS material and returns its id.
func createProbed(t *testing.T, e *apitest.Env, name, url string, p *rbdapi.PKI) string {
	t.Helper()
	body := map[string]any{"region_name": name, "region_alias": name, "url": url}
	if p != nil {
		body["ssl_ca_cert"], body["cert_file"], body["key_file"] = p.ServerCA.CertPEM, p.Client.CertPEM, p.Client.KeyPEM
	}
	b, _ := json.Marshal(body)
	resp, out := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json", b)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s: %d %s", name, resp.StatusCode, out)
	}
	var r api.RegionInfoResp
	json.Unmarshal(out, &r)
	return r.RegionId
}

// health calls GET or POST .../health with tok and decodes a 200.
func health(t *testing.T, e *apitest.Env, method, id, tok string, want int) api.RegionHealth {
	t.Helper()
	resp, body := e.Do(method, "/openapi/v1/regions/"+id+"/health", tok, "", nil)
	if resp.StatusCode != want {
		t.Fatalf("%s health of %s: %d, want %d: %s", method, id, resp.StatusCode, want, body)
	}
	var h api.RegionHealth
	if want == http.StatusOK {
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// TestRegionHealthAPI: through POST .../health, a healthy mTLS region, a closed port, a 500 and
// a denied address give their exact state and reason, stored for GET; a region never probed is
// unknown; certificates come from the stored material; another enterprise's region is 404; the
// scopes hold; the list stays Rainbond's 13 members; the metrics carry every probed region and
// drop a deleted one.
func TestRegionHealthAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{Server: func(c *server.Config) { c.ProbeDenyCIDRs = "none" }})
		pki := rbdapi.NewPKI(t)
		good := rbdapi.Start(t, pki)
		failing := rbdapi.StartPlain(t)
		failing.Status.Store(http.StatusInternalServerError)

		healthyID := createProbed(t, e, "health-mtls", good.URL, &pki)
		h := health(t, e, "GET", healthyID, e.Admin, http.StatusOK)
		if h.State != api.HealthStateUnknown || !h.Reason.IsNull() || !h.CheckedAt.IsNull() || h.ConsecutiveFailures != 0 ||
			len(h.Certificates) != 2 || h.CertificatesExpiring {
			t.Fatalf("never probed: %+v", h)
		}
		h = health(t, e, "POST", healthyID, e.Admin, http.StatusOK)
		if h.State != api.HealthStateHealthy || !h.Reason.IsNull() || h.Version.MustGet() != "v5.17.3-release" || h.CheckedAt.IsNull() ||
			h.LastHealthyAt.IsNull() || good.Probes.Load() != 1 {
			t.Fatalf("healthy mTLS region: %+v (probes %d)", h, good.Probes.Load())
		}
		if c := h.Certificates; c[0].Field != api.CertificateFieldSSLCACert || c[1].Field != api.CertificateFieldCertFile ||
			c[1].Subject != "CN=regiond" || c[1].ExpiresInDays < 88 || c[1].ExpiresInDays > 90 || c[1].ExpiringSoon {
			t.Fatalf("certificates: %+v", c)
		}
		if got := health(t, e, "GET", healthyID, e.Admin, http.StatusOK); got.CheckedAt.MustGet() != h.CheckedAt.MustGet() || got.State != h.State {
			t.Fatalf("GET after POST: %+v, want %+v", got, h)
		}
		// Rainbond's extend_info reads the same stored health: "ok", and the cluster's resources.
		resp, body := e.Do("GET", "/openapi/v1/regions/"+healthyID+"?extend_info=true", e.Admin, "", nil)
		var ext map[string]any
		if err := json.Unmarshal(body, &ext); err != nil || resp.StatusCode != http.StatusOK || ext["health_status"] != "ok" || ext["total_cpu"] != 24.0 {
			t.Fatalf("extend_info after a healthy probe: %d %s", resp.StatusCode, body)
		}

		for _, c := range []struct {
			name, url string
			reason    api.RegionHealthReason
		}{
			{"health-closed", rbdapi.ClosedURL(t, "http"), api.ReasonRefused},
			{"health-500", failing.URL, api.ReasonHTTPStatus},
		} {
			id := createProbed(t, e, c.name, c.url, nil)
			h := health(t, e, "POST", id, e.Admin, http.StatusOK)
			if h.State != api.HealthStateUnhealthy || h.Reason.MustGet() != c.reason || h.ConsecutiveFailures != 1 || !h.LastHealthyAt.IsNull() {
				t.Fatalf("%s: %+v", c.name, h)
			}
			if c.reason == api.ReasonHTTPStatus && !strings.Contains(h.Detail, "500") {
				t.Fatalf("%s: detail %q", c.name, h.Detail)
			}
		}

		reader := e.Token(t, apitest.Enterprise, token.RegionsRead)
		health(t, e, "GET", healthyID, reader, http.StatusOK)
		health(t, e, "POST", healthyID, reader, http.StatusForbidden)
		health(t, e, "GET", healthyID, "", http.StatusUnauthorized)
		other := e.Token(t, "e2", token.AllScopes...)
		health(t, e, "GET", healthyID, other, http.StatusNotFound)
		health(t, e, "POST", healthyID, other, http.StatusNotFound)
		health(t, e, "GET", "00000000-0000-4000-8000-000000000000", e.Admin, http.StatusNotFound)
		if n := good.Probes.Load(); n != 1 {
			t.Fatalf("refused requests probed the region: %d probes", n)
		}

		resp, body = e.Do("GET", "/openapi/v1/regions", e.Admin, "", nil)
		var list []map[string]any
		if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list) != 3 || len(list[0]) != 13 {
			t.Fatalf("the list: %d regions, %d members: %s", len(list), len(list[0]), body)
		}

		metrics := func() string {
			_, b := e.Do("GET", "/metrics", "", "", nil)
			return string(b)
		}
		m := metrics()
		for _, want := range []string{`regiond_region_up{region_id="` + healthyID + `"} 1`,
			`regiond_region_certificate_expiry_timestamp_seconds{field="cert_file",region_id="` + healthyID + `"}`,
			`regiond_region_probe_duration_seconds{region_id="` + healthyID + `"}`} {
			if !strings.Contains(m, want) {
				t.Fatalf("metrics lack %s:\n%s", want, m)
			}
		}
		if strings.Count(m, "regiond_region_up{") != 3 {
			t.Fatalf("want 3 regiond_region_up series:\n%s", m)
		}
		if resp, _ := e.Do("DELETE", "/openapi/v1/regions/"+healthyID, e.Admin, "", nil); resp.StatusCode != http.StatusNoContent {
			t.Fatal(resp.Status)
		}
		if m := metrics(); strings.Contains(m, healthyID) {
			t.Fatalf("a deleted region's series remain:\n%s", m)
		}
	})
}

// TestRegionHealthDenied: with the default --probe-deny-cidrs, a region whose url is on
// loopback is never connected to: its reason is denied.
func TestRegionHealthDenied(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		r := rbdapi.StartPlain(t)
		id := createProbed(t, e, "health-denied", r.URL, nil)
		h := health(t, e, "POST", id, e.Admin, http.StatusOK)
		if h.State != api.HealthStateUnhealthy || h.Reason.MustGet() != api.ReasonDenied || r.Probes.Load() != 0 {
			t.Fatalf("denied: %+v, %d requests reached the region", h, r.Probes.Load())
		}
		// A name that resolves to a denied address is refused too: localhost.
		id = createProbed(t, e, "health-denied-name", strings.Replace(r.URL, "127.0.0.1", "localhost", 1), nil)
		if h := health(t, e, "POST", id, e.Admin, http.StatusOK); h.Reason.MustGet() != api.ReasonDenied || r.Probes.Load() != 0 {
			t.Fatalf("a name resolving to loopback: %+v", h)
		}
	})
}
