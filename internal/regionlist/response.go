package regionlist

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
)

// listResponse writes a list that is already encoded, with header values made once per entry.
type listResponse struct {
	entry       *entry
	link        *string
	notModified bool
}

func (l listResponse) VisitListRegionsResponse(w http.ResponseWriter) error {
	h, e := w.Header(), l.entry
	h["Etag"] = e.ETagHeader
	if l.notModified {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h["Content-Type"] = jsonContentType
	h["X-Total-Count"] = e.CountHeader
	h["Content-Length"] = e.LengthHeader
	if l.link != nil {
		h["Link"] = []string{*l.link}
	}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(e.Body)
	return err
}

var jsonContentType = []string{"application/json"}

// cachedList writes a snapshot as it is.
type cachedList entry

func (l *cachedList) VisitListRegionsResponse(w http.ResponseWriter) error {
	return listResponse{entry: (*entry)(l)}.VisitListRegionsResponse(w)
}

// encode appends the regions, as the view shows them, to a JSON array on buf: each after a comma
// but the array's first (first: buf holds only its opening bracket).
func encode(buf *bytes.Buffer, v convert.View, regions []region.Region, first bool) error {
	for i, r := range regions {
		if !first || i > 0 {
			buf.WriteByte(',')
		}
		b, err := json.Marshal(v.Region(r))
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	return nil
}

// minRegionJSON is the fewest bytes a region takes in a list: its 13 members with one-letter
// values and nulls. A list of n regions takes at least n times this.
const minRegionJSON = 220

// build encodes an enterprise's whole list at one generation, reading it in chunks within one
// store.View. Memory stays bounded at any size: a list whose count, times the bytes a region took
// last time (at least minRegionJSON), exceeds the cache's entry limit is not encoded at all, and an
// encoding that outgrows the limit stops; the entry then records only that the list is too large,
// and it is streamed.
func (room *Room) build(ctx context.Context, k key, q store.RegionQuery, v convert.View) (*entry, error) {
	perRegion := int64(minRegionJSON)
	if last := room.cache.Latest(k); last != nil && last.BytesPerRegion > perRegion {
		perRegion = last.BytesPerRegion
	}
	view, err := room.store.OpenView(ctx)
	if err != nil {
		return nil, err
	}
	defer view.Close()
	gen, err := view.Generation(ctx, q.EnterpriseID)
	if err != nil {
		return nil, err
	}
	count, err := view.CountRegions(ctx, q)
	if err != nil {
		return nil, err
	}
	if count*perRegion > room.cache.MaxEntry {
		return &entry{Generation: gen, Count: count, BytesPerRegion: perRegion}, nil
	}
	buf := bytes.NewBuffer(make([]byte, 0, count*perRegion+2))
	buf.WriteByte('[')
	q.Limit = room.settings.ListChunk
	var n int64
	for {
		regions, err := view.ListRegions(ctx, q)
		if err != nil {
			return nil, err
		}
		for i := range regions {
			if int64(buf.Len()) > room.cache.MaxEntry {
				return &entry{Generation: gen, Count: count, BytesPerRegion: int64(buf.Len()) / n}, nil
			}
			if err := encode(buf, v, regions[i:i+1], n == 0); err != nil {
				return nil, err
			}
			n++
		}
		if len(regions) < q.Limit {
			break
		}
		q.After = regions[len(regions)-1].RegionName
	}
	buf.WriteByte(']')
	return newEntry(gen, buf.Bytes(), n, listETag(q.EnterpriseID, gen, v.Name)), nil
}
