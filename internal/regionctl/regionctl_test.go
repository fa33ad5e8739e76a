package regionctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/regionctl"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
	"github.com/regiond/regiond/internal/token"
)

// harness runs regionctl in-process against a real server.
type harness struct {
	t   *testing.T
	e   *apitest.Env
	env map[string]string
	// secrets must never appear in regionctl's output.
	secrets []string
}

func start(t *testing.T, opts apitest.Options) *harness {
	t.Helper()
	return startOn(t, dbtest.SQLite(t), opts)
}

// startOn is start over the database dsn.
func startOn(t *testing.T, dsn string, opts apitest.Options) *harness {
	t.Helper()
	e := apitest.Start(t, dsn, opts)
	return &harness{t: t, e: e, secrets: []string{e.Admin}, env: map[string]string{
		"REGIOND_URL":   e.URL,
		"REGIOND_TOKEN": e.Admin,
		"HOME":          t.TempDir(), // no config file unless a test writes one
	}}
}

type result struct {
	code           int
	stdout, stderr string
}

func (h *harness) run(args ...string) result { return h.runIn("", args...) }

// runIn runs regionctl with stdin and checks that no token leaked into its output.
func (h *harness) runIn(stdin string, args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	code := regionctl.Main(args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return h.env[k] })
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	for _, s := range h.secrets {
		if s != "" && strings.Contains(r.stdout+r.stderr, s) {
			h.t.Fatalf("regionctl %s printed a token:\n%s%s", strings.Join(args, " "), r.stdout, r.stderr)
		}
	}
	return r
}

