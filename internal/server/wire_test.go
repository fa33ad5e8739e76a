package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regiond/regiond/internal/testsupport/apitest"
	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestOnlyStandardStatusesOnTheWire: a client whose body stalls past the read timeout gets a 408
// problem and a closed connection; a client that stops sending mid-body (it went away) is logged
// as 499 and gets nothing. Neither ever sees the non-standard 499 on the wire.
func TestOnlyStandardStatusesOnTheWire(t *testing.T) {
	e := apitest.Start(t, dbtest.SQLite(t), apitest.Options{HTTP: func(s *http.Server) { s.ReadTimeout = 500 * time.Millisecond }})
	host := strings.TrimPrefix(e.URL, "http://")
	partial := func(t *testing.T, requestID string) net.Conn {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		body := `{"region_name":"slow","region_alias":"A","url":"https://slow.example.com"}`
		head := "POST /openapi/v1/regions HTTP/1.1\r\nHost: x\r\nAuthorization: " + e.Admin + "\r\nContent-Type: application/json\r\n" +
			"X-Request-ID: " + requestID + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
		if _, err := conn.Write([]byte(head + body[:20])); err != nil {
			t.Fatal(err)
		}
		return conn
	}
	// readAll reads what the server sends until it closes the connection.
	readAll := func(t *testing.T, conn net.Conn) []byte {
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, err := io.ReadAll(conn)
		if err != nil {
			t.Fatalf("the server neither answered nor closed the connection: %v (read %q)", err, got)
		}
		return got
	}

	t.Run("slow body", func(t *testing.T) {
		got := readAll(t, partial(t, "slow-body")) // and never sends the rest
		if bytes.HasPrefix(got, []byte("HTTP/1.1 499")) {
			t.Fatalf("499 on the wire: %q", got)
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(got)), nil)
		if err != nil {
			t.Fatalf("not a response: %v: %q", err, got)
		}
		body, _ := io.ReadAll(resp.Body)
		var p struct{ Status int }
		if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal(body, &p) != nil || p.Status != 408 || !resp.Close {
			t.Fatalf("want a 408 problem that closes the connection: %q", got)
		}
		if msg := e.ValidateRaw("POST", "/openapi/v1/regions", resp.StatusCode, resp.Header.Get("Content-Type"), string(body)); msg != "" {
			t.Fatalf("the 408 does not match openapi.yaml: %s", msg)
		}
	})
	t.Run("client gone mid-body", func(t *testing.T) {
		conn := partial(t, "gone-mid-body")
		conn.(*net.TCPConn).CloseWrite() // the rest of the body never comes
		if got := readAll(t, conn); len(got) > 0 {
			t.Fatalf("a client that went away was answered: %q", got)
		}
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(e.Logs.String(), `"status":499,"latency_ms"`) || !strings.Contains(e.Logs.String(), `"request_id":"gone-mid-body"`) {
			if time.Now().After(deadline) {
				t.Fatalf("no 499 in the access log:\n%s", e.Logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	if resp, body := e.Do("GET", "/openapi/v1/regions", e.Admin, "", nil); resp.StatusCode != 200 || string(body) != "[]" {
		t.Fatalf("a refused request changed something: %d %s", resp.StatusCode, body)
	}
}
