package generators

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
)

// acceptedOutput is every line a generator may print, each with its reason; any other line fails
// the test, so that a new warning about openapi.yaml is seen. doc is how docs/consumers.md names
// the warning for users of the recipe ("" for what is no warning).
var acceptedOutput = []struct{ re, why, doc string }{
	{`^INFO\tconvenient\tConvenient errors are not available\t\{"reason": "operation has no \\"default\\" response"`,
		"ogen: every status is listed; openapi.yaml has no `default` response, so there is a type per error status",
		"Convenient errors are not available"},
	{`^WARN\tEnsuring "status" matching HTTP status code will not be enforced yet!\t`,
		"ogen: Problem has RFC 9457's `status` member, which regiond always sets to the HTTP status",
		`Ensuring "status" matching HTTP status code will not be enforced yet`},
	{`^WARN\tHeader name is not canonical, canonical name will be used\t.*"original_name": "(ETag|WWW-Authenticate|X-Request-ID)"`,
		"ogen: ETag, WWW-Authenticate and X-Request-ID keep their RFC spelling; header names are case-insensitive",
		"Header name is not canonical"},
	{`^✨ openapi-typescript \d+\.\d+\.\d+$`, "openapi-typescript's banner", ""},
	{`^🚀 openapi\.yaml → src/regiond\.d\.ts \[[\d.]+m?s\]$`, "openapi-typescript's report of what it wrote", ""},
	{`^go: (downloading|finding|extracting) `, "the go command fetching modules into an empty cache", ""},
}

// wantLines are the lines every consumer prints, in order (testdata/*/consumer,
// testdata/openapi-typescript/src/consumer.ts).
var wantLines = []string{
	`^listed \d+ region\(s\), X-Total-Count=\d+, request id [0-9a-f]+$`,
	`^created rainbond-[a-z]+ status=0 scope=private ssl_ca_cert=null$`,
	`^read etag="[^"]+"; If-None-Match gives 304$`,
	`^patched \(application/json\) status=3 desc=in maintenance$`,
	`^stale If-Match refused: 412 urn:regiond:problem:precondition-failed$`,
	`^ssl_ca_cert set=true then null=true$`,
	`^gone: 404 urn:regiond:problem:not-found \(request id [0-9a-f]+\)$`,
	`^invalid: 400 urn:regiond:problem:invalid-request field=region_name$`,
}

