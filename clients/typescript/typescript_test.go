package typescript

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestConsumer generates the TypeScript types from openapi.yaml, type-checks and compiles
// src/consumer.ts, and runs it with node against a real server. Every request the program makes
// goes through a proxy that validates the server's response against openapi.yaml.
func TestConsumer(t *testing.T) {
	npmCI(t)
	npm(t, "run", "generate")
	npm(t, "run", "typecheck")
	npm(t, "run", "build")

	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{})
	ctx := context.Background()
	c := e.Client(e.Admin)
	// A region made by the Go client, for the TypeScript one to list.
	pre, err := c.CreateRegionWithResponse(ctx, api.RegionCreate{RegionName: "rainbond-go", RegionAlias: "Go", Url: "https://region-go.example.com"})
	if err != nil || pre.JSON201 == nil {
		t.Fatalf("creating a region with the Go client: %v %s", err, pre.Body)
	}

	target, _ := url.Parse(e.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = e.HTTPClient().Transport
	front := httptest.NewServer(proxy)
	defer front.Close()

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a hung node must not hang the suite
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "dist/consumer.js")
	cmd.Env = append(os.Environ(), "REGIOND_URL="+front.URL, "REGIOND_TOKEN="+e.Admin, "REGIOND_REGION_NAME=rainbond-ts")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node dist/consumer.js: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	want := []string{
		`^listed 1 region\(s\): rainbond-go$`,
		`^created rainbond-ts status=0 scope=public$`,
		`^read rainbond-ts etag="[^"]+" tls=null,null,null$`,
		`^patched rainbond-ts status=3 desc=in maintenance$`,
		`^stale If-Match refused: 412 urn:regiond:problem:precondition-failed$`,
		`^deleted rainbond-ts$`,
		`^gone: 404 urn:regiond:problem:not-found$`,
	}
	got := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("the consumer printed %d lines, want %d:\n%s", len(got), len(want), stdout.String())
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(got[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, got[i], re)
		}
	}

	// The server saw what the program printed: a create, one update (the stale patch changed
	// nothing) and a delete of the same region, and only the Go client's region is left.
	audit, err := c.ListAuditEventsWithResponse(ctx, &api.ListAuditEventsParams{})
	if err != nil || audit.JSON200 == nil {
		t.Fatalf("reading the audit trail: %v", err)
	}
	var ops []string
	for _, ev := range *audit.JSON200 {
		if strings.HasPrefix(string(ev.Operation), "region.") && ev.TargetId != pre.JSON201.RegionId {
			ops = append(ops, string(ev.Operation))
		}
	}
	if got := strings.Join(ops, " "); got != "region.delete region.update region.create" {
		t.Errorf("the consumer's region writes (newest first) = %q, want its delete, update and create", got)
	}
	list, err := c.ListRegionsWithResponse(ctx, &api.ListRegionsParams{})
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 1 || (*list.JSON200)[0].RegionName != "rainbond-go" {
		t.Errorf("after the consumer, the regions are %s; want only rainbond-go", list.Body)
	}
}

// npmCI installs the pinned packages when node_modules is missing or older than the lock file.
func npmCI(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (Node 20 or later): %v", tool, err)
		}
	}
	installed, err := os.Stat(filepath.Join("node_modules", ".package-lock.json"))
	lock, lerr := os.Stat("package-lock.json")
	if lerr != nil {
		t.Fatal(lerr)
	}
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	npm(t, "ci", "--prefer-offline", "--no-audit", "--no-fund") // the cache first: offline, a plain npm ci waits minutes on the registry
}

// npm runs npm in this directory and fails the test with its output when it fails.
func npm(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("npm", args...)
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