// ok runs regionctl and fails the test unless it exits 0.
func (h *harness) ok(args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != 0 {
		h.t.Fatalf("regionctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs regionctl, wants exit code, and wants stderr to contain every one of want.
func (h *harness) fails(code int, want []string, args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != code {
		h.t.Fatalf("regionctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			h.t.Fatalf("regionctl %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, r.stderr)
		}
	}
	return r
}

func (h *harness) file(name, content string) string {
	h.t.Helper()
	p := filepath.Join(h.t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// create makes a region through the API (not through regionctl) and returns its id.
func (h *harness) create(name string, status api.RegionStatus, scope api.RegionScope) string {
	h.t.Helper()
	resp, err := h.e.Client(h.e.Admin).CreateRegionWithResponse(context.Background(), api.RegionCreate{
		RegionName: name, RegionAlias: strings.ToUpper(name), Url: "https://" + name + ".example.com:8443", Status: apitest.Status(status), Scope: &scope,
	})
	if err != nil || resp.StatusCode() != http.StatusCreated {
		h.t.Fatalf("create %s: %v %s", name, err, resp.Body)
	}
	return resp.JSON201.RegionId
}

// apiJSON is a region as the server represents it to the admin.
func (h *harness) apiJSON(id string) (map[string]any, string) {
	h.t.Helper()
	resp, err := h.e.Client(h.e.Admin).GetRegionWithResponse(context.Background(), id, nil)
	if err != nil || resp.StatusCode() != http.StatusOK {
		h.t.Fatalf("get %s: %v %d", id, err, resp.StatusCode())
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		h.t.Fatal(err)
	}
	return m, resp.HTTPResponse.Header.Get("ETag")
}

// tableRows splits table output into rows of cells; the first row is the header.
func tableRows(t *testing.T, out string) [][]string {
	t.Helper()
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1))
	}
	if len(rows) == 0 || !reflect.DeepEqual(rows[0], []string{"REGION_ID", "NAME", "ALIAS", "STATUS", "SCOPE", "URL"}) {
		t.Fatalf("table header: %q", out)
	}
	return rows
}

// names is the NAME column of table output.
func names(t *testing.T, out string) []string {
	t.Helper()
	var n []string
	for _, row := range tableRows(t, out)[1:] {
		n = append(n, row[1])
	}
	return n
}

func TestCreateGetSetStatusDelete(t *testing.T) {
	h := start(t, apitest.Options{})

	// create from a YAML file: a table of the created region.
	yamlFile := h.file("hz.yaml", `# the Hangzhou cluster
region_name: rainbond-hz
region_alias: Hangzhou
url: https://region-hz.example.com:8443
wsurl: wss://region-hz.example.com:6060
httpdomain: apps-hz.example.com
tcpdomain: 10.0.3.17
status: 3 # every field is a string: this is "3"
desc: |
  Hangzhou production cluster
  (two lines)
scope: public
`)
	rows := tableRows(t, h.ok("create", "-f", yamlFile).stdout)
	if len(rows) != 2 {
		t.Fatalf("create printed %d rows", len(rows))
	}
	id := rows[1][0]
	if want := []string{id, "rainbond-hz", "Hangzhou", "3 maintenance", "public", "https://region-hz.example.com:8443"}; !reflect.DeepEqual(rows[1], want) {
		t.Fatalf("create row %q, want %q", rows[1], want)
	}
	stored, etag := h.apiJSON(id)
	if stored["desc"] != "Hangzhou production cluster\n(two lines)\n" || stored["tcpdomain"] != "10.0.3.17" || stored["status"] != "3" {
		t.Fatalf("stored from YAML: %v", stored)
	}

	// create from JSON on stdin, region_id (as get prints it) ignored; -o json prints the API's JSON.
	r := h.runIn(`{"region_id":"ignored","region_name":"rainbond-bj","region_alias":"Beijing","url":"https://region-bj.example.com"}`,
		"create", "-f", "-", "-o", "json")
	if r.code != 0 {
		t.Fatalf("create from stdin: %d %s", r.code, r.stderr)
	}
	var bj map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &bj); err != nil {
		t.Fatalf("create -o json is not JSON: %v\n%s", err, r.stdout)
	}
	if apiBJ, _ := h.apiJSON(bj["region_id"].(string)); !reflect.DeepEqual(bj, apiBJ) {
		t.Fatalf("create -o json %v, the API says %v", bj, apiBJ)
	}

	// get in every format, each the API's representation; the ETag goes to stderr.
	got := h.ok("get", id)
	if rows := tableRows(t, got.stdout); len(rows) != 2 || rows[1][0] != id || rows[1][3] != "3 maintenance" {
		t.Fatalf("get table: %q", got.stdout)
	}
	if !strings.Contains(got.stderr, "ETag: "+etag) {
		t.Fatalf("get stderr %q lacks ETag %s", got.stderr, etag)
	}
	var fromJSON map[string]any
	if err := json.Unmarshal([]byte(h.ok("get", id, "-o", "json").stdout), &fromJSON); err != nil || !reflect.DeepEqual(fromJSON, stored) {
		t.Fatalf("get -o json: %v %v, want %v", err, fromJSON, stored)
	}
	yamlOut := h.ok("get", id, "-o", "yaml").stdout
	var fromYAML map[string]any
	if err := yaml.Unmarshal([]byte(yamlOut), &fromYAML); err != nil || !reflect.DeepEqual(fromYAML, stored) {
		t.Fatalf("get -o yaml: %v\n%s\nwant %v", err, yamlOut, stored)
	}
	if !strings.Contains(yamlOut, `status: "3"`) || !strings.Contains(yamlOut, "ssl_ca_cert: null") {
		t.Fatalf("YAML must keep status a string and TLS fields null:\n%s", yamlOut)
	}

	// set-status by number and by name, via PATCH: only the status changes.
	if rows := tableRows(t, h.ok("set-status", id, "2").stdout); rows[1][3] != "2 disabled" {
		t.Fatalf("set-status 2: %q", rows[1])
	}
	h.ok("set-status", id, "Enabled", "-o", "json")
	after, _ := h.apiJSON(id)
	stored["status"] = "1"
	if !reflect.DeepEqual(after, stored) {
		t.Fatalf("set-status changed more than the status: %v, want %v", after, stored)
	}
	h.fails(2, []string{`invalid status "paused"`}, "set-status", id, "paused")
	h.fails(2, []string{`invalid status "4"`}, "set-status", id, "4")

	// delete.
	if out := h.ok("delete", id).stdout; out != "region "+id+" deleted\n" {
		t.Fatalf("delete printed %q", out)
	}
	h.fails(1, []string{"404 Not found: region " + id + " does not exist", "request id "}, "get", id)
}

