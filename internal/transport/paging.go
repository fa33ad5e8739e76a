package transport

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/regiond/regiond/internal/pagetoken"
	"github.com/regiond/regiond/internal/problem"
)

// Pages is what paged lists — regions, tokens, the audit trail — share: a signed page token bound
// to the query (pagetoken), and a Link header to the next page.
type Pages struct {
	codec    pagetoken.Codec
	basePath string
}

// defaultPageSize applies when page_token is given without limit.
const defaultPageSize = 100

// NewPages signs page tokens with key; links start with basePath.
func NewPages(key []byte, basePath string) Pages {
	return Pages{codec: pagetoken.New(key), basePath: basePath}
}

// BadPageToken is the problem of a page token that is not good for the query.
func BadPageToken() error {
	return problem.WithFields(http.StatusBadRequest, problem.Field("page_token", pagetoken.ErrInvalid.Error()))
}

// Page is one page of a list: how many items it holds, the query it belongs to (the etag.Hash of
// what must stay the same from page to page), and the position it starts after ("" for the first).
type Page struct {
	Limit       int
	Fingerprint string
	After       string
}

// Open is the page a request asks for, with its limit (defaultPageSize without one) and page
// token (none for the first page).
func (p Pages) Open(fingerprint string, limit *int32, pageToken *string) (Page, error) {
	pg := Page{Limit: defaultPageSize, Fingerprint: fingerprint}
	if limit != nil {
		pg.Limit = int(*limit)
	}
	if pageToken != nil {
		after, err := p.codec.Decode(fingerprint, *pageToken)
		if err != nil {
			return pg, BadPageToken()
		}
		pg.After = after
	}
	return pg, nil
}

// Next is the Link header of the page that follows pg after position: the same path and query
// (without a page token), with the next page's token.
func (p Pages) Next(pg Page, path string, query url.Values, position string) *string {
	query.Set("page_token", p.codec.Encode(pg.Fingerprint, position))
	link := "<" + p.basePath + path + "?" + query.Encode() + `>; rel="next"`
	return &link
}

// LimitQuery is the query of a list with only a limit.
func LimitQuery(limit *int32) url.Values {
	v := url.Values{}
	if limit != nil {
		v.Set("limit", strconv.Itoa(int(*limit)))
	}
	return v
}
