package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/regiond/regiond/internal/listcache"
	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
)

// streamedList writes a list the snapshot cache does not hold — one too large to keep, or a
// filtered one — read in chunks of Config.ListChunk regions with the paged list's keyset cursor.
// Each chunk is one short query under the store's query deadline, its rows read and its
// connection released before any of it is written: a client's reading speed never holds a
// database connection, a lock or a transaction, and memory stays bounded by one chunk.
//
// A list whose first chunk is the whole of it is an ordinary response, with Content-Length. A
// longer one is streamed, within the bounds of streamLimiter, and is as consistent as a keyset
// walk: each region that existed throughout is written exactly once, in order. Its ETag names the
// generation read before the first chunk; when writes land during the walk, the generation moves
// past it for good (generations only grow), so the tag never matches again and the client's next
// If-None-Match gets the list anew. If the database fails once the first bytes are out, the
// response is aborted, so that the client sees a failure, not a short list.
type streamedList struct {
	s           *Server
	ctx         context.Context
	q           store.RegionQuery
	v           view
	tokenID     string
	fingerprint string
	ifNoneMatch *string
}

// errAborted reports a response that was cut off after it began; front logs and counts the
// request, then aborts the connection.
var errAborted = errors.New("response aborted")

func (l streamedList) VisitListRegionsResponse(w http.ResponseWriter) error {
	s := l.s
	// The server's write timeout is for ordinary responses; a long list gets its own.
	ctx, cancel := context.WithTimeout(l.ctx, s.cfg.StreamTimeout)
	defer cancel()
	q := l.q
	q.Limit = s.cfg.ListChunk
	var (
		gen, count  int64
		notModified bool
		n           int
		last        string
		buf         bytes.Buffer
	)
	buf.WriteByte('[')
	err := s.store.View(ctx, func(tx *store.Store) error {
		var err error
		if gen, err = tx.Generation(ctx, q.EnterpriseID); err != nil {
			return err
		}
		if notModified = noneMatch(l.ifNoneMatch, l.etag(gen)); notModified {
			return nil
		}
		if count, err = tx.CountRegions(ctx, q); err != nil {
			return err
		}
		n, last, err = l.readChunk(ctx, tx, q, &buf)
		return err
	})
	if err != nil {
		return err
	}
	etag := l.etag(gen)
	if notModified {
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if count <= int64(q.Limit) { // the first chunk, read in the same snapshot as the count, is all of it
		buf.WriteByte(']')
		return listResponse{entry: listcache.NewEntry(gen, buf.Bytes(), count, etag)}.VisitListRegionsResponse(w)
	}

	release, err := s.streams.acquire(l.tokenID)
	if err != nil {
		return err
	}
	defer release()
	h := w.Header()
	h.Set("ETag", etag)
	h["Content-Type"] = jsonContentType
	h.Set("X-Total-Count", strconv.FormatInt(count, 10))
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.StreamTimeout))
	w.WriteHeader(http.StatusOK)
	for {
		end := n < q.Limit
		if end {
			buf.WriteByte(']')
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			s.log.Debug("the client of a streamed list stopped reading it", "request_id", callFrom(l.ctx).requestID, "error", err)
			return errAborted
		}
		if end {
			return nil
		}
		buf.Reset()
		q.After = last
		if n, last, err = l.readChunk(ctx, s.store, q, &buf); err != nil {
			if l.ctx.Err() == nil { // not merely a client that went away
				s.log.Error("reading a streamed region list failed; aborting the response",
					"request_id", callFrom(l.ctx).requestID, "error", err)
			}
			return errAborted
		}
	}
}

func (l streamedList) etag(gen int64) string {
	return listETag(l.q.EnterpriseID, strconv.FormatInt(gen, 10), l.fingerprint)
}

// readChunk encodes the regions q selects onto buf, each after a comma but the list's first, and
// returns how many there were and the last one's name (the next chunk's cursor). The rows are
// all read, and the connection released, when it returns.
func (l streamedList) readChunk(ctx context.Context, st *store.Store, q store.RegionQuery, buf *bytes.Buffer) (n int, last string, err error) {
	err = st.EachRegion(ctx, q, func(r region.Region) error {
		if q.After != "" || n > 0 {
			buf.WriteByte(',')
		}
		n++
		last = r.RegionName
		return appendJSON(buf, l.v.toAPI(r))
	})
	return n, last, err
}

// streamLimiter bounds the lists streamed at once, per token and per replica: each holds a
// socket and a chunk of memory for as long as its client takes to read it (up to the stream
// timeout). Beyond the bounds a request is refused at once rather than queued.
type streamLimiter struct {
	perToken, total int

	mu      sync.Mutex
	active  int
	byToken map[string]int
}

func newStreamLimiter(perToken, total int) *streamLimiter {
	return &streamLimiter{perToken: perToken, total: total, byToken: map[string]int{}}
}

// acquire takes a stream for a token, or says why not: 429 when the token has all of its own,
// 503 when the replica has all of its.
func (l *streamLimiter) acquire(tokenID string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byToken[tokenID] >= l.perToken {
		return nil, problem.Newf(http.StatusTooManyRequests,
			"this token is already streaming %d large lists, the most it may at once; retry after 1 second(s), or read the list in pages (limit)", l.perToken).
			WithHeader("Retry-After", "1")
	}
	if l.active >= l.total {
		return nil, problem.Unavailable("this replica is streaming as many large lists as it may at once; retry later, or read the list in pages (limit)", 1, nil)
	}
	l.active++
	l.byToken[tokenID]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.active--
		if l.byToken[tokenID]--; l.byToken[tokenID] == 0 {
			delete(l.byToken, tokenID)
		}
	}, nil
}
