package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// rbdapiCmd is a fake region API (Rainbond's rbd-api) for the probing benchmark: it answers
// /v2/health, /v2/version and /v2/cluster as rbd-api does, over plain HTTP, for every region the
// benchmark registers, and GET /count says how many health probes it answered.
type rbdapiCmd struct {
	Addr string `default:"127.0.0.1:0" help:"Address to listen on."`
}

func (c *rbdapiCmd) Run() error {
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	var probes atomic.Int64
	mux := http.NewServeMux()
	answer := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		}
	}
	health := answer(`{"bean":{"status":"health","info":"api service health"}}`)
	mux.HandleFunc("GET /v2/health", func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		health(w, r)
	})
	mux.HandleFunc("GET /v2/version", answer(`{"bean":{"version":"v5.17.3-release"}}`))
	mux.HandleFunc("GET /v2/cluster", answer(`{"bean":{"cap_cpu":24,"req_cpu":7.5,"cap_mem":49152,"req_mem":10240,"cap_disk":536870912000,"req_disk":107374182400}}`))
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strconv.FormatInt(probes.Load(), 10)+"\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln)
}
