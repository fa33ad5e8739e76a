// Package convert maps between the API's models (gen/api) and the domain's (region, token, the
// store's audit events), both ways, and turns the domain's and the store's errors into problems.
// The domain knows nothing of the API: everything that translates lives here.
package convert

import (
	"strconv"
	"strings"

	"github.com/oapi-codegen/nullable"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
)

// View is one representation of regions: which TLS fields a caller sees.
type View struct {
	Name    string
	Reading store.Reading
}

var (
	Public  = View{"public", store.Public}       // no TLS field
	Certs   = View{"certs", store.WithCerts}     // lists for regions:secrets: no key_file, ever
	Secrets = View{"secrets", store.WithSecrets} // one region for regions:secrets
)

// DetailView is how a caller sees one region.
func DetailView(p token.Principal) View {
	if p.Has(token.RegionsSecrets) {
		return Secrets
	}
	return Public
}

// ListView is how a caller sees a list of regions.
func ListView(p token.Principal) View {
	if p.Has(token.RegionsSecrets) {
		return Certs
	}
	return Public
}

// Region is a region as Rainbond's RegionInfoResp: all 13 members present, TLS fields the view
// does not include set to an explicit null — whatever r holds.
func (v View) Region(r region.Region) api.RegionInfoResp {
	if v.Reading < store.WithCerts {
		r.SSLCACert, r.CertFile = nil, nil
	}
	if v.Reading < store.WithSecrets {
		r.KeyFile = nil
	}
	return api.RegionInfoResp{
		RegionId:    r.RegionID,
		RegionName:  r.RegionName,
		RegionAlias: r.RegionAlias,
		Url:         r.URL,
		Wsurl:       r.WSURL,
		Httpdomain:  r.HTTPDomain,
		Tcpdomain:   r.TCPDomain,
		Status:      api.RegionStatus(r.Status),
		Desc:        r.Desc,
		Scope:       api.RegionScope(r.Scope),
		SslCaCert:   nullableOf(r.SSLCACert),
		CertFile:    nullableOf(r.CertFile),
		KeyFile:     nullableOf(r.KeyFile),
	}
}

// ETag is the entity tag of a region as the view shows it: its version, with a suffix for the
// representation that carries TLS material, so that each has its own strong tag ("r3", "r3s").
func (v View) ETag(version int64) string {
	t := `"r` + strconv.FormatInt(version, 10)
	if v == Secrets {
		t += "s"
	}
	return t + `"`
}

// ListETag is the entity tag of a list: it condenses the enterprise's generation, the
// representation and the query.
func ListETag(parts ...string) string { return `"l` + etag.Hash(parts...) + `"` }

// nullableOf is always specified: a required nullable member left unspecified would encode as "",
// not null.
func nullableOf(p *string) nullable.Nullable[string] {
	if p == nil {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(*p)
}

// Replacement is the change a PUT body makes: every field, absent ones taking the API's defaults.
func Replacement(b api.RegionReplace) region.Change {
	r := apispec.NewRegion(api.RegionCreate(b))
	return region.Change{RegionName: &r.RegionName, RegionAlias: &r.RegionAlias, URL: &r.URL, WSURL: &r.WSURL,
		HTTPDomain: &r.HTTPDomain, TCPDomain: &r.TCPDomain, Desc: &r.Desc, Status: &r.Status, Scope: &r.Scope,
		SSLCACert: &r.SSLCACert, CertFile: &r.CertFile, KeyFile: &r.KeyFile}
}

// Patch is the change a JSON merge patch makes: the fields it names (null clears a TLS field).
func Patch(b api.RegionPatch) region.Change {
	c := region.Change{RegionName: b.RegionName, RegionAlias: b.RegionAlias, URL: b.Url, WSURL: b.Wsurl,
		HTTPDomain: b.Httpdomain, TCPDomain: b.Tcpdomain, Desc: b.Desc}
	if b.Status != nil {
		st := apispec.StatusOr(b.Status, "")
		c.Status = &st
	}
	if b.Scope != nil {
		sc := region.Scope(*b.Scope)
		c.Scope = &sc
	}
	for _, f := range []struct {
		dst ***string
		src nullable.Nullable[string]
	}{{&c.SSLCACert, b.SslCaCert}, {&c.CertFile, b.CertFile}, {&c.KeyFile, b.KeyFile}} {
		if f.src.IsSpecified() { // absent: unchanged; null: cleared
			v := apispec.TLSValue(f.src)
			*f.dst = &v
		}
	}
	return c
}

// Precondition is what If-Match allows a write on. No header, or "*", allows any version (the
// region must merely exist); weak tags never match (strong comparison), and a tag regiond did not
// make matches nothing (412). Without the header, a server that requires it answers 428.
func Precondition(ifMatch *string, required bool) (store.Precondition, error) {
	if ifMatch == nil {
		if required {
			return store.Precondition{}, problem.New(428, "this server requires If-Match on writes; send the ETag you read")
		}
		return store.Precondition{}, nil
	}
	p := store.Precondition{Limited: true}
	for _, t := range etag.Tags(*ifMatch) {
		if t == "*" {
			return store.Precondition{}, nil
		}
		if v, ok := regionVersion(t); ok {
			p.Versions = append(p.Versions, v)
		}
	}
	return p, nil
}

// regionVersion reads the version out of a strong region tag, extended ones included (the probed
// members they also hash cannot be written, so a write is conditional on the version alone).
func regionVersion(t string) (int64, bool) {
	if len(t) < 4 || !strings.HasPrefix(t, `"r`) || !strings.HasSuffix(t, `"`) {
		return 0, false
	}
	inner := t[2 : len(t)-1]
	if i := strings.Index(inner, ".h"); i >= 0 {
		inner = inner[:i]
	}
	v, err := strconv.ParseInt(strings.TrimSuffix(inner, "s"), 10, 64)
	return v, err == nil && v > 0
}
