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

// DefaultPageSize applies when page_token is given without limit.
const DefaultPageSize = 100

// NewPages signs page tokens with key; links start with basePath.
func NewPages(key []byte, basePath string) Pages {
	return Pages{codec: pagetoken.New(key), basePath: basePath}
}

// BadPageToken is the problem of a page token that is not good for the query.
func BadPageToken() error {
	return problem.WithFields(http.StatusBadRequest, problem.Field("page_token", pagetoken.ErrInvalid.Error()))
}

// Position is where a page token says the page starts, for the query with this fingerprint; ""
// without a token.
func (p Pages) Position(fingerprint string, pageToken *string) (string, error) {
	if pageToken == nil {
		return "", nil
	}
	pos, err := p.codec.Decode(fingerprint, *pageToken)
	if err != nil {
		return "", BadPageToken()
	}
	return pos, nil
}

// NextLink is the Link header of the page after position: the same query (path, and query less
// its page token), with the next page's token.
func (p Pages) NextLink(path string, query url.Values, fingerprint, position string) string {
	query.Set("page_token", p.codec.Encode(fingerprint, position))
	return "<" + p.basePath + path + "?" + query.Encode() + `>; rel="next"`
}

// Limit is a list's page size: limit, or DefaultPageSize.
func Limit(limit *int32) int {
	if limit == nil {
		return DefaultPageSize
	}
	return int(*limit)
}

// LimitQuery is the query of a list with only a limit.
func LimitQuery(limit *int32) url.Values {
	v := url.Values{}
	if limit != nil {
		v.Set("limit", strconv.Itoa(int(*limit)))
	}
	return v
}