func TestListFormatsAndFilters(t *testing.T) {
	h := start(t, apitest.Options{})
	h.create("r-a", api.RegionStatusEnabled, api.RegionScopePrivate)
	h.create("r-b", api.RegionStatusDisabled, api.RegionScopePublic)
	h.create("r-c", api.RegionStatusMaintenance, api.RegionScopePublic)
	h.create("x-d", api.RegionStatusEditing, api.RegionScopePrivate)

	list := h.ok("list")
	rows := tableRows(t, list.stdout)
	if got := names(t, list.stdout); !reflect.DeepEqual(got, []string{"r-a", "r-b", "r-c", "x-d"}) {
		t.Fatalf("list names %q", got)
	}
	if rows[2][2] != "R-B" || rows[2][3] != "2 disabled" || rows[2][4] != "public" || rows[2][5] != "https://r-b.example.com:8443" {
		t.Fatalf("list row %q", rows[2])
	}
	if list.stderr != "" {
		t.Fatalf("an unpaged list printed %q on stderr", list.stderr)
	}

	// -o json and -o yaml are the API's list exactly.
	resp, err := h.e.Client(h.e.Admin).ListRegionsWithResponse(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []any
	json.Unmarshal(resp.Body, &want)
	var fromJSON, fromYAML []any
	if err := json.Unmarshal([]byte(h.ok("list", "-o", "json").stdout), &fromJSON); err != nil || !reflect.DeepEqual(fromJSON, want) {
		t.Fatalf("list -o json: %v %v", err, fromJSON)
	}
	if err := yaml.Unmarshal([]byte(h.ok("list", "-o", "yaml").stdout), &fromYAML); err != nil || !reflect.DeepEqual(fromYAML, want) {
		t.Fatalf("list -o yaml: %v %v", err, fromYAML)
	}
	h.fails(2, []string{"--output"}, "list", "-o", "xml")

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--status", "1,3"}, []string{"r-a", "r-c"}},
		{[]string{"--status", "enabled", "--status", "maintenance"}, []string{"r-a", "r-c"}},
		{[]string{"--status", "0"}, []string{"x-d"}},
		{[]string{"--scope", "public"}, []string{"r-b", "r-c"}},
		{[]string{"--scope", "public", "--status", "2"}, []string{"r-b"}},
		{[]string{"--q", "R-"}, []string{"r-a", "r-b", "r-c"}},
		{[]string{"--q", "nothing"}, nil},
	} {
		out := h.ok(append([]string{"list"}, tc.args...)...)
		if got := names(t, out.stdout); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("list %v: %q, want %q", tc.args, got, tc.want)
		}
		if tc.want == nil && out.stderr != "no regions\n" {
			t.Errorf("an empty list says %q on stderr", out.stderr)
		}
	}
	h.fails(2, []string{`invalid status "5"`}, "list", "--status", "1,5")
	h.fails(2, []string{"--scope must be private or public"}, "list", "--scope", "shared")
	// The server's own checks come back as its problem.
	h.fails(1, []string{"400 Invalid request", "limit: number must be at most 1000"}, "list", "--limit", "5000")
}

func TestListPaging(t *testing.T) {
	// Under a base path, so that the Link the server sends must be resolved against it.
	h := start(t, apitest.Options{Server: func(c *server.Config) { c.BasePath = "/regiond" }})
	var all []string
	for i := 1; i <= 7; i++ {
		name := fmt.Sprintf("region-%d", i)
		h.create(name, api.RegionStatusEnabled, api.RegionScopePrivate)
		all = append(all, name)
	}

	first := h.ok("list", "--limit", "3")
	if got := names(t, first.stdout); !reflect.DeepEqual(got, all[:3]) {
		t.Fatalf("page 1: %q", got)
	}
	m := regexp.MustCompile(`--page-token (\S+)`).FindStringSubmatch(first.stderr)
	if m == nil {
		t.Fatalf("page 1 did not print the next page token on stderr: %q", first.stderr)
	}
	second := h.ok("list", "--limit", "3", "--page-token", m[1])
	if got := names(t, second.stdout); !reflect.DeepEqual(got, all[3:6]) {
		t.Fatalf("page 2: %q", got)
	}
	m = regexp.MustCompile(`--page-token (\S+)`).FindStringSubmatch(second.stderr)
	last := h.ok("list", "--limit", "3", "--page-token", m[1])
	if got := names(t, last.stdout); !reflect.DeepEqual(got, all[6:]) || last.stderr != "" {
		t.Fatalf("page 3: %q, stderr %q", got, last.stderr)
	}

	// --all follows the Link headers: seven regions in three requests of three.
	var fromJSON []api.RegionInfoResp
	allJSON := h.ok("list", "--limit", "3", "--all", "-o", "json")
	if err := json.Unmarshal([]byte(allJSON.stdout), &fromJSON); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range fromJSON {
		got = append(got, r.RegionName)
	}
	if !reflect.DeepEqual(got, all) || allJSON.stderr != "" {
		t.Fatalf("--all: %q, stderr %q", got, allJSON.stderr)
	}
	if got := names(t, h.ok("list", "--limit", "2", "--all", "--q", "region-").stdout); !reflect.DeepEqual(got, all) {
		t.Fatalf("--all with a filter: %q", got)
	}
	// A page token made for other filters is refused by the server, with its reason.
	h.fails(1, []string{"400 Invalid request", "page_token: "}, "list", "--limit", "3", "--page-token", m[1], "--scope", "public")
}

