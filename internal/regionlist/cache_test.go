package regionlist

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func fresh(c *cache) {
	c.Poll(context.Background(), func(context.Context) (map[string]int64, error) { return nil, nil })
}

func mkEntry(gen int64, body string) *entry { return newEntry(gen, []byte(body), 1, "t") }

func TestServesOnlyTheNewestGenerationWhileFresh(t *testing.T) {
	c := newCache(1<<20, 100*time.Millisecond)
	k := key{"e", "v"}
	if e, _ := c.Load(k, func() (*entry, error) { return mkEntry(1, "one"), nil }); e.Generation != 1 {
		t.Fatal("load")
	}
	if c.Get(k) != nil {
		t.Fatal("served before any poll succeeded: the staleness bound cannot be vouched for")
	}
	fresh(c)
	if e := c.Get(k); e == nil || string(e.Body) != "one" {
		t.Fatal("not served while fresh")
	}
	c.Observe("e", 2) // a write on this replica
	if c.Get(k) != nil {
		t.Fatal("served an entry older than a known write")
	}
	c.Observe("other", 9)
	if e, _ := c.Load(k, func() (*entry, error) { return mkEntry(2, "two"), nil }); string(e.Body) != "two" || c.Get(k) == nil {
		t.Fatal("rebuilt entry not kept")
	}
	time.Sleep(120 * time.Millisecond) // no poll for longer than the bound
	if c.Get(k) != nil {
		t.Fatal("served after the last successful poll became older than the bound")
	}
	failing := func(context.Context) (map[string]int64, error) { return nil, errors.New("db down") }
	if err := c.Poll(context.Background(), failing); err == nil || c.Get(k) != nil {
		t.Fatal("a failed poll made the cache fresh")
	}
	c.Poll(context.Background(), func(context.Context) (map[string]int64, error) { return map[string]int64{"e": 3}, nil })
	if c.Get(k) != nil {
		t.Fatal("a write another replica made (learned by polling) did not retire the entry")
	}
}

// A build that began before a write must not be handed to a caller that came after the write,
// even though concurrent misses share one build.
func TestLoadDoesNotReturnABuildOlderThanTheCallersWrite(t *testing.T) {
	c := newCache(1<<20, time.Minute)
	fresh(c)
	k := key{"e", "v"}
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a reader whose build reads generation 1, then stalls
		defer wg.Done()
		c.Load(k, func() (*entry, error) {
			close(started)
			<-release
			return mkEntry(1, "old"), nil
		})
	}()
	<-started
	c.Observe("e", 2) // a write commits meanwhile
	done := make(chan *entry)
	go func() {
		e, _ := c.Load(k, func() (*entry, error) { return mkEntry(2, "new"), nil })
		done <- e
	}()
	time.Sleep(20 * time.Millisecond) // let it join the stalled build
	close(release)
	if e := <-done; string(e.Body) != "new" {
		t.Fatalf("a read after the write got the list built before it: %q", e.Body)
	}
	wg.Wait()
	if e := c.Get(k); e == nil || e.Generation != 2 {
		t.Fatal("the old build replaced the new one")
	}
}

func TestMemoryIsBounded(t *testing.T) {
	c := newCache(100, time.Minute) // entries up to 25 bytes, 100 in all
	fresh(c)
	big := newEntry(1, make([]byte, 26), 1, "t")
	c.Load(key{"big", "v"}, func() (*entry, error) { return big, nil })
	if c.Get(key{"big", "v"}) != nil || c.Bytes() != 0 {
		t.Fatal("an entry over MaxEntry was kept")
	}
	for i, ent := range []string{"a", "b", "c", "d", "e"} {
		c.Load(key{ent, "v"}, func() (*entry, error) { return newEntry(int64(i), make([]byte, 25), 1, "t"), nil })
		c.Observe(ent, int64(i))
	}
	if c.Bytes() > 100 || c.Get(key{"a", "v"}) != nil || c.Get(key{"e", "v"}) == nil || c.Stats.Evictions.Load() != 1 {
		t.Fatalf("budget: %d bytes, %d evictions", c.Bytes(), c.Stats.Evictions.Load())
	}
	marker := &entry{Generation: 7}
	c.Observe("huge", 7)
	c.Load(key{"huge", "v"}, func() (*entry, error) { return marker, nil })
	if e := c.Get(key{"huge", "v"}); e == nil || !e.TooLarge() {
		t.Fatal("the too-large marker of a list was not kept")
	}
}
