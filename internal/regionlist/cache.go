// The snapshot cache keeps pre-encoded region lists, so that Rainbond's list call is a map lookup
// and a write of bytes.
//
// Correctness rests on generations: every write to an enterprise's regions bumps that
// enterprise's generation in the database, in the write's own transaction. An entry records the
// generation it was built at and is served only while that is still the newest generation the
// cache knows of. A write on this replica tells the cache its new generation at once (Observe),
// so a read after a write never sees the old list. Writes on other replicas are learned by
// polling the generations; an entry is served only if the last poll that succeeded started less
// than the staleness bound ago, so no replica serves a list older than that bound, even when
// polling fails.
//
// Memory is bounded: entries larger than MaxEntry are not kept (those lists are streamed from the
// database instead), and the least recently used entries are evicted to stay within Budget.

package regionlist

import (
	"container/list"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// key identifies one list: an enterprise's regions, as one kind of caller sees them.
type key struct {
	Enterprise string
	// View distinguishes representations of the same regions (with or without TLS fields).
	View string
}

// entry is a pre-encoded list, with its response header values made once.
type entry struct {
	Generation int64
	Body       []byte // nil when the list was too large to keep: stream it
	ETag       string
	Count      int64
	// BytesPerRegion is what a region took when the list was encoded (or found too large): the
	// next build uses it to tell, from the count alone, that a list is too large to keep.
	BytesPerRegion int64

	ETagHeader, CountHeader, LengthHeader []string
}

// newEntry makes the entry of an encoded list.
func newEntry(gen int64, body []byte, count int64, etag string) *entry {
	e := &entry{Generation: gen, Body: body, ETag: etag, Count: count,
		ETagHeader: []string{etag}, CountHeader: []string{strconv.FormatInt(count, 10)},
		LengthHeader: []string{strconv.Itoa(len(body))}}
	if count > 0 {
		e.BytesPerRegion = int64(len(body)) / count
	}
	return e
}

// TooLarge reports an entry that records only that its list exceeds MaxEntry.
func (e *entry) TooLarge() bool { return e.Body == nil }

// cacheStats counts cache outcomes, for metrics.
type cacheStats struct{ Hits, Misses, Builds, Evictions atomic.Int64 }

// cache is safe for concurrent use.
type cache struct {
	Budget    int64         // bytes of Body kept at most
	MaxEntry  int64         // a list larger than this is not kept
	Staleness time.Duration // how old, at most, a served list may be relative to other replicas' writes
	Stats     cacheStats

	mu      sync.Mutex
	entries map[key]*list.Element // of *item, most recently used at the front
	lru     *list.List
	used    int64
	known   map[string]int64 // newest generation seen per enterprise
	counts  map[countKey]countEntry
	// lastPoll is when the newest successful generation poll started (unix nanoseconds).
	lastPoll atomic.Int64
	group    singleflight.Group
}

type item struct {
	key   key
	entry *entry
}

// New makes a cache. Polling starts with Run.
func newCache(budget int64, staleness time.Duration) *cache {
	c := &cache{Budget: budget, MaxEntry: budget / 4, Staleness: staleness,
		entries: map[key]*list.Element{}, lru: list.New(), known: map[string]int64{}, counts: map[countKey]countEntry{}}
	return c
}

// Fresh reports whether the generations were polled recently enough to serve from the cache.
func (c *cache) Fresh() bool { return c.fresh(time.Now()) }

// fresh reports whether the generations are known recently enough to serve from the cache.
func (c *cache) fresh(now time.Time) bool {
	return now.UnixNano()-c.lastPoll.Load() < int64(c.Staleness)
}

// Get returns the current entry for k, or nil.
func (c *cache) Get(k key) *entry {
	fresh := c.fresh(time.Now())
	c.mu.Lock()
	el, ok := c.entries[k]
	var e *entry
	if ok && fresh {
		if it := el.Value.(*item); it.entry.Generation == c.known[k.Enterprise] {
			e = it.entry
			if c.lru.Front() != el {
				c.lru.MoveToFront(el)
			}
		}
	}
	c.mu.Unlock()
	if e != nil {
		c.Stats.Hits.Add(1)
	}
	return e
}

// Latest returns the entry kept for k, whatever its generation, or nil.
func (c *cache) Latest(k key) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		return el.Value.(*item).entry
	}
	return nil
}

