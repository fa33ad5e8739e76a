package convert

import (
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/regiond/regiond/gen/api"
	"github.com/regiond/regiond/internal/probe"
	"github.com/regiond/regiond/internal/region"
)

// RegionHealth is a region's health as the API shows it, with its certificates as stored now:
// every member present, what is not known yet null.
func RegionHealth(h region.Health, certs []probe.CertInfo) api.RegionHealth {
	out := api.RegionHealth{
		RegionId:             h.RegionID,
		State:                api.RegionHealthState(h.State),
		Reason:               nullable.NewNullNullable[api.RegionHealthReason](),
		Detail:               h.Detail,
		CheckedAt:            nullTime(h.CheckedAt),
		LatencyMs:            nullable.NewNullNullable[int64](),
		LastHealthyAt:        nullTime(h.LastHealthyAt),
		ConsecutiveFailures:  int32(h.ConsecutiveFailures),
		Version:              nullable.NewNullNullable[string](),
		Certificates:         make([]api.RegionCertificate, 0, len(certs)),
		CertificatesExpiring: false,
	}
	if h.Reason != "" {
		out.Reason.Set(api.RegionHealthReason(h.Reason))
	}
	if h.LatencyMS != nil {
		out.LatencyMs.Set(*h.LatencyMS)
	}
	if h.Version != "" {
		out.Version.Set(h.Version)
	}
	for _, c := range certs {
		out.Certificates = append(out.Certificates, api.RegionCertificate{Field: api.RegionCertificateField(c.Field),
			Subject: c.Subject, NotAfter: c.NotAfter, ExpiresInDays: int32(c.ExpiresInDays), ExpiringSoon: c.ExpiringSoon})
		out.CertificatesExpiring = out.CertificatesExpiring || c.ExpiringSoon
	}
	return out
}

func nullTime(t *time.Time) nullable.Nullable[time.Time] {
	if t == nil {
		return nullable.NewNullNullable[time.Time]()
	}
	return nullable.NewNullableWithValue(t.UTC())
}
