package server

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/pagetoken"
	"github.com/regiond/regiond/internal/problem"
)

// Paged lists — regions, tokens, the audit trail — share their cursor handling: a signed page
// token bound to the query (pagetoken), and a Link header to the next page.

func badPageToken() error {
	return problem.WithFields(http.StatusBadRequest, problem.Field("page_token", pagetoken.ErrInvalid.Error()))
}

// position is where a page token says the page starts, for the query with this fingerprint; ""
// without a token.
func (s *Server) position(fingerprint string, pageToken *string) (string, error) {
	if pageToken == nil {
		return "", nil
	}
	pos, err := s.pages.Decode(fingerprint, *pageToken)
	if err != nil {
		return "", badPageToken()
	}
	return pos, nil
}

// nextLink is the Link header of the next page: the same query, with the next page's token.
func (s *Server) nextLink(path string, query url.Values, next string) string {
	query.Set("page_token", next)
	return "<" + s.cfg.BasePath + path + "?" + query.Encode() + `>; rel="next"`
}

func limitQuery(limit *int32) url.Values {
	v := url.Values{}
	if limit != nil {
		v.Set("limit", strconv.Itoa(int(*limit)))
	}
	return v
}

// regionQuery is a region list's query, less its page token.
func regionQuery(p api.ListRegionsParams) url.Values {
	v := limitQuery(p.Limit)
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
