package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"
)

// ceilingCmd serves one pre-encoded body to every request, setting only Content-Type and
// Content-Length: the most a Go net/http server can do on this machine for the same bytes, with
// no routing, authentication, validation, logging or database. regiond is compared with it.
//
// With --headers it also writes the headers regiond wrote (a response's header block, as
// `curl -D` saves it), a fresh X-Request-Id each time as regiond makes one: the same bytes on the
// wire, so that the cost of regiond's headers shows apart from the rest.
type ceilingCmd struct {
	Body    string `required:"" type:"existingfile" help:"File whose bytes every response carries."`
	Headers string `type:"existingfile" help:"Also write these headers (curl -D output); X-Request-Id gets a new id per response."`
	Addr    string `default:"127.0.0.1:0" help:"Address to listen on."`
}

func (c *ceilingCmd) Run() error {
	body, err := os.ReadFile(c.Body)
	if err != nil {
		return fmt.Errorf("--body: %w", err)
	}
	fixed := http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(body))}}
	requestID := false
	if c.Headers != "" {
		if requestID, err = readHeaders(c.Headers, fixed); err != nil {
			return fmt.Errorf("--headers: %w", err)
		}
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			for k, v := range fixed {
				h[k] = v
			}
			if requestID {
				var b [8]byte
				binary.LittleEndian.PutUint64(b[:], rand.Uint64())
				h["X-Request-Id"] = []string{hex.EncodeToString(b[:])}
			}
			w.Write(body)
		}),
	}
	return srv.Serve(ln)
}

// readHeaders adds a saved header block's headers to h, but those net/http writes itself (Date)
// or the body decides (Content-Length); it reports whether the block had an X-Request-Id.
func readHeaders(file string, h http.Header) (requestID bool, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return false, err
	}
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	if _, err := r.ReadLine(); err != nil { // the status line
		return false, err
	}
	m, err := r.ReadMIMEHeader()
	if err != nil && len(m) == 0 {
		return false, err
	}
	for k, v := range m {
		switch k {
		case "Date", "Content-Length":
		case "X-Request-Id":
			requestID = true
		default:
			h[k] = []string{strings.Join(v, ", ")}
		}
	}
	return requestID, nil
}
