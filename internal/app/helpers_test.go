package app

import (
	"context"
	"io"
	"testing"

	"github.com/google/uuid"

	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/testsupport/apitest"
)

// syncBuffer is a writer commands and servers may share across goroutines.
type syncBuffer = apitest.SyncBuffer

func regionWithKey(cert, key string) region.Region {
	return region.Region{EnterpriseID: "e", RegionID: uuid.NewString(), RegionName: "rot", RegionAlias: "R",
		URL: "https://rot.example.com", Status: region.StatusEnabled, Scope: region.ScopePrivate, CertFile: &cert, KeyFile: &key}
}

// serveCmd is `regiond serve ARGS` as the command line builds it, defaults included — but for
// the shutdown delay, which is 0 unless ARGS set it: it would only make each stop wait.
func serveCmd(t *testing.T, args ...string) *ServeCmd {
	t.Helper()
	var cli CLI
	parser, err := NewParser(&cli, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(append([]string{"serve", "--shutdown-delay=0s"}, args...)); err != nil {
		t.Fatal(err)
	}
	return &cli.Serve
}

// served is a `regiond serve` running in-process.
type served struct {
	addr        string
	out, stderr *syncBuffer
	stop        func() error // stops it as SIGTERM would, and returns serve's error
}

// startServe runs cmd until stop, once it listens.
func startServe(t *testing.T, cmd *ServeCmd) served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := served{out: &syncBuffer{}, stderr: &syncBuffer{}}
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- cmd.serve(ctx, &Env{Stdout: s.out, Stderr: s.stderr}, ready) }()
	select {
	case s.addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve stopped: %v\n%s", err, s.stderr.String())
	}
	s.stop = func() error { cancel(); return <-done }
	return s
}
