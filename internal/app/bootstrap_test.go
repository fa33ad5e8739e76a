package app

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestOneBootstrapTokenAcrossReplicas starts several real `regiond serve` processes at once on
// one empty database (new, or migrated by `regiond migrate` beforehand), without
// REGIOND_ADMIN_TOKEN: exactly one prints an admin token, every one serves, and the database
// holds that one token.
func TestOneBootstrapTokenAcrossReplicas(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		t.Run("new", func(t *testing.T) { testOneBootstrapToken(t, bin, dbtest.Fresh(t, dsn), false) })
		t.Run("migrated", func(t *testing.T) { testOneBootstrapToken(t, bin, dbtest.Fresh(t, dsn), true) })
	})
}

// TestBootstrapAdminRace is the same race made tight: replicas that have all opened and migrated
// the empty database bootstrap at the same instant. Exactly one makes and prints a token.
func TestBootstrapAdminRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		const replicas = 8
		cmd := serveCmd(t, "--database", dsn)
		log := newLogger(io.Discard, "error", "json")
		var stores []*store.Store
		for i := 0; i < replicas; i++ {
			st, err := cmd.open(context.Background(), log)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			stores = append(stores, st)
		}
		outs := make([]syncBuffer, replicas)
		errs := make(chan error, replicas)
		start := make(chan struct{})
		for i, st := range stores {
			go func() {
				<-start
				errs <- cmd.bootstrapAdmin(context.Background(), st, &Env{Stdout: &outs[i], Stderr: io.Discard}, log)
			}()
		}
		close(start)
		for range stores {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		printed := 0
		for i := range outs {
			if strings.Contains(outs[i].String(), "rgd_") {
				printed++
			}
		}
		if n, err := stores[0].CountTokens(context.Background()); printed != 1 || err != nil || n != 1 {
			t.Fatalf("%d replicas printed a token; %d tokens stored (%v); want 1 and 1", printed, n, err)
		}
	})
}

func testOneBootstrapToken(t *testing.T, bin, dsn string, migrated bool) {
	{
		const replicas = 6
		if migrated {
			if code, _, errOut := run(t, "migrate", "--database", dsn); code != 0 {
				t.Fatal(errOut)
			}
		}
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "REGIOND_") {
				env = append(env, kv)
			}
		}
		type replica struct {
			cmd    *exec.Cmd
			stdout *syncBuffer
			stderr *syncBuffer
			addr   chan string
			exited chan struct{} // closed once the process has exited
			err    error         // how it exited
		}
		var rs []*replica
		for i := 0; i < replicas; i++ {
			r := &replica{cmd: exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--database", dsn, "--log-flush-interval", "0"),
				stdout: &syncBuffer{}, stderr: &syncBuffer{}, addr: make(chan string, 1), exited: make(chan struct{})}
			r.cmd.Env, r.cmd.Stdout = env, r.stdout
			pipe, _ := r.cmd.StderrPipe()
			rs = append(rs, r)
			go func() {
				sc := bufio.NewScanner(pipe)
				for sc.Scan() {
					r.stderr.Write([]byte(sc.Text() + "\n"))
					var ev struct{ Msg, Addr string }
					if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Msg == "serving" {
						r.addr <- ev.Addr
					}
				}
			}()
		}
		for _, r := range rs { // as close together as exec allows
			if err := r.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { r.err = r.cmd.Wait(); close(r.exited) }()
			t.Cleanup(func() { r.cmd.Process.Kill(); <-r.exited })
		}
		tokenValue := regexp.MustCompile(`rgd_[A-Za-z0-9_-]{43}`)
		var printed []string
		var addrs []string
		for i, r := range rs {
			select {
			case addr := <-r.addr:
				addrs = append(addrs, addr)
			case <-r.exited:
				t.Fatalf("replica %d exited: %v\n%s", i, r.err, r.stderr.String())
			case <-time.After(60 * time.Second):
				t.Fatalf("replica %d did not start:\n%s", i, r.stderr.String())
			}
			// The token is printed before the replica serves: its stdout is complete.
			if tok := tokenValue.FindString(r.stdout.String()); tok != "" {
				printed = append(printed, tok)
			}
		}
		if len(printed) != 1 {
			t.Fatalf("%d replicas printed an admin token, want exactly 1", len(printed))
		}
		for i, addr := range addrs {
			req, _ := http.NewRequest("GET", "http://"+addr+"/openapi/v1/regions", nil)
			req.Header.Set("Authorization", printed[0])
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("replica %d with the printed token: %v %v", i, resp, err)
			}
			resp.Body.Close()
		}
		st, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if n, err := st.CountTokens(context.Background()); err != nil || n != 1 {
			t.Fatalf("the database holds %d tokens (%v), want 1", n, err)
		}
	}
}
