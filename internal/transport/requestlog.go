package transport

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
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
	remote, _, _ := net.SplitHostPort(req.RemoteAddr)
	latency := float64(elapsed.Microseconds()) / 1000
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
			slog.Float64("latency_ms", latency),
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
	b = start.Add(elapsed).AppendFormat(b, time.RFC3339Nano) // the time slog would take: now
	b = append(b, `","level":"INFO","msg":"request"`...)
	if info.TraceID != "" {
		b = appendString(b, "trace_id", info.TraceID)
	}
	b = appendString(b, "method", req.Method)
	b = appendString(b, "route", route)
	b = appendString(b, "path", req.URL.Path)
	b = strconv.AppendInt(append(b, `,"status":`...), int64(status), 10)
	b = strconv.AppendFloat(append(b, `,"latency_ms":`...), latency, 'f', -1, 64) // as encoding/json writes 0 and 0.001 to 1e21
	b = strconv.AppendInt(append(b, `,"bytes":`...), size, 10)
	b = appendString(b, "request_id", info.ID)
	b = appendString(b, "token_id", info.Principal.TokenID)
	b = appendString(b, "remote", remote)
	if info.Aborted {
		b = append(b, `,"aborted":true`...)
	}
	b = append(b, "}\n"...)
	l.lines.Write(b)
	*bp = b
	l.bufs.Put(bp)
}

// appendString appends `,"key":"value"` with value escaped as slog's JSON handler escapes strings
// (encoding/json's rules without HTML escaping): quotes, backslashes and control characters,
// invalid UTF-8 as U+FFFD, and U+2028 and U+2029.
func appendString(b []byte, key, s string) []byte {
	b = append(append(append(b, `,"`...), key...), `":"`...)
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
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
