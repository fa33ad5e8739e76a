package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/regiond/regiond/internal/server"
	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
	"github.com/regiond/regiond/internal/token"
)

// BenchmarkListRegions measures Rainbond's list call in process — the list room (token, rate limit, scopes,
// validation), the cached list, logging and metrics — without the network. `make bench` measures
// the whole server over HTTP against a raw net/http ceiling.
func BenchmarkListRegions(b *testing.B) {
	for _, accessLog := range []bool{true, false} {
		b.Run(fmt.Sprintf("access_log=%v", accessLog), func(b *testing.B) {
			on := accessLog
			e := apitest.Start(b, dbtest.SQLite(b), apitest.Options{Server: func(c *server.Config) {
				c.RateLimit, c.AccessLog = 1e9, on
				c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
			}})
			for i := 0; i < 50; i++ {
				createRegion(b, e, fmt.Sprintf("bench-%02d", i))
			}
			tok := e.Token(b, apitest.Enterprise, token.RegionsRead)
			h := e.Server.Handler()
			req := httptest.NewRequest("GET", "/openapi/v1/regions", nil)
			req.Header.Set("Authorization", tok)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
