package logwriter

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) all() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes), strings.Join(r.writes, "")
}

func TestBatchesLinesWholeAndInOrder(t *testing.T) {
	out := &recorder{}
	w := New(out, time.Hour) // only size, level and Close write out here
	log := slog.New(FlushOn(slog.NewJSONHandler(w, nil), w, slog.LevelWarn))
	for i := 0; i < 100; i++ {
		log.Info("request", "i", i)
	}
	if n, _ := out.all(); n != 0 {
		t.Fatalf("%d writes before anything asked for one", n)
	}
	log.Warn("something wrong")
	n, text := out.all()
	if n != 1 || strings.Count(text, "\n") != 101 || !strings.HasSuffix(text, "\"something wrong\"}\n") {
		t.Fatalf("a warning did not write out everything before it, in one write: %d writes", n)
	}
	log.Info("last")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, text := out.all(); !strings.HasSuffix(text, "\"last\"}\n") {
		t.Fatal("Close did not write out the rest")
	}
}

func TestWritesOutOnSizeAndInterval(t *testing.T) {
	out := &recorder{}
	w := New(out, 20*time.Millisecond)
	defer w.Close()
	line := bytes.Repeat([]byte("x"), 1000)
	line = append(line, '\n')
	for i := 0; i < 70; i++ { // 70 KB: over the flush size
		w.Write(line)
	}
	if n, _ := out.all(); n != 1 {
		t.Fatalf("%d writes after passing the flush size, want 1", n)
	}
	w.Write([]byte("tail\n"))
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, text := out.all(); strings.HasSuffix(text, "tail\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the interval did not write out the tail")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, text := out.all()
	if strings.Count(text, "\n") != 71 {
		t.Fatalf("lines lost or split: %d", strings.Count(text, "\n"))
	}
}
