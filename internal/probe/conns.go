package probe

import (
	"sync"
	"time"
)

// KeepIdle is how long a kept connection may wait for its region's next probe: a scheduler keeps
// connections only when it probes more often than that (at 30s and more every probe reads the
// details, on a new connection, anyway); short enough that regions probed by another replica, or
// deleted, do not hold connections open for long.
const KeepIdle = 15 * time.Second

// Conns keeps each region's connection from its last healthy probe, for the scheduler's next
// one. At short intervals (1s, a thousand regions) connecting anew for every probe cost the
// prober and the region more than the request itself: with Conns, a probe that skips the details
// (Options.SkipDetails) asks /v2/health on the kept connection, and a probe that reads them
// (every DetailsEvery, 30s) connects anew and so checks DNS, the deny list and the TLS handshake
// again. A kept connection that fails is closed and the probe is made again on a new one, so an
// unhealthy result always comes from a new connection, with the exact reason.
//
// A connection is kept for the region's target as it was probed: a new url or new TLS material
// connects anew. The zero value is ready; Close closes every kept connection.
type Conns struct {
	mu       sync.Mutex
	sessions map[string]*session // by region id
	swept    time.Time
}

// take removes and returns the kept session of t, nil when there is none for t as it is now.
func (c *Conns) take(t Target) *session {
	c.mu.Lock()
	s := c.sessions[t.RegionID]
	delete(c.sessions, t.RegionID)
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	if s.target != t || time.Since(s.used) >= KeepIdle {
		s.close()
		return nil
	}
	return s
}

// keep stores s for its region's next probe when it still has a connection the region keeps
// open (c nil: a probe on demand keeps nothing), and closes the sessions no probe used for
// KeepIdle; a session it does not keep is closed.
func (c *Conns) keep(s *session) {
	if c == nil || s.conn == nil {
		s.close()
		return
	}
	now := time.Now()
	s.used = now
	var closing []*session
	c.mu.Lock()
	if c.sessions == nil {
		c.sessions = make(map[string]*session)
	}
	if old := c.sessions[s.target.RegionID]; old != nil {
		closing = append(closing, old)
	}
	c.sessions[s.target.RegionID] = s
	if now.Sub(c.swept) >= KeepIdle {
		c.swept = now
		for id, k := range c.sessions {
			if now.Sub(k.used) >= KeepIdle {
				closing = append(closing, k)
				delete(c.sessions, id)
			}
		}
	}
	c.mu.Unlock()
	for _, k := range closing {
		k.close()
	}
}

// Len is the number of regions with a kept connection.
func (c *Conns) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions)
}

// Close closes every kept connection.
func (c *Conns) Close() {
	c.mu.Lock()
	sessions := c.sessions
	c.sessions = nil
	c.mu.Unlock()
	for _, s := range sessions {
		s.close()
	}
}
