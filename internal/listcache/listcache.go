// Package listcache keeps pre-encoded region lists, so that the hottest call of the service is a
// map lookup and a write of bytes.
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
// Memory is bounded: entries larger than MaxEntry are not kept (the caller streams those lists
// from the database instead), and the least recently used entries are evicted to stay within
// Budget.
package listcache

import (
	"container/list"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Key identifies one list: an enterprise's regions, as one kind of caller sees them.
type Key struct {
	Enterprise string
	// View distinguishes representations of the same regions (with or without TLS fields).
	View string
}

// Entry is a pre-encoded list, with its response header values made once.
type Entry struct {
	Generation int64
	Body       []byte // nil when the list was too large to keep: stream it
	ETag       string
	Count      int64
	// BytesPerRegion is what a region took when the list was encoded (or found too large): the
	// next build uses it to tell, from the count alone, that a list is too large to keep.
	BytesPerRegion int64

	ETagHeader, CountHeader, LengthHeader []string
}

// NewEntry makes the entry of an encoded list.
func NewEntry(gen int64, body []byte, count int64, etag string) *Entry {
	e := &Entry{Generation: gen, Body: body, ETag: etag, Count: count,
		ETagHeader: []string{etag}, CountHeader: []string{strconv.FormatInt(count, 10)},
		LengthHeader: []string{strconv.Itoa(len(body))}}
	if count > 0 {
		e.BytesPerRegion = int64(len(body)) / count
	}
	return e
}

// TooLarge reports an entry that records only that its list exceeds MaxEntry.
func (e *Entry) TooLarge() bool { return e.Body == nil }

// Stats counts cache outcomes, for metrics.
type Stats struct{ Hits, Misses, Builds, Evictions atomic.Int64 }

// Cache is safe for concurrent use.
type Cache struct {
	Budget    int64         // bytes of Body kept at most
	MaxEntry  int64         // a list larger than this is not kept
	Staleness time.Duration // how old, at most, a served list may be relative to other replicas' writes
	Stats     Stats

	mu      sync.Mutex
	entries map[Key]*list.Element // of *item, most recently used at the front
	lru     *list.List
	used    int64
	known   map[string]int64 // newest generation seen per enterprise
	counts  map[countKey]countEntry
	// lastPoll is when the newest successful generation poll started (unix nanoseconds).
	lastPoll atomic.Int64
	group    singleflight.Group
}

type item struct {
	key   Key
	entry *Entry
}

// New makes a cache. Polling starts with Run.
func New(budget int64, staleness time.Duration) *Cache {
	c := &Cache{Budget: budget, MaxEntry: budget / 4, Staleness: staleness,
		entries: map[Key]*list.Element{}, lru: list.New(), known: map[string]int64{}, counts: map[countKey]countEntry{}}
	return c
}

// Fresh reports whether the generations were polled recently enough to serve from the cache.
func (c *Cache) Fresh() bool { return c.fresh(time.Now()) }

// fresh reports whether the generations are known recently enough to serve from the cache.
func (c *Cache) fresh(now time.Time) bool {
	return now.UnixNano()-c.lastPoll.Load() < int64(c.Staleness)
}

// Get returns the current entry for k, or nil.
func (c *Cache) Get(k Key) *Entry {
	fresh := c.fresh(time.Now())
	c.mu.Lock()
	el, ok := c.entries[k]
	var e *Entry
	if ok && fresh {
		if it := el.Value.(*item); it.entry.Generation == c.known[k.Enterprise] {
			e = it.entry
			c.lru.MoveToFront(el)
		}
	}
	c.mu.Unlock()
	if e != nil {
		c.Stats.Hits.Add(1)
	}
	return e
}

// Latest returns the entry kept for k, whatever its generation, or nil.
func (c *Cache) Latest(k Key) *Entry {
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
func (c *Cache) Load(k Key, build func() (*Entry, error)) (*Entry, error) {
	if e := c.Get(k); e != nil {
		return e, nil
	}
	c.Stats.Misses.Add(1) // counted here, not in Get: the fast path asks Get before the route's Load
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
		if e := v.(*Entry); e.Generation >= want {
			return e, nil
		}
	}
}

// put keeps e unless a newer generation is already known (the build raced with a write).
func (c *Cache) put(k Key, e *Entry) {
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
func (c *Cache) Observe(enterprise string, gen int64) {
	c.mu.Lock()
	if gen > c.known[enterprise] {
		c.known[enterprise] = gen
	}
	c.mu.Unlock()
}

// Known is the newest generation known for an enterprise, if the knowledge is fresh.
func (c *Cache) Known(enterprise string) (int64, bool) {
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
func (c *Cache) Count(enterprise, query string, gen int64) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.counts[countKey{enterprise, query}]
	return e.count, ok && e.generation == gen
}

// PutCount remembers a count made at a generation.
func (c *Cache) PutCount(enterprise, query string, gen, count int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.counts) >= maxCounts {
		clear(c.counts)
	}
	c.counts[countKey{enterprise, query}] = countEntry{gen, count}
}

func (c *Cache) knownGen(enterprise string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known[enterprise]
}

// Bytes is the memory the kept lists take.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Poll fetches every enterprise's generation and records them. It returns the fetch's error.
func (c *Cache) Poll(ctx context.Context, fetch func(context.Context) (map[string]int64, error)) error {
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
func (c *Cache) Run(ctx context.Context, fetch func(context.Context) (map[string]int64, error), onError func(error)) {
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
