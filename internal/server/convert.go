package server

import (
	"github.com/oapi-codegen/nullable"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
)

// view is one representation of regions: which TLS fields a caller sees.
type view struct {
	name    string
	reading store.Reading
}

var (
	hiddenView  = view{"public", store.Public}       // no TLS field
	certsView   = view{"certs", store.WithCerts}     // lists for regions:secrets: no key_file, ever
	secretsView = view{"secrets", store.WithSecrets} // one region for regions:secrets
)

func detailView(p token.Principal) view {
	if p.Has(token.RegionsSecrets) {
		return secretsView
	}
	return hiddenView
}

func listView(p token.Principal) view {
	if p.Has(token.RegionsSecrets) {
		return certsView
	}
	return hiddenView
}

// toAPI is a region as Rainbond's RegionInfoResp: all 13 members present, TLS fields the view
// does not include set to an explicit null — whatever r holds.
func (v view) toAPI(r region.Region) api.RegionInfoResp {
	if v.reading < store.WithCerts {
		r.SSLCACert, r.CertFile = nil, nil
	}
	if v.reading < store.WithSecrets {
		r.KeyFile = nil
	}
	scope := api.RegionScope(r.Scope)
	return api.RegionInfoResp{
		RegionId:    &r.RegionID,
		RegionName:  r.RegionName,
		RegionAlias: r.RegionAlias,
		Url:         r.URL,
		Wsurl:       &r.WSURL,
		Httpdomain:  &r.HTTPDomain,
		Tcpdomain:   &r.TCPDomain,
		Status:      api.RegionStatus(r.Status),
		Desc:        r.Desc,
		Scope:       &scope,
		SslCaCert:   nullableOf(r.SSLCACert),
		CertFile:    nullableOf(r.CertFile),
		KeyFile:     nullableOf(r.KeyFile),
	}
}

func nullableOf(p *string) nullable.Nullable[string] {
	if p == nil {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(*p)
}

// setsTLS reports whether a request gives a value (not null) to a TLS field.
func setsTLS(fields ...nullable.Nullable[string]) bool {
	for _, f := range fields {
		if apispec.TLSValue(f) != nil {
			return true
		}
	}
	return false
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
