package transport

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// requestLog writes one line per request: through slog, or — when the log is slog's JSON lines
// on a writer — straight to that writer, in the very format slog's JSON handler writes. slog's
// own machinery (a record of attributes, the caller's program counter, a float through
// encoding/json) cost more than half of what regiond spends on Rainbond's list call: 1.8 µs of
// 3.5 µs (BenchmarkListRegions, in process), a tenth of the throughput next to the raw net/http
// ceiling (make bench). Written directly, the line costs about a tenth of that.
type requestLog struct {
	log   *slog.Logger
	lines io.Writer // nil: through log
	bufs  sync.Pool
}

func (l *requestLog) write(req *http.Request, info *RequestInfo, route string, status int, size int64, start time.Time, elapsed time.Duration) {
	remote := info.client(req)
	if l.lines == nil {
		attrs := make([]slog.Attr, 0, 11)
		if info.TraceID != "" {
			attrs = append(attrs, slog.String("trace_id", info.TraceID))
		}
		attrs = append(attrs,
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.String("path", req.URL.Path),
			slog.Int("status", status),
			slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
			slog.Int64("bytes", size),
			slog.String("request_id", info.ID),
			slog.String("token_id", info.Principal.TokenID),
			slog.String("remote", remote),
		)
		if info.Aborted {
			attrs = append(attrs, slog.Bool("aborted", true))
		}
		l.log.LogAttrs(req.Context(), slog.LevelInfo, "request", attrs...)
		return
	}
	bp, _ := l.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append((*bp)[:0], `{"time":"`...)
	b = appendTime(b, start.Add(elapsed)) // the time slog would take: now
	b = append(b, `","level":"INFO","msg":"request"`...)
	if info.TraceID != "" {
		b = appendString(b, `,"trace_id":"`, info.TraceID)
	}
	b = appendString(b, `,"method":"`, req.Method)
	b = appendString(b, `,"route":"`, route)
	b = appendString(b, `,"path":"`, req.URL.Path)
	b = strconv.AppendInt(append(b, `,"status":`...), int64(status), 10)
	b = appendMillis(append(b, `,"latency_ms":`...), elapsed.Microseconds())
	b = strconv.AppendInt(append(b, `,"bytes":`...), size, 10)
	b = appendString(b, `,"request_id":"`, info.ID)
	b = appendString(b, `,"token_id":"`, info.Principal.TokenID)
	b = appendString(b, `,"remote":"`, remote)
	if info.Aborted {
		b = append(b, `,"aborted":true`...)
	}
	b = append(b, "}\n"...)
	l.lines.Write(b)
	*bp = b
	l.bufs.Put(bp)
}

// The time and the latency are formatted by hand: time.AppendFormat and strconv.AppendFloat were
// most of the line's cost (the line was 1.6% of the CPU of Rainbond's list call under make bench's
// load, the two a half of that).

// stamp is a second's time of day, formatted once for every line written within it.
type stamp struct {
	unix       int64
	loc        *time.Location
	date, zone []byte // "2006-01-02T15:04:05" and "Z" or "-07:00"
}

var stamps atomic.Pointer[stamp]

// appendTime appends t as time.RFC3339Nano, as slog's JSON handler writes it.
func appendTime(b []byte, t time.Time) []byte {
	st := stamps.Load()
	if st == nil || st.unix != t.Unix() || st.loc != t.Location() {
		if y := t.Year(); y < 1000 || y > 9999 {
			return t.AppendFormat(b, time.RFC3339Nano)
		}
		whole := t.AppendFormat(nil, time.RFC3339)
		st = &stamp{unix: t.Unix(), loc: t.Location(), date: whole[:19], zone: whole[19:]}
		stamps.Store(st)
	}
	b = append(b, st.date...)
	if ns := t.Nanosecond(); ns != 0 { // nine digits less trailing zeros, as ".999999999" writes
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i], ns = byte('0'+ns%10), ns/10
		}
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, st.zone...)
}

// appendMillis appends us microseconds in milliseconds as encoding/json writes the float
// us/1000 (strconv's shortest 'f' form): the exact decimal, up to three places, less trailing
// zeros. Past 2^40 µs (12 days) it leaves it to strconv.
func appendMillis(b []byte, us int64) []byte {
	if us < 0 || us >= 1<<40 {
		return strconv.AppendFloat(b, float64(us)/1000, 'f', -1, 64)
	}
	b = strconv.AppendInt(b, us/1000, 10)
	if f := us % 1000; f != 0 {
		b = append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
	}
	return b
}

// appendString appends a member's start (`,"key":"`), then its value escaped as slog's JSON
// handler escapes strings (encoding/json's rules without HTML escaping): quotes, backslashes and
// control characters, invalid UTF-8 as U+FFFD, and U+2028 and U+2029; then the closing quote.
func appendString(b []byte, member, s string) []byte {
	b = append(b, member...)
	if plainString(s) {
		return append(append(b, s...), '"')
	}
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

const hexDigits = "0123456789abcdef"

// plainString reports whether every byte of s is plain (see plain), testing 8 at a time: a line's
// strings are almost always all plain, and a byte at a time cost 2,000 instructions of the 68,000
// of Rainbond's list call (callgrind). The last word overlaps the one before it rather than
// leaving a tail of single bytes.
func plainString(s string) bool {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= utf8.RuneSelf || !plain[c] {
				return false
			}
		}
		return true
	}
	for i := 0; ; i += 8 {
		if i > len(s)-8 {
			i = len(s) - 8
		}
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if !plainWord(x) {
			return false
		}
		if i == len(s)-8 {
			return true
		}
	}
}

// plainWord reports whether the 8 bytes of x are all plain. A byte needs escaping when it is below
// 0x20, a quote, a backslash, or not ASCII; each test is the classic "has a zero byte" of a word,
// (v-0x0101..) &^ v & 0x8080.., exact as to whether any byte matches.
func plainWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	control := (x - ones*0x20) &^ x
	return (control|(quote-ones)&^quote|(backslash-ones)&^backslash|x)&highs == 0
}

// plain are the ASCII bytes a JSON string holds as they are: a table, as encoding/json's safeSet,
// is a load per byte where the comparisons were three.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