func TestApply(t *testing.T) {
	h := start(t, apitest.Options{})
	region := `region_name: rainbond-sh
region_alias: Shanghai
url: https://region-sh.example.com
status: "0"
`
	file := h.file("sh.yaml", region)
	out := h.ok("apply", "-f", file).stdout
	m := regexp.MustCompile(`^region rainbond-sh created \((\S+)\)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("first apply: %q", out)
	}
	id := m[1]
	stored, etag := h.apiJSON(id)
	if stored["region_alias"] != "Shanghai" || stored["status"] != "0" || stored["scope"] != "private" {
		t.Fatalf("created: %v", stored)
	}

	// The same file again: nothing to do, nothing written.
	if out := h.ok("apply", "-f", file).stdout; out != "region rainbond-sh unchanged ("+id+")\n" {
		t.Fatalf("second apply: %q", out)
	}
	if _, now := h.apiJSON(id); now != etag {
		t.Fatalf("an unchanged apply wrote: ETag %s -> %s", etag, now)
	}

	// What get -o yaml prints (region_id, nulls, defaults spelt out) applies as unchanged.
	dumped := h.file("dump.yaml", h.ok("get", id, "-o", "yaml").stdout)
	if out := h.ok("apply", "-f", dumped).stdout; out != "region rainbond-sh unchanged ("+id+")\n" {
		t.Fatalf("apply of get's output: %q", out)
	}

	// A change: the region is replaced (PUT) to match the file; JSON on stdin works too.
	r := h.runIn(`{"region_name":"rainbond-sh","region_alias":"Shanghai 2","url":"https://region-sh.example.com","status":"1","desc":"moved"}`, "apply", "-f", "-")
	if r.code != 0 || r.stdout != "region rainbond-sh updated ("+id+")\n" {
		t.Fatalf("apply of a change: %d %q %q", r.code, r.stdout, r.stderr)
	}
	stored, _ = h.apiJSON(id)
	if stored["region_alias"] != "Shanghai 2" || stored["status"] != "1" || stored["desc"] != "moved" {
		t.Fatalf("after update: %v", stored)
	}
	// The file is the whole region: desc left out goes back to "".
	if out := h.ok("apply", "-f", file).stdout; out != "region rainbond-sh updated ("+id+")\n" {
		t.Fatalf("apply back: %q", out)
	}
	if stored, _ = h.apiJSON(id); stored["desc"] != "" || stored["status"] != "0" {
		t.Fatalf("after apply back: %v", stored)
	}

	// A file that does not match the schema is refused before anything is sent.
	before := h.e.Snapshot()
	bad := h.file("bad.yaml", "region_name: rainbond-sh\nregion_alias: Shanghai\nurl: [https://x.example.com]\nowner: me\n")
	h.fails(1, []string{"is not a valid region", "owner: is not a known field", "url: value must be a string"}, "apply", "-f", bad)
	// The server's own rules come back as its problem.
	badURL := h.file("url.yaml", "region_name: rainbond-sh\nregion_alias: Shanghai\nurl: ftp://x.example.com\n")
	h.fails(1, []string{"422 Unprocessable request", "url: must be an absolute http or https URL with a host"}, "apply", "-f", badURL)
	if h.e.Snapshot() != before {
		t.Fatal("a refused apply changed the database")
	}
	h.fails(1, []string{"two.yaml: holds more than one YAML document"}, "apply", "-f", h.file("two.yaml", region+"---\n"+region))
	h.fails(2, []string{"no such file"}, "apply", "-f", filepath.Join(t.TempDir(), "missing.yaml")) // a bad command line
}

// TestApplyConflict changes the region between apply's read and its write, through a proxy that
// lets another client write first: the PUT must fail with 412 and the other change must survive.
func TestApplyConflict(t *testing.T) {
	h := start(t, apitest.Options{})
	id := h.create("rainbond-gz", api.RegionStatusEnabled, api.RegionScopePrivate)
	target, _ := url.Parse(h.e.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var raced atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && !raced.Swap(true) {
			desc := "changed by someone else"
			resp, err := h.e.Client(h.e.Admin).UpdateRegionWithApplicationMergePatchPlusJSONBodyWithResponse(context.Background(), id, nil, api.RegionPatch{Desc: &desc})
			if err != nil || resp.StatusCode() != http.StatusOK {
				t.Errorf("concurrent patch: %v %d", err, resp.StatusCode())
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	h.env["REGIOND_URL"] = front.URL

	file := h.file("gz.yaml", "region_name: rainbond-gz\nregion_alias: Guangzhou\nurl: https://rainbond-gz.example.com:8443\n")
	h.fails(1, []string{"412 Precondition failed", "region rainbond-gz was changed by someone else while apply ran; nothing was written"}, "apply", "-f", file)
	if !raced.Load() {
		t.Fatal("apply sent no PUT")
	}
	stored, _ := h.apiJSON(id)
	if stored["desc"] != "changed by someone else" || stored["region_alias"] != "RAINBOND-GZ" {
		t.Fatalf("the concurrent change was lost: %v", stored)
	}
	// Run again, it applies over the new state.
	if out := h.ok("apply", "-f", file).stdout; out != "region rainbond-gz updated ("+id+")\n" {
		t.Fatalf("apply after the conflict: %q", out)
	}
}

func TestDeleteIfMatch(t *testing.T) {
	h := start(t, apitest.Options{})
	id := h.create("rainbond-cd", api.RegionStatusEnabled, api.RegionScopePrivate)
	_, stale := h.apiJSON(id)
	h.ok("set-status", id, "maintenance", "--if-match", stale)

	h.fails(1, []string{"412 Precondition failed: the region changed since it was read"}, "delete", id, "--if-match", stale)
	h.fails(1, []string{"412 Precondition failed"}, "set-status", id, "1", "--if-match", stale)
	_, current := h.apiJSON(id)
	// The shell eats the quotes of an ETag typed as it is printed ("r2s"): they are put back.
	h.ok("delete", id, "--if-match", strings.Trim(current, `"`))
	h.fails(1, []string{"404 Not found"}, "delete", id)
}

func TestProblemErrors(t *testing.T) {
	h := start(t, apitest.Options{})
	h.create("rainbond-wh", api.RegionStatusEnabled, api.RegionScopePrivate)

	dup := h.file("dup.json", `{"region_name":"rainbond-wh","region_alias":"Wuhan","url":"https://wh.example.com"}`)
	r := h.fails(1, []string{"409 Conflict", "\n  region_name: a region with this name already exists"}, "create", "-f", dup)
	if !regexp.MustCompile(`\(request id [0-9a-f]+\)`).MatchString(r.stderr) {
		t.Fatalf("no request id: %q", r.stderr)
	}
	badURL := h.file("url.json", `{"region_name":"rainbond-xa","region_alias":"Xian","url":"ftp://xa.example.com","tcpdomain":"not a host"}`)
	h.fails(1, []string{"422 Unprocessable request", "\n  url: must be an absolute http or https URL with a host", "\n  tcpdomain: must be a host name"}, "create", "-f", badURL)
	bad := h.file("bad.json", `{"region_name":"Bad_Name","region_alias":"x","url":"https://x.example.com"}`)
	h.fails(1, []string{"400 Invalid request", "\n  region_name: string doesn't match the regular expression"}, "create", "-f", bad)

	wrong := "rgd_not_a_real_token_0123456789abcdefghij"
	h.secrets = append(h.secrets, wrong)
	h.env["REGIOND_TOKEN"] = wrong
	r = h.fails(1, []string{"401 Unauthorized: "}, "list")
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("a problem without fields should be one line: %q", r.stderr)
	}

	h.env["REGIOND_TOKEN"] = h.e.Token(t, apitest.Enterprise, token.RegionsRead)
	h.secrets = append(h.secrets, h.env["REGIOND_TOKEN"])
	h.fails(1, []string{"403 Forbidden: this operation needs the regions:write scope"}, "create", "-f", dup)
}