// TestGeneratedClients runs each recipe of docs/consumers.md ("Generating a client") as written,
// in a fresh folder holding openapi.yaml and the repository's redocly.yaml (the root's conditions:
// openapi-typescript lints with the redocly.yaml it finds), builds a consumer on the generated
// client, and runs it against a live server whose every response is checked against openapi.yaml.
// Generators are pinned (the recipes' versions, testdata's go.mod and go.sum, the npm folder's
// package-lock.json) and run offline once the Go module and npm caches are warm.
func TestGeneratedClients(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := os.ReadFile(filepath.Join(root, "docs", "consumers.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acceptedOutput {
		if a.doc != "" && !bytes.Contains(docs, []byte(a.doc)) {
			t.Errorf("docs/consumers.md does not tell users about the accepted warning %q", a.doc)
		}
	}

	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{})
	target, _ := url.Parse(e.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = e.HTTPClient().Transport // every response is validated against openapi.yaml
	front := httptest.NewServer(proxy)
	defer front.Close()
	caPEM, _ := testpki.Pair(t, "generators-test-ca")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, caFile, caPEM)
	consumerEnv := []string{"REGIOND_URL=" + front.URL, "REGIOND_TOKEN=" + e.Admin, "REGIOND_CA_PEM=" + caFile}

	t.Run("oapi-codegen", func(t *testing.T) {
		script := recipe(t, docs, "oapi-codegen")
		// The recipe's generator is the one make generate runs (go.mod), so gen/ and users agree.
		pinned(t, script, `oapi-codegen/v2/cmd/oapi-codegen@(v[\d.]+)`, filepath.Join(root, "go.mod"), `github.com/oapi-codegen/oapi-codegen/v2 (v[\d.]+)`)
		dir := goModule(t, root, "testdata/oapi-codegen")
		checkOutput(t, "oapi-codegen", run(t, dir, goEnv(t), "sh", "-e", "-c", script))
		checkOutput(t, "go build", run(t, dir, goEnv(t), "go", "build", "-o", "consumer.bin", "./consumer"))
		checkConsumer(t, run(t, dir, consumerEnv, "./consumer.bin"))
	})
	t.Run("ogen", func(t *testing.T) {
		script := recipe(t, docs, "ogen")
		// The generated code's imports are pinned in testdata/ogen/go.mod, at the recipe's version.
		pinned(t, script, `ogen/cmd/ogen@(v[\d.]+)`, "testdata/ogen/go.mod", `github.com/ogen-go/ogen (v[\d.]+)`)
		dir := goModule(t, root, "testdata/ogen")
		checkOutput(t, "ogen", run(t, dir, goEnv(t), "sh", "-e", "-c", script))
		checkOutput(t, "go build", run(t, dir, goEnv(t), "go", "build", "-o", "consumer.bin", "./consumer"))
		checkConsumer(t, run(t, dir, consumerEnv, "./consumer.bin"))
	})
	t.Run("openapi-typescript", func(t *testing.T) {
		pkg, err := filepath.Abs("testdata/openapi-typescript")
		if err != nil {
			t.Fatal(err)
		}
		// The recipe's npm install lines name the versions package.json pins; the test installs
		// them from package-lock.json, and runs the rest of the recipe as written.
		var manifest struct{ Dependencies, DevDependencies map[string]string }
		if err := json.Unmarshal(readFile(t, filepath.Join(pkg, "package.json")), &manifest); err != nil {
			t.Fatal(err)
		}
		var script []string
		for _, line := range strings.Split(recipe(t, docs, "openapi-typescript"), "\n") {
			if !strings.HasPrefix(line, "npm install ") {
				script = append(script, line)
				continue
			}
			for _, arg := range strings.Fields(line)[2:] {
				if strings.HasPrefix(arg, "-") {
					continue
				}
				at := strings.LastIndex(arg, "@") // after a scope's @, if any
				name, version := arg[:max(at, 0)], arg[at+1:]
				if at <= 0 || (manifest.Dependencies[name] != version && manifest.DevDependencies[name] != version) {
					t.Errorf("the recipe installs %s; testdata/openapi-typescript/package.json pins %s %s", arg, name,
						manifest.Dependencies[name]+manifest.DevDependencies[name])
				}
			}
		}
		npmCI(t, pkg)
		dir := t.TempDir()
		for _, f := range []string{"tsconfig.json", "package.json", "src/consumer.ts"} {
			copyFile(t, filepath.Join(pkg, f), filepath.Join(dir, f))
		}
		for _, f := range []string{"openapi.yaml", "redocly.yaml"} {
			copyFile(t, filepath.Join(root, f), filepath.Join(dir, f))
		}
		if err := os.Symlink(filepath.Join(pkg, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
			t.Fatal(err)
		}
		checkOutput(t, "openapi-typescript", run(t, dir, nil, "sh", "-e", "-c", strings.Join(script, "\n")))
		if out := run(t, dir, nil, filepath.Join(dir, "node_modules", ".bin", "tsc")); out != "" {
			t.Errorf("tsc: %s", out)
		}
		checkConsumer(t, run(t, dir, consumerEnv, "node", "dist/consumer.js"))
	})
	t.Run("gen/client", func(t *testing.T) {
		// What importing the committed client brings in: neither the server's router nor its
		// validator.
		deps := run(t, root, goEnv(t), "go", "list", "-deps", "./gen/client")
		for _, server := range []string{"github.com/labstack/echo", "github.com/getkin/kin-openapi"} {
			if strings.Contains(deps, server) {
				t.Errorf("importing gen/client pulls in %s", server)
			}
		}
	})
}

// recipe is the sh block that follows <!-- recipe: name --> in the docs.
func recipe(t *testing.T, docs []byte, name string) string {
	t.Helper()
	m := regexp.MustCompile("(?s)<!-- recipe: " + regexp.QuoteMeta(name) + " -->\n```sh\n(.*?)```").FindSubmatch(docs)
	if m == nil {
		t.Fatalf("docs/consumers.md has no recipe %q", name)
	}
	return string(m[1])
}

// pinned checks that the version a recipe runs is the one a file pins.
func pinned(t *testing.T, script, inScript, file, inFile string) {
	t.Helper()
	used := regexp.MustCompile(inScript).FindStringSubmatch(script)
	pin := regexp.MustCompile(inFile).FindSubmatch(readFile(t, file))
	if used == nil || pin == nil || used[1] != string(pin[1]) {
		t.Errorf("the recipe runs %q; %s pins %q", used, file, pin)
	}
}

// goModule copies a consumer module (go.mod and go.sum, pinned; consumer/) and openapi.yaml into
// a fresh folder.
func goModule(t *testing.T, root, src string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum", "consumer/main.go"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(dir, f))
	}
	copyFile(t, filepath.Join(root, "openapi.yaml"), filepath.Join(dir, "openapi.yaml"))
	return dir
}

