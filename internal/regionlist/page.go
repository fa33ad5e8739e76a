package regionlist

import (
	"bytes"
	"context"
	"net/url"
	"strconv"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/convert"
	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/transport"
)

// page reads one page of a list with a keyset cursor: the regions whose name sorts after the last
// one of the previous page. X-Total-Count is counted once per generation and query.
func (room *Room) page(ctx context.Context, q store.RegionQuery, v convert.View, fingerprint string, params api.ListRegionsParams) (api.ListRegionsResponseObject, error) {
	pg, err := room.pages.Open(fingerprint, params.Limit, params.PageToken)
	if err != nil {
		return nil, err
	}
	limit := pg.Limit
	q.After = pg.After
	q.Limit = limit + 1 // one more tells whether a next page exists
	// The generation names the data in the page's ETag and keys its X-Total-Count. It is read
	// before the rows, so a tag is never newer than its page; the cache knows it without a query
	// (exactly after this replica's writes, within the staleness bound after other replicas').
	gen, known := room.cache.Known(q.EnterpriseID)
	count, counted := room.cache.Count(q.EnterpriseID, fingerprint, gen)
	if !known || !counted {
		if gen, count, err = room.count(ctx, q); err != nil {
			return nil, err
		}
		room.cache.PutCount(q.EnterpriseID, fingerprint, gen, count)
	}
	regions, err := room.store.ListRegions(ctx, q)
	if err != nil {
		return nil, err
	}
	var pageToken string
	if params.PageToken != nil {
		pageToken = *params.PageToken
	}
	tag := listETag(q.EnterpriseID, gen, fingerprint, pageToken, strconv.Itoa(limit))
	var resp listResponse
	if len(regions) > limit {
		regions = regions[:limit]
		resp.link = room.pages.Next(pg, "/openapi/v1/regions", regionQuery(params), regions[limit-1].RegionName)
	}
	buf := bytes.NewBuffer(make([]byte, 0, 512*len(regions)+2))
	buf.WriteByte('[')
	if err := encode(buf, v, regions, true); err != nil {
		return nil, err
	}
	buf.WriteByte(']')
	resp.entry = newEntry(gen, buf.Bytes(), count, tag)
	resp.notModified = params.IfNoneMatch != nil && etag.NoneMatch(*params.IfNoneMatch, tag)
	return resp, nil
}

// count reads an enterprise's generation and the number of regions q selects, in one snapshot.
func (room *Room) count(ctx context.Context, q store.RegionQuery) (gen, count int64, err error) {
	view, err := room.store.OpenView(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer view.Close()
	if gen, err = view.Generation(ctx, q.EnterpriseID); err != nil {
		return 0, 0, err
	}
	count, err = view.CountRegions(ctx, q)
	return gen, count, err
}

// regionQuery is a region list's query, less its page token.
func regionQuery(p api.ListRegionsParams) url.Values {
	v := transport.LimitQuery(p.Limit)
	if p.Status != nil {
		for _, st := range *p.Status {
			v.Add("status", string(st))
		}
	}
	if p.Scope != nil {
		v.Set("scope", string(*p.Scope))
	}
	if p.Q != nil {
		v.Set("q", *p.Q)
	}
	return v
}
