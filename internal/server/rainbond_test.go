package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

// Rainbond's own models, as its generated Go SDK (OpenapiRegionApi, generated from the console's
// openapi.yaml) declares them, with its JSON tags. Only the members Rainbond documents.
type (
	// rainbondAddRegionRequest is the create body: status an integer, omitted when 0, as are
	// desc, scope and the TLS members when empty; wsurl, httpdomain and tcpdomain always sent.
	rainbondAddRegionRequest struct {
		CertFile    string `json:"cert_file,omitempty"`
		Desc        string `json:"desc,omitempty"`
		Httpdomain  string `json:"httpdomain"`
		KeyFile     string `json:"key_file,omitempty"`
		RegionAlias string `json:"region_alias"`
		RegionName  string `json:"region_name"`
		Scope       string `json:"scope,omitempty"`
		SslCaCert   string `json:"ssl_ca_cert,omitempty"`
		Status      int32  `json:"status,omitempty"`
		Tcpdomain   string `json:"tcpdomain"`
		Url         string `json:"url"`
		Wsurl       string `json:"wsurl"`
	}
	// rainbondRegionInfo is what create and the plain detail answer (RegionInfo).
	rainbondRegionInfo struct {
		RegionId    string  `json:"region_id"`
		RegionName  string  `json:"region_name"`
		RegionAlias string  `json:"region_alias"`
		Url         string  `json:"url"`
		Token       *string `json:"token,omitempty"`
		Wsurl       string  `json:"wsurl"`
		Httpdomain  string  `json:"httpdomain"`
		Tcpdomain   string  `json:"tcpdomain"`
		Scope       string  `json:"scope,omitempty"`
		SslCaCert   *string `json:"ssl_ca_cert,omitempty"`
		CertFile    *string `json:"cert_file,omitempty"`
		KeyFile     *string `json:"key_file,omitempty"`
		Status      string  `json:"status"`
		Desc        string  `json:"desc,omitempty"`
	}
	// rainbondRegionInfoResp is an item of the list (the seed's RegionInfoResp).
	rainbondRegionInfoResp struct {
		RegionId    string  `json:"region_id"`
		RegionName  string  `json:"region_name"`
		RegionAlias string  `json:"region_alias"`
		Url         string  `json:"url"`
		Wsurl       string  `json:"wsurl"`
		Httpdomain  string  `json:"httpdomain"`
		Tcpdomain   string  `json:"tcpdomain"`
		Status      string  `json:"status"`
		Desc        string  `json:"desc"`
		Scope       string  `json:"scope"`
		SslCaCert   *string `json:"ssl_ca_cert"`
		CertFile    *string `json:"cert_file"`
		KeyFile     *string `json:"key_file"`
	}
	// rainbondRegionInfoR is the detail with extend_info=true. Rainbond's model lists fewer
	// members than its console sends (no region_id), so it is read leniently.
	rainbondRegionInfoR struct {
		CertFile     string  `json:"cert_file"`
		Desc         string  `json:"desc"`
		HealthStatus string  `json:"health_status,omitempty"`
		Httpdomain   string  `json:"httpdomain"`
		KeyFile      string  `json:"key_file"`
		RegionAlias  string  `json:"region_alias"`
		RegionName   string  `json:"region_name"`
		Scope        string  `json:"scope"`
		SslCaCert    string  `json:"ssl_ca_cert"`
		Status       string  `json:"status,omitempty"`
		Tcpdomain    string  `json:"tcpdomain"`
		TotalCpu     float32 `json:"total_cpu,omitempty"`
		TotalDisk    float32 `json:"total_disk,omitempty"`
		TotalMemory  float32 `json:"total_memory,omitempty"`
		Url          string  `json:"url"`
		UsedCpu      float32 `json:"used_cpu,omitempty"`
		UsedDisk     float32 `json:"used_disk,omitempty"`
		UsedMemory   float32 `json:"used_memory,omitempty"`
		Wsurl        string  `json:"wsurl"`
	}
)

// rainbondSDK sends requests as Rainbond's generated Go SDK does: the bare token in
// Authorization, JSON bodies encoded from its models, its Accept and User-Agent.
type rainbondSDK struct {
	t   *testing.T
	e   *apitest.Env
	tok string
}

func (c rainbondSDK) do(method, path string, body any) (*http.Response, []byte) {
	c.t.Helper()
	var raw []byte
	contentType := ""
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
		contentType = "application/json"
	}
	return c.e.Do(method, "/openapi/v1"+path, c.tok, contentType, raw, "Accept", "application/json", "User-Agent", "OpenAPI-Generator/1.0.0/go")
}

