package app

import (
	"io"
	"testing"

	"github.com/google/uuid"

	"github.com/regiond/regiond/internal/apitest"
	"github.com/regiond/regiond/internal/region"
)

// syncBuffer is a writer commands and servers may share across goroutines.
type syncBuffer = apitest.SyncBuffer

func regionWithKey(cert, key string) region.Region {
	return region.Region{EnterpriseID: "e", RegionID: uuid.NewString(), RegionName: "rot", RegionAlias: "R",
		URL: "https://rot.example.com", Status: region.StatusEnabled, Scope: region.ScopePrivate, CertFile: &cert, KeyFile: &key}
}

// serveCmd is `regiond serve ARGS` as the command line builds it, defaults included.
func serveCmd(t *testing.T, args ...string) *ServeCmd {
	t.Helper()
	var cli CLI
	parser, err := NewParser(&cli, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(append([]string{"serve"}, args...)); err != nil {
		t.Fatal(err)
	}
	return &cli.Serve
}
