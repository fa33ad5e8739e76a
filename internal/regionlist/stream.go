package regionlist

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/transport"
)

// streamedList writes a list the snapshot cache does not hold — one too large to keep, or a
// filtered one — read in chunks of --list-chunk regions with the paged list's keyset cursor.
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
	room        *Room
	ctx         context.Context
	q           store.RegionQuery
	v           convert.View
	tokenID     string
	fingerprint string
	ifNoneMatch *string
}

// errAborted reports a response that was cut off after it began; the request is logged and
// counted as aborted, then its connection is cut.
var errAborted = errors.New("response aborted")

func (l *streamedList) VisitListRegionsResponse(w http.ResponseWriter) error {
	room := l.room
	// The server's write timeout is for ordinary responses; a long list gets its own.
	ctx, cancel := context.WithTimeout(l.ctx, room.settings.StreamTimeout)
	defer cancel()
	q := l.q
	q.Limit = room.settings.ListChunk
	gen, count, first, err := l.firstChunk(ctx, q)
	if err != nil {
		return err
	}
	tag := listETag(q.EnterpriseID, gen, l.fingerprint)
	if l.ifNoneMatch != nil && etag.NoneMatch(*l.ifNoneMatch, tag) {
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	if err := encode(&buf, l.v, first, true); err != nil {
		return err
	}
	if count <= int64(q.Limit) { // the first chunk, read in the same snapshot as the count, is all of it
		buf.WriteByte(']')
		return listResponse{entry: newEntry(gen, buf.Bytes(), count, tag)}.VisitListRegionsResponse(w)
	}

	release, err := room.streams.acquire(l.tokenID)
	if err != nil {
		return err
	}
	defer release()
	h := w.Header()
	h.Set("ETag", tag)
	h["Content-Type"] = jsonContentType
	h.Set("X-Total-Count", strconv.FormatInt(count, 10))
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(room.settings.StreamTimeout))
	w.WriteHeader(http.StatusOK)
	chunk := first
	for {
		end := len(chunk) < q.Limit
		if end {
			buf.WriteByte(']')
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			room.log.Debug("the client of a streamed list stopped reading it", "request_id", transport.Info(l.ctx).ID, "error", err)
			return l.abort()
		}
		if end {
			return nil
		}
		buf.Reset()
		q.After = chunk[len(chunk)-1].RegionName
		if chunk, err = room.store.ListRegions(ctx, q); err == nil {
			err = encode(&buf, l.v, chunk, false)
		}
		if err != nil {
			if l.ctx.Err() == nil { // not merely a client that went away
				room.log.Error("reading a streamed region list failed; aborting the response",
					"request_id", transport.Info(l.ctx).ID, "error", err)
			}
			return l.abort()
		}
	}
}

// firstChunk reads, in one snapshot, the generation, the count, and unless If-None-Match matches
// that generation's tag, the first chunk of the list.
func (l *streamedList) firstChunk(ctx context.Context, q store.RegionQuery) (gen, count int64, first []region.Region, err error) {
	view, err := l.room.store.OpenView(ctx)
	if err != nil {
		return 0, 0, nil, err
	}
	defer view.Close()
	if gen, err = view.Generation(ctx, q.EnterpriseID); err != nil {
		return 0, 0, nil, err
	}
	if l.ifNoneMatch != nil && etag.NoneMatch(*l.ifNoneMatch, listETag(q.EnterpriseID, gen, l.fingerprint)) {
		return gen, 0, nil, nil
	}
	if count, err = view.CountRegions(ctx, q); err != nil {
		return 0, 0, nil, err
	}
	first, err = view.ListRegions(ctx, q)
	return gen, count, first, err
}

// abort marks the request aborted and says so.
func (l *streamedList) abort() error {
	transport.Info(l.ctx).Aborted = true
	return errAborted
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