// goEnv makes the go command read modules from the module cache first (`go run pkg@version` asks
// the proxy even when the cache holds the module, and GOPROXY=off refuses the query), so that a
// warm cache needs no network, and keeps the local toolchain.
func goEnv(t *testing.T) []string {
	t.Helper()
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	proxy := "file://" + filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download")
	if p := os.Getenv("GOPROXY"); p != "" {
		proxy += "," + p
	} else {
		proxy += ",https://proxy.golang.org,direct"
	}
	return []string{"GOPROXY=" + proxy, "GOTOOLCHAIN=local"}
}

// checkOutput fails on every line a tool printed that acceptedOutput does not cover.
func checkOutput(t *testing.T, tool, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		accepted := line == ""
		for _, a := range acceptedOutput {
			accepted = accepted || regexp.MustCompile(a.re).MatchString(line)
		}
		if !accepted {
			t.Errorf("%s printed a line nobody accepted: %s", tool, line)
		}
	}
}

func checkConsumer(t *testing.T, out string) {
	t.Helper()
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(got) != len(wantLines) {
		t.Fatalf("the consumer printed %d lines, want %d:\n%s", len(got), len(wantLines), out)
	}
	for i, re := range wantLines {
		if !regexp.MustCompile(re).MatchString(got[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, got[i], re)
		}
	}
}

// run runs a command in dir with extra environment and returns its output, stdout and stderr
// together; it fails the test when the command fails. A hung tool is stopped a minute before the
// test binary's own -timeout, so that its output is still reported. There is no shorter bound:
// downloading and compiling ogen into empty caches took 50s on an idle machine and over 2m40s on a
// busy one, and no test may depend on the machine being idle.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx := t.Context()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-time.Minute))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "npm_config_update_notifier=false"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s: %s", name, strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond))
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// npmCI installs the pinned packages of the test's npm folder when node_modules is missing or
// older than the lock file, from npm's cache when it has them (plain npm ci retries the registry
// for minutes without a network).
func npmCI(t *testing.T, dir string) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (Node 20 or later): %v", tool, err)
		}
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	lock, lerr := os.Stat(filepath.Join(dir, "package-lock.json"))
	if lerr != nil {
		t.Fatal(lerr)
	}
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	run(t, dir, nil, "npm", "ci", "--prefer-offline", "--no-audit", "--no-fund")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	writeFile(t, dst, string(readFile(t, src)))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
