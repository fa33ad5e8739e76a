package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/secrets"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/testsupport/testpki"
)

// buildBinary builds regiond once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "regiond-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "regiond")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/regiond/regiond/cmd/regiond").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is a running `regiond serve`.
type process struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan error
}

const processAdmin = "process-test-admin-token-0123456789abcdef"

func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "REGIOND_ADMIN_TOKEN="+processAdmin)
	p := &process{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	pipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrCh := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			var ev struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "serving" {
				addrCh <- ev.Addr
			}
		}
	}()
	// Wait closes the pipe: read it to the end first, or the last log lines are lost.
	go func() { <-drained; p.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case p.addr = <-addrCh:
	case err := <-p.done:
		t.Fatalf("regiond exited: %v\n%s", err, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("regiond did not start:\n%s", p.stderr.String())
	}
	return p
}

func (p *process) url(path string) string { return "http://" + p.addr + path }

// TestGracefulShutdownUnderLoad sends SIGTERM to a real regiond process under steady load of
// reads and writes. Every request carries its own X-Request-ID; the server's access log says which
// requests it accepted and answered, and every one of those reached the client whole. Requests
// that failed are ones the server never read (refused by the closed listener, or sent on an idle
// keep-alive connection the server was closing: HTTP/1.1's inherent race, which clients resolve by
// retrying). Readiness fails during the shutdown delay while the API still serves; exit code 0.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	p := startProcess(t, "--database", dbtest.SQLite(t), "--rate-limit", "0", "--shutdown-delay", "700ms", "--drain-timeout", "10s")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 20 * time.Second}
	type outcome struct {
		status int
		err    error
	}
	var mu sync.Mutex
	outcomes := map[string]outcome{}
	var seq atomic.Int64
	send := func(method, path, body string) {
		id := fmt.Sprintf("gs-%d", seq.Add(1))
		req, _ := http.NewRequest(method, p.url(path), strings.NewReader(body))
		req.Header.Set("Authorization", processAdmin)
		req.Header.Set("X-Request-ID", id)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		o := outcome{}
		resp, err := client.Do(req)
		if err == nil {
			o.status = resp.StatusCode
			if _, err = io.Copy(io.Discard, resp.Body); err != nil {
				o.err = fmt.Errorf("reading the body: %w", err)
			}
			resp.Body.Close()
		} else {
			o.err = err
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		outcomes[id] = o
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%3 == 0 {
					send("POST", "/openapi/v1/regions", fmt.Sprintf(`{"region_name":"gs-%d-%d","region_alias":"A","url":"https://x.example.com"}`, w, i))
				} else {
					send("GET", "/openapi/v1/regions", "")
				}
			}
		}(w)
	}
	time.Sleep(time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// During the shutdown delay: not ready, still serving.
	time.Sleep(200 * time.Millisecond)
	if resp, err := http.Get(p.url("/readyz")); err != nil || resp.StatusCode != 503 {
		t.Errorf("readiness during the shutdown delay: %v %v", resp, err)
	}
	if resp, err := http.Get(p.url("/healthz")); err != nil || resp.StatusCode != 200 {
		t.Errorf("the API stopped serving before the delay ended: %v", err)
	}
	var exitErr error
	select {
	case exitErr = <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("regiond did not stop within 20s of SIGTERM")
	}
	close(stop)
	wg.Wait()
	if exitErr != nil {
		t.Errorf("exit: %v", exitErr)
	}

	// What the server says it answered.
	answered := map[string]int{}
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var ev struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
			Status    int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "request" && strings.HasPrefix(ev.RequestID, "gs-") {
			answered[ev.RequestID] = ev.Status
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var okCount, neverRead int
	for id, status := range answered {
		o, sent := outcomes[id]
		switch {
		case !sent:
			t.Errorf("the server answered %s, which the client never finished sending", id)
		case o.err != nil:
			t.Errorf("request %s was accepted and answered %d by the server, but the client got: %v", id, status, o.err)
		case o.status != status:
			t.Errorf("request %s: the server answered %d, the client saw %d", id, status, o.status)
		case status >= 300:
			t.Errorf("request %s failed with %d during the shutdown", id, status)
		default:
			okCount++
		}
	}
	for id, o := range outcomes {
		if _, ok := answered[id]; !ok {
			if o.err == nil {
				t.Errorf("the client got a response to %s that the server did not log", id)
			}
			neverRead++
		}
	}
	t.Logf("%d requests answered whole; %d never read by the server (refused or sent on a closing idle connection)", okCount, neverRead)
	if okCount < 100 {
		t.Fatalf("too little load was served around the shutdown: %d", okCount)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, `"msg":"shutting down"`) || !strings.Contains(logs, `"msg":"stopped"`) || strings.Contains(logs, processAdmin) {
		t.Fatalf("log:\n%s", logs)
	}
}

// TestServeRefusesKeysItLacks: `regiond serve` over a database holding a key_file encrypted with a
// key it is not given — no key at all, or another one — exits at once with a message naming the
// setting and the number of regions affected, on both backends; with the right key it serves.
// `secrets rotate` refuses the same way, before rewriting anything.
func TestServeRefusesKeysItLacks(t *testing.T) {
	dbtest.EachSerial(t, func(t *testing.T, dsn string) {
		bin, err := buildBinary()
		if err != nil {
			t.Fatal(err)
		}
		written := secrets.GenerateKey()
		kr, _ := secrets.Parse(written)
		st, err := store.Open(context.Background(), dsn, store.Options{Keyring: kr})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		cert, key := testpki.Pair(t, "start")
		if _, err := st.CreateRegion(context.Background(), regionWithKey(cert, key), store.AuditEvent{EnterpriseID: "e", TokenID: "t", Operation: store.OpRegionCreate}); err != nil {
			t.Fatal(err)
		}
		st.Close()

		for name, keys := range map[string]string{"no key": "", "another key": secrets.GenerateKey()} {
			for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"secrets", "rotate"}} {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				cmd := exec.CommandContext(ctx, bin, append(args, "--database", dsn)...)
				cmd.Env = append(os.Environ(), "REGIOND_SECRET_KEY="+keys, "REGIOND_ADMIN_TOKEN="+processAdmin)
				out, err := cmd.CombinedOutput()
				timedOut := ctx.Err() != nil
				cancel()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() == 0 || timedOut {
					t.Fatalf("%s, %v: %v (it should exit with an error at once)\n%s", name, args, err, out)
				}
				for _, want := range []string{"REGIOND_SECRET_KEY", "--secret-key-file", "1 region"} {
					if !strings.Contains(string(out), want) {
						t.Errorf("%s, %v: the message does not say %q:\n%s", name, args, want, out)
					}
				}
				if keys != "" && strings.Contains(string(out), keys) {
					t.Errorf("%s, %v: the key was printed", name, args)
				}
			}
		}
		t.Setenv("REGIOND_SECRET_KEY", secrets.GenerateKey()+","+written) // rotating: the old key still decrypts
		p := startProcess(t, "--database", dsn)
		resp, err := http.Get(p.url("/readyz"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("with the right key: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}

// TestServeGCPercent: regiond serves with the garbage collector's target at gcPercent unless
// GOGC says otherwise (the Go collector's go_gc_gogc_percent reports what the runtime uses).
func TestServeGCPercent(t *testing.T) {
	for _, c := range []struct {
		gogc string // "" leaves GOGC unset
		want float64
	}{{"", gcPercent}, {"100", 100}, {"300", 300}} {
		t.Run("GOGC="+c.gogc, func(t *testing.T) {
			t.Setenv("GOGC", c.gogc)
			if c.gogc == "" {
				os.Unsetenv("GOGC") // t.Setenv restores it afterwards
			}
			p := startProcess(t, "--database", dbtest.SQLite(t), "--probe-interval", "0")
			if got := metric(p, "go_gc_gogc_percent"); got != c.want {
				t.Fatalf("go_gc_gogc_percent = %v, want %v", got, c.want)
			}
		})
	}
}
