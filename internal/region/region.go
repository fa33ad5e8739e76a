// Package region holds the domain model of a region (data center) and the rules about its
// fields that a JSON schema cannot express: URL schemes, host names, and TLS material.
package region

import (
	"strconv"
	"time"
)

// Status is the lifecycle status, a string as in Rainbond.
type Status string

const (
	StatusEditing     Status = "0"
	StatusEnabled     Status = "1"
	StatusDisabled    Status = "2"
	StatusMaintenance Status = "3"
)

// Scope says who may use a region.
type Scope string

const (
	ScopePrivate Scope = "private"
	ScopePublic  Scope = "public"
)

// Region is one Kubernetes cluster the platform deploys to. The TLS fields hold plain PEM here;
// the store encrypts KeyFile at rest.
type Region struct {
	EnterpriseID string
	RegionID     string
	RegionName   string
	RegionAlias  string
	URL          string
	WSURL        string
	HTTPDomain   string
	TCPDomain    string
	Status       Status
	Desc         string
	Scope        Scope
	SSLCACert    *string
	CertFile     *string
	KeyFile      *string
	// Version increases by one on every change; entity tags and conditional writes use it.
	Version    int64
	CreateTime time.Time
	UpdateTime time.Time
}

// Fields names the API fields of a region, in the order of Rainbond's RegionInfoResp.
var Fields = []string{
	"region_id", "region_name", "region_alias", "url", "wsurl", "httpdomain", "tcpdomain",
	"status", "desc", "scope", "ssl_ca_cert", "cert_file", "key_file",
}

// ChangedFields lists the API fields whose values differ between a and b, for the audit trail.
func ChangedFields(a, b Region) []string {
	var changed []string
	add := func(name string, differ bool) {
		if differ {
			changed = append(changed, name)
		}
	}
	add("region_name", a.RegionName != b.RegionName)
	add("region_alias", a.RegionAlias != b.RegionAlias)
	add("url", a.URL != b.URL)
	add("wsurl", a.WSURL != b.WSURL)
	add("httpdomain", a.HTTPDomain != b.HTTPDomain)
	add("tcpdomain", a.TCPDomain != b.TCPDomain)
	add("status", a.Status != b.Status)
	add("desc", a.Desc != b.Desc)
	add("scope", a.Scope != b.Scope)
	add("ssl_ca_cert", !equalPtr(a.SSLCACert, b.SSLCACert))
	add("cert_file", !equalPtr(a.CertFile, b.CertFile))
	add("key_file", !equalPtr(a.KeyFile, b.KeyFile))
	return changed
}

// Change is what a write asks of a stored region's fields: a nil field is left as it is. For the
// TLS fields, a pointer to nil clears the field.
type Change struct {
	RegionName, RegionAlias, URL, WSURL, HTTPDomain, TCPDomain, Desc *string
	Status                                                           *Status
	Scope                                                            *Scope
	SSLCACert, CertFile, KeyFile                                     **string
}

// SetsTLS reports whether the change gives a value to a TLS field (clearing one is not setting it).
func (c Change) SetsTLS() bool {
	for _, f := range []**string{c.SSLCACert, c.CertFile, c.KeyFile} {
		if f != nil && *f != nil {
			return true
		}
	}
	return false
}

// WithoutTLS is the change less what it asks of the TLS fields, which are then left as they are.
func (c Change) WithoutTLS() Change {
	c.SSLCACert, c.CertFile, c.KeyFile = nil, nil, nil
	return c
}

// Apply is cur with the change made. Region names never change — Rainbond identifies clusters by
// name — so a change to another name is Invalid.
func (c Change) Apply(cur Region) (Region, error) {
	if c.RegionName != nil && *c.RegionName != cur.RegionName {
		return cur, Invalid{{Field: "region_name", Message: "cannot be changed (it is " + strconv.Quote(cur.RegionName) + "): Rainbond identifies clusters by name"}}
	}
	next := cur
	for _, f := range []struct{ dst, src *string }{
		{&next.RegionAlias, c.RegionAlias}, {&next.URL, c.URL}, {&next.WSURL, c.WSURL},
		{&next.HTTPDomain, c.HTTPDomain}, {&next.TCPDomain, c.TCPDomain}, {&next.Desc, c.Desc},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if c.Status != nil {
		next.Status = *c.Status
	}
	if c.Scope != nil {
		next.Scope = *c.Scope
	}
	for _, f := range []struct{ dst, src **string }{{&next.SSLCACert, c.SSLCACert}, {&next.CertFile, c.CertFile}, {&next.KeyFile, c.KeyFile}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return next, nil
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