func TestConnectionFailure(t *testing.T) {
	h := start(t, apitest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	h.env["REGIOND_URL"] = dead
	h.fails(1, []string{"cannot reach the server at " + dead + " (from REGIOND_URL)", "connection refused"}, "list")
	// A password in the URL is not printed either.
	h.fails(1, []string{"cannot reach the server at http://user:xxxxx@" + ln.Addr().String()}, "--server", "http://user:hunter2@"+ln.Addr().String(), "get", "x")
	h.fails(2, []string{"--server: must be an http or https URL"}, "--server", "ftp://example.com", "list")
}

func TestUsage(t *testing.T) {
	h := start(t, apitest.Options{})
	h.fails(2, nil)
	h.fails(2, []string{"unexpected argument"}, "frobnicate")
	h.fails(2, []string{"missing flags: --file=FILE"}, "create")
	missing := filepath.Join(t.TempDir(), "region.yaml")
	h.fails(2, []string{"open " + missing + ": no such file or directory"}, "create", "-f", missing)
	h.fails(2, []string{"open " + missing + ": no such file or directory"}, "apply", "-f", missing)
	if r := h.ok("--version"); !regexp.MustCompile(`^regionctl \S+ \(openapi\.yaml 1\.\d+\.\d+\)\n$`).MatchString(r.stdout) {
		t.Fatalf("--version: %q", r.stdout)
	}
	h.fails(2, []string{"expected \"<region-id>\""}, "get")
	if r := h.ok("--help"); !strings.Contains(r.stdout, "set-status <region-id> <status>") {
		t.Fatalf("--help: %q", r.stdout)
	}
	delete(h.env, "REGIOND_URL")
	h.fails(2, []string{"no server: give --server, set REGIOND_URL, or put server: in " + filepath.Join(h.env["HOME"], ".config/regionctl/config.yaml")}, "list")
}

// TestCertificateWarnings: regionctl prints on stderr, as kubectl does, each warning a write's
// response carries (a certificate that has expired or is not valid yet), for every command that
// writes; get says it too, computed from the certificates it received. Valid certificates: no
// warning. On both backends.
func TestCertificateWarnings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := startOn(t, dsn, apitest.Options{})
		now := time.Now().UTC().Truncate(time.Second)
		expiredAt := now.Add(-time.Hour)
		// The subject's quotes and backslash travel escaped in the header and come out whole.
		cert, key := testpki.PairValid(t, `rc "edge" \ ca`, now.Add(-48*time.Hour), expiredAt)
		h.secrets = append(h.secrets, key)
		warning := `Warning: cert_file: the certificate CN=rc \"edge\" \\ ca expired on ` + expiredAt.Format(time.RFC3339) + "\n"
		file := func(desc, cert, key string) string {
			b, _ := json.Marshal(map[string]string{"region_name": "rainbond-tls", "region_alias": "TLS", "url": "https://tls.example.com",
				"desc": desc, "cert_file": cert, "key_file": key})
			return h.file("tls.json", string(b))
		}

		r := h.ok("create", "-f", file("first", cert, key), "-o", "json")
		if r.stderr != warning {
			t.Fatalf("create: stderr %q, want %q", r.stderr, warning)
		}
		var created map[string]any
		json.Unmarshal([]byte(r.stdout), &created)
		id := created["region_id"].(string)
		if r := h.ok("get", id); !strings.HasPrefix(r.stderr, warning) {
			t.Fatalf("get: stderr %q, want it to start with %q", r.stderr, warning)
		}
		if r := h.ok("set-status", id, "2"); r.stderr != warning {
			t.Fatalf("set-status: stderr %q, want %q", r.stderr, warning)
		}
		if r := h.ok("apply", "-f", file("second", cert, key)); r.stderr != warning {
			t.Fatalf("apply: stderr %q, want %q", r.stderr, warning)
		}

		valid, validKey := testpki.Pair(t, "rc-valid")
		h.secrets = append(h.secrets, validKey)
		for _, args := range [][]string{{"apply", "-f", file("third", valid, validKey)}, {"get", id}, {"set-status", id, "1"}} {
			if r := h.ok(args...); strings.Contains(r.stderr, "Warning") {
				t.Fatalf("%v with a valid certificate: stderr %q", args, r.stderr)
			}
		}
	})
}