// Load returns the current entry for k, building it with build on a miss. Concurrent misses of
// the same key share one build — unless that build began before a write this caller must see,
// in which case it builds again.
func (c *cache) Load(k key, build func() (*entry, error)) (*entry, error) {
	if e := c.Get(k); e != nil {
		return e, nil
	}
	c.Stats.Misses.Add(1)
	for {
		want := c.knownGen(k.Enterprise)
		v, err, _ := c.group.Do(k.Enterprise+"\x00"+k.View, func() (any, error) {
			if e := c.Get(k); e != nil {
				return e, nil
			}
			c.Stats.Builds.Add(1)
			e, err := build()
			if err != nil {
				return nil, err
			}
			c.put(k, e)
			return e, nil
		})
		if err != nil {
			return nil, err
		}
		if e := v.(*entry); e.Generation >= want {
			return e, nil
		}
	}
}

// put keeps e unless a newer generation is already known (the build raced with a write).
func (c *cache) put(k key, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Generation < c.known[k.Enterprise] {
		return
	}
	c.known[k.Enterprise] = e.Generation
	if el, ok := c.entries[k]; ok {
		c.used -= int64(len(el.Value.(*item).entry.Body))
		c.lru.Remove(el)
		delete(c.entries, k)
	}
	if int64(len(e.Body)) > c.MaxEntry {
		return
	}
	c.entries[k] = c.lru.PushFront(&item{key: k, entry: e})
	c.used += int64(len(e.Body))
	for c.used > c.Budget && c.lru.Len() > 0 {
		oldest := c.lru.Back()
		it := oldest.Value.(*item)
		c.lru.Remove(oldest)
		delete(c.entries, it.key)
		c.used -= int64(len(it.entry.Body))
		c.Stats.Evictions.Add(1)
	}
}

// Observe records that an enterprise is at generation gen (or newer): entries built before it
// are no longer served.
func (c *cache) Observe(enterprise string, gen int64) {
	c.mu.Lock()
	if gen > c.known[enterprise] {
		c.known[enterprise] = gen
	}
	c.mu.Unlock()
}

// Known is the newest generation known for an enterprise, if the knowledge is fresh.
func (c *cache) Known(enterprise string) (int64, bool) {
	if !c.fresh(time.Now()) {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.known[enterprise]
	return g, ok
}

type countKey struct{ enterprise, query string }

type countEntry struct{ generation, count int64 }

// maxCounts bounds the remembered counts; past it they are forgotten all at once.
const maxCounts = 4096

// Count returns the remembered number of regions matching a query (by fingerprint) at a
// generation. Paged lists report that total on every page; counting 100,000 rows each time would
// cost more than the page itself.
func (c *cache) Count(enterprise, query string, gen int64) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.counts[countKey{enterprise, query}]
	return e.count, ok && e.generation == gen
}

// PutCount remembers a count made at a generation.
func (c *cache) PutCount(enterprise, query string, gen, count int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.counts) >= maxCounts {
		clear(c.counts)
	}
	c.counts[countKey{enterprise, query}] = countEntry{gen, count}
}

func (c *cache) knownGen(enterprise string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known[enterprise]
}

// Bytes is the memory the kept lists take.
func (c *cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Poll fetches every enterprise's generation and records them. It returns the fetch's error.
func (c *cache) Poll(ctx context.Context, fetch func(context.Context) (map[string]int64, error)) error {
	start := time.Now()
	gens, err := fetch(ctx)
	if err != nil {
		return err
	}
	for ent, g := range gens {
		c.Observe(ent, g)
	}
	c.lastPoll.Store(start.UnixNano())
	return nil
}

// Run polls every quarter of the staleness bound until ctx ends, so that a poll or two may fail
// or be slow without the cache going cold.
func (c *cache) Run(ctx context.Context, fetch func(context.Context) (map[string]int64, error), onError func(error)) {
	interval := c.Staleness / 4
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, c.Staleness)
		if err := c.Poll(pctx, fetch); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