// decode reads body into v as Rainbond's SDK would, refusing members the model does not know
// when strict (the model is complete for what regiond sends).
func decode(t *testing.T, body []byte, v any, strict bool) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	if strict {
		d.DisallowUnknownFields()
	}
	if err := d.Decode(v); err != nil {
		t.Fatalf("Rainbond's model cannot read %s: %v", body, err)
	}
}

// TestRainbondSDK drives the API as Rainbond's generated Go SDK does and reads every answer into
// Rainbond's own models: create (integer status, empty members omitted), list, the detail by id
// and by name, and extend_info=true.
func TestRainbondSDK(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		sdk := rainbondSDK{t, e, e.Token(t, apitest.Enterprise, token.RegionsRead, token.RegionsWrite)}

		// Create, as RegionsCreate sends it: status 1 an integer, no desc, scope or TLS member.
		resp, body := sdk.do("POST", "/regions", rainbondAddRegionRequest{RegionName: "rainbond-hz", RegionAlias: "Hangzhou",
			Url: "https://region-hz.example.com:8443", Wsurl: "", Httpdomain: "", Tcpdomain: "", Status: 1})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		var hz rainbondRegionInfo
		decode(t, body, &hz, true)
		if hz.Status != "1" || hz.Scope != "private" || hz.Desc != "" || hz.SslCaCert != nil || hz.RegionId == "" {
			t.Fatalf("create answered %s: want status \"1\", scope private (the default), desc \"\", TLS null", body)
		}

		// Status 0 (editing) is omitted by the SDK: the default, "1", applies. 2 and 3 arrive.
		for status, want := range map[int32]string{0: "1", 2: "2", 3: "3"} {
			name := "rainbond-s" + want + string(rune('a'+status))
			resp, body := sdk.do("POST", "/regions", rainbondAddRegionRequest{RegionName: name, RegionAlias: name,
				Url: "https://" + name + ".example.com", Status: status, Desc: "status", Scope: "public"})
			var r rainbondRegionInfo
			if decode(t, body, &r, true); resp.StatusCode != http.StatusCreated || r.Status != want || r.Scope != "public" {
				t.Fatalf("create with status %d: %d %s, want status %q", status, resp.StatusCode, body, want)
			}
		}

		// The list: every item reads into RegionInfoResp.
		resp, body = sdk.do("GET", "/regions", nil)
		var list []rainbondRegionInfoResp
		if decode(t, body, &list, true); resp.StatusCode != http.StatusOK || len(list) != 4 || list[0].RegionName != "rainbond-hz" {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}

		// The detail by id and by name: the same region, the same bytes.
		resp, byID := sdk.do("GET", "/regions/"+hz.RegionId, nil)
		var got rainbondRegionInfo
		if decode(t, byID, &got, true); resp.StatusCode != http.StatusOK || got != hz {
			t.Fatalf("detail by id: %d %s, want %+v", resp.StatusCode, byID, hz)
		}
		tag := resp.Header.Get("ETag")
		resp, byName := sdk.do("GET", "/regions/rainbond-hz", nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(byName, byID) || resp.Header.Get("ETag") != tag {
			t.Fatalf("detail by name: %d %s (ETag %s), want %s (ETag %s)", resp.StatusCode, byName, resp.Header.Get("ETag"), byID, tag)
		}
		// extend_info=false is the plain detail.
		if resp, plain := sdk.do("GET", "/regions/rainbond-hz?extend_info=false", nil); !bytes.Equal(plain, byID) || resp.Header.Get("ETag") != tag {
			t.Fatalf("extend_info=false: %s, want %s", plain, byID)
		}

		// extend_info=true: RegionInfoR, its seven members always present.
		for _, path := range []string{"/regions/" + hz.RegionId + "?extend_info=true", "/regions/rainbond-hz?extend_info=true"} {
			resp, body := sdk.do("GET", path, nil)
			var r rainbondRegionInfoR
			if decode(t, body, &r, false); resp.StatusCode != http.StatusOK || r.RegionName != "rainbond-hz" || r.Status != "1" {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
			}
			var members map[string]json.RawMessage
			decode(t, body, &members, false)
			if len(members) != 20 {
				t.Errorf("%s: %d members, want 20: %s", path, len(members), body)
			}
			switch r.HealthStatus {
			case "unknown": // never probed: no figures
				for _, k := range []string{"total_cpu", "used_cpu", "total_memory", "used_memory", "total_disk", "used_disk"} {
					if string(members[k]) != "null" {
						t.Errorf("%s: never probed, %s is %s, want null", path, k, members[k])
					}
				}
			case "ok", "failure":
			default:
				t.Errorf("%s: health_status %q is none of Rainbond's", path, r.HealthStatus)
			}
			if et := resp.Header.Get("ETag"); et == tag || !strings.HasPrefix(et, strings.TrimSuffix(tag, `"`)+".h") {
				t.Errorf("%s: ETag %s, want the region's %s extended with the probed members' hash", path, et, tag)
			}
		}
	})
}

