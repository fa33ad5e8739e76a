// Package logwriter batches log lines into fewer writes. At tens of thousands of requests a second,
// one write system call per access-log line costs a tenth of the throughput; this writer gathers
// lines in memory and writes them out every interval, when they reach a size, when a line that
// matters (a warning or an error) is logged, and on Close.
package logwriter

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

const (
	flushSize = 64 << 10 // write out once this much is gathered
	maxBuffer = 1 << 20  // past this, Write writes out itself: a stuck output slows logging, it does not grow memory
)

// Writer gathers writes and passes them on to the underlying writer in batches. Each Write is kept
// whole: a log line is never split across batches.
type Writer struct {
	out  io.Writer
	mu   sync.Mutex
	buf  []byte
	done chan struct{}
	wg   sync.WaitGroup
}

// New starts a writer that writes out at least every interval.
func New(out io.Writer, interval time.Duration) *Writer {
	w := &Writer{out: out, buf: make([]byte, 0, flushSize), done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.Flush()
			}
		}
	}()
	return w
}

// Write gathers p.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) >= flushSize {
		if err := w.flushLocked(); err != nil && len(w.buf) > maxBuffer {
			w.buf = w.buf[:0] // the output is failing: drop rather than grow without bound
		}
	}
	return len(p), nil
}

// Flush writes out what is gathered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Close stops the writer and writes out what is left.
func (w *Writer) Close() error {
	close(w.done)
	w.wg.Wait()
	return w.Flush()
}

// FlushOn wraps a handler so that a record at level or above is written out at once: a warning
// or an error is never left waiting in the buffer if the process dies right after it.
func FlushOn(h slog.Handler, w *Writer, level slog.Level) slog.Handler {
	return flushing{Handler: h, w: w, level: level}
}

type flushing struct {
	slog.Handler
	w     *Writer
	level slog.Level
}

func (f flushing) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= f.level {
		f.w.Flush()
	}
	return err
}

func (f flushing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushing{Handler: f.Handler.WithAttrs(attrs), w: f.w, level: f.level}
}

func (f flushing) WithGroup(name string) slog.Handler {
	return flushing{Handler: f.Handler.WithGroup(name), w: f.w, level: f.level}
}
