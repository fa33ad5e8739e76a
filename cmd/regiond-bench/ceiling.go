package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// ceilingCmd serves one pre-encoded body to every request, setting only Content-Type and
// Content-Length: the most a Go net/http server can do on this machine for the same bytes, with
// no routing, authentication, validation, logging or database. regiond is compared with it.
type ceilingCmd struct {
	Body string `required:"" type:"existingfile" help:"File whose bytes every response carries."`
	Addr string `default:"127.0.0.1:0" help:"Address to listen on."`
}

func (c *ceilingCmd) Run() error {
	body, err := os.ReadFile(c.Body)
	if err != nil {
		return fmt.Errorf("--body: %w", err)
	}
	contentType := []string{"application/json"}
	contentLength := []string{strconv.Itoa(len(body))}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h["Content-Type"] = contentType
			h["Content-Length"] = contentLength
			w.Write(body)
		}),
	}
	return srv.Serve(ln)
}