// TestStatusForms: status is the string "0".."3" or the integer 0..3 on create, replace and
// patch, and answered as the string; anything else is a 400 naming status that changes nothing.
func TestStatusForms(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		raw := func(method, path, body string) (*http.Response, []byte) {
			return e.Do(method, "/openapi/v1"+path, e.Admin, "application/json", []byte(body))
		}
		status := func(body []byte) string {
			var r struct{ Status any }
			json.Unmarshal(body, &r)
			s, _ := r.Status.(string)
			return s
		}
		resp, body := raw("POST", "/regions", `{"region_name":"forms","region_alias":"F","url":"https://f.example.com","status":0}`)
		if resp.StatusCode != http.StatusCreated || status(body) != "0" {
			t.Fatalf("create with 0: %d %s", resp.StatusCode, body)
		}
		var r struct {
			ID string `json:"region_id"`
		}
		json.Unmarshal(body, &r)
		path := "/regions/" + r.ID
		for _, c := range []struct{ method, body, want string }{
			{"PUT", `{"region_name":"forms","region_alias":"F","url":"https://f.example.com","status":3}`, "3"},
			{"PUT", `{"region_name":"forms","region_alias":"F","url":"https://f.example.com","status":"2"}`, "2"},
			{"PATCH", `{"status":1}`, "1"},
			{"PATCH", `{"status":"0"}`, "0"},
			{"PATCH", `{"status":2}`, "2"},
			{"PATCH", `{"status":3.0}`, "3"}, // JSON Schema's integer 3, as 3e0 is
			{"PATCH", `{"status":1e0}`, "1"},
		} {
			if resp, body := raw(c.method, path, c.body); resp.StatusCode != http.StatusOK || status(body) != c.want {
				t.Fatalf("%s %s: %d %s, want status %q", c.method, c.body, resp.StatusCode, body, c.want)
			}
		}
		before := e.Snapshot()
		for _, bad := range []string{`4`, `-1`, `1.5`, `"4"`, `"enabled"`, `" 1"`, `true`, `null`, `"01"`, `[1]`, `3.5e0`, `4e0`, `{}`} {
			for _, req := range [][2]string{
				{"POST", `{"region_name":"forms-bad","region_alias":"F","url":"https://f.example.com","status":` + bad + `}`},
				{"PATCH", `{"status":` + bad + `}`},
			} {
				p := path
				if req[0] == "POST" {
					p = "/regions"
				}
				resp, body := raw(req[0], p, req[1])
				var pr struct {
					Errors []struct{ Field, Message string }
				}
				json.Unmarshal(body, &pr)
				if resp.StatusCode != http.StatusBadRequest || len(pr.Errors) != 1 || pr.Errors[0].Field != "status" ||
					!strings.HasPrefix(pr.Errors[0].Message, `must be one of "0", "1", "2", "3", 0, 1, 2, 3`) && bad != `null` {
					t.Errorf("%s status %s: %d %s, want a 400 naming status", req[0], bad, resp.StatusCode, body)
				}
			}
		}
		if after := e.Snapshot(); after != before {
			t.Errorf("refused requests changed what is stored:\n%s\n%s", before, after)
		}
	})
}

// TestDetailByNameOnly: only the detail read takes a name; writes by name are 404s, and another
// enterprise's region is a 404 by name as by id.
func TestDetailByNameOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := apitest.Start(t, dsn, apitest.Options{})
		resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json",
			[]byte(`{"region_name":"named","region_alias":"N","url":"https://n.example.com"}`))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		if resp, _ := e.Do("HEAD", "/openapi/v1/regions/named", e.Admin, "", nil); resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
			t.Errorf("HEAD by name: %d", resp.StatusCode)
		}
		for _, c := range []struct{ method, body string }{
			{"PUT", `{"region_name":"named","region_alias":"N2","url":"https://n.example.com"}`},
			{"PATCH", `{"desc":"by name"}`},
			{"DELETE", ""},
		} {
			var b []byte
			if c.body != "" {
				b = []byte(c.body)
			}
			if resp, body := e.Do(c.method, "/openapi/v1/regions/named", e.Admin, "application/json", b); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s by name: %d %s, want 404 (writes take the id alone)", c.method, resp.StatusCode, body)
			}
		}
		other := e.Token(t, "e2", token.RegionsRead)
		for _, p := range []string{"/openapi/v1/regions/named", "/openapi/v1/regions/named?extend_info=true", "/openapi/v1/regions/nameless"} {
			if resp, body := e.Do("GET", p, other, "", nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s from another enterprise: %d %s, want 404", p, resp.StatusCode, body)
			}
		}
	})
}
