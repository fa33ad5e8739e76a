package docs_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/regiond/regiond"
	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// chromiumPath is Debian's Chromium. The test never downloads a browser: make test installs the
// package (scripts/ensure-chromium.sh).
const chromiumPath = "/usr/bin/chromium"

// requireChromium returns the browser to drive. A missing browser fails the test where the suite
// must be complete (make test and CI) and skips it elsewhere.
func requireChromium(t *testing.T) string {
	t.Helper()
	path := chromiumPath
	if p := os.Getenv("REGIOND_TEST_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("Chromium is not installed at %s (run scripts/ensure-chromium.sh): %v", path, err)
		if os.Getenv("REGIOND_TEST_MYSQL_REQUIRED") == "1" || os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// TestSwaggerUIInBrowser drives Swagger UI in headless Chromium against a real server, at the
// root and under a base path: the page renders every operation of openapi.yaml, "Authorize"
// takes a bare token, "Try it out" on the region list gets the server's regions, the status
// filter names the statuses, and a path id starts empty (Execute asks for it) — with no request
// leaving the loopback host, no console error and no CSP violation.
func TestSwaggerUIInBrowser(t *testing.T) {
	browser := requireChromium(t)
	for _, tc := range []struct{ name, basePath, screenshot string }{
		{"root", "", "swagger-ui.png"},
		{"base-path", "/regiond", "swagger-ui-base-path.png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{Server: func(c *server.Config) { c.BasePath = tc.basePath }})
			regionName := "swagger-ui-" + tc.name
			resp, body := e.Do("POST", "/openapi/v1/regions", e.Admin, "application/json",
				[]byte(`{"region_name":"`+regionName+`","region_alias":"Browser","url":"https://region.example.com:8443"}`))
			if resp.StatusCode != 201 {
				t.Fatalf("creating the region: %d %s", resp.StatusCode, body)
			}
			tryItOut(t, browser, e, regionName, tc.screenshot)
		})
	}
}

// tryItOut is the whole flow a user follows in Swagger UI, with its assertions.
func tryItOut(t *testing.T, browser string, e *apitest.Env, regionName, screenshot string) {
	watch := &pageWatch{}
	ctx := newTab(t, browser, watch)
	// A guard against a hung browser, not a timing assertion.
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\npage errors: %v\nrequests: %v", what, err, watch.errorList(), watch.requestList())
		}
	}
	// Records the page's own view of CSP violations, besides the browser log's.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}

	docsURL := e.URL + "/docs/"
	run("loading "+docsURL,
		chromedp.Navigate(docsURL),
		chromedp.WaitVisible(chromedp.CSS(".swagger-ui .info .title")),
		chromedp.WaitVisible(chromedp.CSS(".swagger-ui .opblock")),
	)

	// Every operation of openapi.yaml is listed, once under each of its tags.
	type opblock struct {
		ID      string `json:"id"`
		Method  string `json:"method"`
		Path    string `json:"path"`
		Summary string `json:"summary"`
	}
	blocks, err := chromedp.Run(ctx, chromedp.Evaluate[[]opblock](`[...document.querySelectorAll(".swagger-ui .opblock")].map((b) => ({
  id: b.id,
  method: b.querySelector(".opblock-summary-method")?.textContent ?? "",
  path: b.querySelector(".opblock-summary-path")?.dataset.path ?? "",
  summary: b.querySelector(".opblock-summary-description")?.textContent ?? "",
}))`))
	if err != nil {
		t.Fatal(err)
	}
	want := specOperations(t)
	if len(blocks) != len(want) {
		t.Errorf("Swagger UI lists %d operations, openapi.yaml has %d", len(blocks), len(want))
	}
	for _, w := range want {
		i := slices.IndexFunc(blocks, func(b opblock) bool { return b.ID == w.ID })
		if i < 0 {
			t.Errorf("operation %s (%s %s) is not listed", w.ID, w.Method, w.Path)
			continue
		}
		if b := blocks[i]; b.Method != w.Method || b.Path != w.Path || b.Summary != w.Summary {
			t.Errorf("operation %s is listed as %+v, want %+v", w.ID, b, w)
		}
	}

	// Authorize with the bare token, as Rainbond clients send it.
	run("authorizing",
		chromedp.Click(chromedp.CSS(".swagger-ui .auth-wrapper button.authorize")),
		chromedp.WaitVisible(chromedp.CSS(".modal-ux .auth-container input")),
		chromedp.SendKeys(chromedp.CSS(".modal-ux .auth-container input"), e.Admin),
		chromedp.Click(chromedp.CSS(`.modal-ux .auth-btn-wrapper button[type="submit"]`)),
		// The modal confirms, and offers to log out instead.
		chromedp.WaitVisible(chromedp.CSS(".modal-ux .auth-container h6")),
		chromedp.Click(chromedp.CSS(".modal-ux .auth-btn-wrapper button.btn-done")),
		chromedp.WaitNotPresent(chromedp.CSS(".modal-ux")),
	)

	// Try it out on the region list.
	op := "#operations-Regions-listRegions"
	run("trying out GET /openapi/v1/regions",
		chromedp.Click(chromedp.CSS(op+" .opblock-summary-control")),
		chromedp.Click(chromedp.CSS(op+" button.try-out__btn")),
		chromedp.Click(chromedp.CSS(op+" button.execute")),
		chromedp.WaitVisible(chromedp.CSS(op+" .live-responses-table tr.response .response-col_status")),
	)
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+" .live-responses-table tr.response .response-col_status")))
	if err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(op+" .live-responses-table tr.response .response-col_description pre")))
	if err != nil {
		t.Fatal(err)
	}
	requestURL, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(op+" .request-url pre")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(status) != "200" {
		t.Errorf("Try it out answered %q, want 200; body shown: %s", status, shown)
	}
	if !strings.Contains(shown, `"region_name": "`+regionName+`"`) {
		t.Errorf("the response body shown does not carry the region %q: %s", regionName, shown)
	}
	if wantURL := e.URL + "/openapi/v1/regions"; strings.TrimSpace(requestURL) != wantURL {
		t.Errorf("Try it out called %q, want %q", requestURL, wantURL)
	}

	// The status filter names the statuses, not only their numbers.
	statusHelp, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(op+` tr[data-param-name="status"] .parameters-col_description .renderedMarkdown`)))
	if err != nil {
		t.Fatal(err)
	}
	statusHelp = strings.Join(strings.Fields(statusHelp), " ")
	for _, name := range []string{"0 editing", "1 enabled", "2 disabled", "3 in maintenance"} {
		if !strings.Contains(statusHelp, name) {
			t.Errorf("the status parameter does not name %q: %q", name, statusHelp)
		}
	}

	// A path id starts empty, not filled with the example id of a region that does not exist:
	// Execute asks for it instead of calling the server.
	getOp := "#operations-Regions-getRegion"
	idInput := getOp + ` tr[data-param-name="region_id"] input`
	run("trying out GET /openapi/v1/regions/{region_id} without an id",
		chromedp.Click(chromedp.CSS(getOp+" .opblock-summary-control")),
		chromedp.Click(chromedp.CSS(getOp+" button.try-out__btn")),
		chromedp.WaitVisible(chromedp.CSS(idInput)),
	)
	idValue, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(idInput)))
	if err != nil {
		t.Fatal(err)
	}
	if idValue != "" {
		t.Errorf("region_id starts as %q, want it empty", idValue)
	}
	run("executing without an id",
		chromedp.Click(chromedp.CSS(getOp+" button.execute")),
		chromedp.WaitVisible(chromedp.CSS(idInput+".invalid")),
	)
	for _, r := range watch.requestList() {
		if strings.HasPrefix(r, e.URL+"/openapi/v1/regions/") {
			t.Errorf("Execute without an id called %s", r)
		}
	}

	// The screenshot shows the operation from its header to the server's response.
	clip, err := chromedp.Run(ctx, chromedp.Evaluate[page.Viewport](`(() => {
  const op = document.querySelector("`+op+`").getBoundingClientRect();
  const live = document.querySelector("`+op+` .live-responses-table").getBoundingClientRect();
  return {x: op.left + scrollX, y: op.top + scrollY, width: op.width, height: live.bottom - op.top, scale: 1};
})()`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format: page.CaptureScreenshotFormatPng, Clip: &clip, CaptureBeyondViewport: new(true)})
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, screenshot, shot.Data)

	// Everything came from the server itself: the spec, the assets, the API call.
	requests := watch.requestList()
	base, _ := url.Parse(e.URL)
	for _, path := range []string{"/docs/", "/docs/swagger-ui-bundle.js", "/docs/init.js", "/openapi.json", "/openapi/v1/regions"} {
		if !slices.Contains(requests, e.URL+path) {
			t.Errorf("the page did not request %s%s; requests: %v", e.URL, path, requests)
		}
	}
	for _, r := range requests {
		u, err := url.Parse(r)
		if err != nil || u.Scheme == "data" {
			continue
		}
		if u.Host != base.Host {
			t.Errorf("the page requested %s, outside the server %s", r, base.Host)
		}
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__cspViolations`))
	if err != nil {
		t.Fatal(err)
	}
	if len(violations) > 0 {
		t.Errorf("Content-Security-Policy violations: %v", violations)
	}
	if errs := watch.errorList(); len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}

	// The watch is not blind: an inline script is refused, and the refusal is reported. The
	// promise settles either way: the script runs, or the violation event fires.
	outcome, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise((resolve) => {
  document.addEventListener("securitypolicyviolation", (e) => resolve("refused by " + e.effectiveDirective), {once: true});
  window.__inlineRan = () => resolve("ran");
  const s = document.createElement("script");
  s.textContent = "window.__inlineRan()";
  document.body.appendChild(s);
})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(outcome, "refused by script-src") {
		t.Errorf("an inline script was not refused by the page's CSP: %s", outcome)
	}
	if !slices.ContainsFunc(watch.errorList(), func(s string) bool { return strings.Contains(s, "Content Security Policy") }) {
		t.Errorf("the browser log did not report the refused inline script; errors: %v", watch.errorList())
	}
}

// newTab starts a fresh headless Chromium (its own profile, no network of its own) and opens a
// tab whose events the watch sees from the start.
func newTab(t *testing.T, browser string, watch *pageWatch) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The machine has no internet: keep Chromium from calling Google on its own.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1024),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(watch.listen))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx only
		t.Fatalf("starting %s: %v", browser, err)
	}
	return ctx
}

// pageWatch records what a tab requests and the errors it reports: console.error and
// console.assert calls, uncaught exceptions, and error entries of the browser log (where a
// Content-Security-Policy violation or a failed load is reported).
type pageWatch struct {
	mu       sync.Mutex
	requests []string
	errors   []string
}

// listen runs in the tab's event loop: it only records.
func (w *pageWatch) listen(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		w.requests = append(w.requests, ev.Request.URL)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			w.errors = append(w.errors, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		w.errors = append(w.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			w.errors = append(w.errors, fmt.Sprintf("log (%s) %s: %s", ev.Entry.Source, ev.Entry.URL, ev.Entry.Text))
		}
	}
}

func (w *pageWatch) requestList() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.requests)
}

func (w *pageWatch) errorList() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.errors)
}

// operation is an operation of openapi.yaml as Swagger UI lists it.
type operation struct {
	ID, Method, Path, Summary string
}

// specOperations lists openapi.yaml's operations, once under each tag, with the element id
// Swagger UI gives each ("operations-<tag>-<operationId>").
func specOperations(t *testing.T) []operation {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(regiond.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			tags := op.Tags
			if len(tags) == 0 {
				tags = []string{"default"}
			}
			for _, tag := range tags {
				ops = append(ops, operation{ID: "operations-" + tag + "-" + op.OperationID, Method: method, Path: path, Summary: op.Summary})
			}
		}
	}
	if len(ops) == 0 {
		t.Fatal("openapi.yaml has no operations")
	}
	return ops
}

// saveArtifact writes a file to artifacts/ at the repository's root, for people to look at.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("..", "..", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)
}
