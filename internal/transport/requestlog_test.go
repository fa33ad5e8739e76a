package transport

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/regiond/regiond/internal/token"
)

// TestRequestLogWritesWhatSlogWrites: the request log line written straight to the log's writer
// is, but for its time, the line slog's JSON handler writes for the same request — whatever the
// strings hold (quotes, control characters, invalid UTF-8, U+2028, HTML's characters).
func TestRequestLogWritesWhatSlogWrites(t *testing.T) {
	var viaSlog, direct bytes.Buffer
	slogLog := &requestLog{log: slog.New(slog.NewJSONHandler(&viaSlog, nil))}
	directLog := &requestLog{lines: &direct}
	paths := []string{"/openapi/v1/regions", `/a"b\c`, "/tab\there/nl\nnul\x00bs\bff\fdel\x7f", "/bad\xff\xfeutf8\xc3",
		"/é/中文/😀", "/sep\u2028\u2029", "/<html>&amp;", strings.Repeat("/x", 300)}
	for i, path := range paths {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path, req.Method, req.RemoteAddr = path, []string{"GET", "PATCH", "BREW\x01"}[i%3], "[::1]:5555"
		info := &RequestInfo{ID: "req-" + path[:min(len(path), 5)], Principal: token.Principal{TokenID: "tok_x"}, Aborted: i%2 == 1}
		if i%4 == 0 {
			info.TraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		}
		for _, elapsed := range []time.Duration{0, time.Microsecond, 1234 * time.Microsecond, 65 * time.Second} {
			for _, l := range []*requestLog{slogLog, directLog} {
				l.write(req, info, "/openapi/v1/regions/:region_id", 200+i, int64(i)*1000, time.Now(), elapsed)
			}
		}
	}
	timeField := regexp.MustCompile(`^\{"time":"([^"]+)",`)
	want, got := strings.Split(viaSlog.String(), "\n"), strings.Split(direct.String(), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines, slog wrote %d", len(got), len(want))
	}
	for i := range want {
		m := timeField.FindStringSubmatch(got[i])
		if want[i] == "" && got[i] == "" {
			continue
		}
		if m == nil {
			t.Fatalf("line %d has no time: %s", i, got[i])
		}
		if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if g, w := timeField.ReplaceAllString(got[i], ""), timeField.ReplaceAllString(want[i], ""); g != w {
			t.Fatalf("line %d differs:\nstraight: %s\nslog:     %s", i, g, w)
		}
	}
}

// TestLineTimeAndLatency: the time and latency written by hand are what time.RFC3339Nano and
// encoding/json's float (strconv's shortest 'f') write, in any zone and across seconds.
func TestLineTimeAndLatency(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("", 8*3600), time.FixedZone("", -(3*3600 + 30*60)), time.Local}
	base := time.Date(2026, 11, 29, 23, 59, 58, 0, time.UTC)
	for i := 0; i < 20000; i++ {
		at := base.Add(time.Duration(i) * 137 * time.Microsecond * 7).In(zones[i%len(zones)])
		if i%3 == 0 {
			at = at.Add(time.Duration(i % 1000)) // nanoseconds with trailing zeros or none
		}
		if got, want := string(appendTime(nil, at)), at.Format(time.RFC3339Nano); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", at, got, want)
		}
	}
	for _, at := range []time.Time{time.Date(999, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(12026, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, want := string(appendTime(nil, at)), at.Format(time.RFC3339Nano); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", at, got, want)
		}
	}
	check := func(us int64) {
		if got, want := string(appendMillis(nil, us)), strconv.FormatFloat(float64(us)/1000, 'f', -1, 64); got != want {
			t.Fatalf("appendMillis(%d) = %s, want %s", us, got, want)
		}
	}
	for us := int64(0); us < 200000; us++ {
		check(us)
	}
	for us := int64(1); us > 0 && us < 1<<62; us = us*3 + 7 {
		check(us)
		check(us - 1)
		check(1<<40 - us%1000)
	}
}

// TestPlainString: the word-at-a-time test agrees with the byte table, whatever the length and
// wherever the odd byte is, and on strings of mixed bytes.
func TestPlainString(t *testing.T) {
	isPlain := func(w []byte) bool {
		for _, c := range w {
			if c >= utf8.RuneSelf || !plain[c] {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 26; n++ {
		for _, fill := range []byte{'a', ' ', '~', 0x7f, '!', '#', '[', ']'} {
			for pos := 0; pos < n; pos++ {
				for c := 0; c < 256; c++ {
					w := bytes.Repeat([]byte{fill}, n)
					w[pos] = byte(c)
					if got, want := plainString(string(w)), isPlain(w); got != want {
						t.Fatalf("plainString(%q) = %v, want %v", w, got, want)
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300000; i++ {
		w := make([]byte, rng.IntN(40))
		for j := range w {
			w[j] = byte(rng.IntN(256))
			if rng.IntN(8) > 0 {
				w[j] = byte(0x1e + rng.IntN(0x64)) // mostly around the edges of the plain range
			}
		}
		if got, want := plainString(string(w)), isPlain(w); got != want {
			t.Fatalf("plainString(%q) = %v, want %v", w, got, want)
		}
	}
}
