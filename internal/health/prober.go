// Package health keeps every region's health: a background Scheduler that probes each region's
// API (internal/probe) once per interval among all replicas, through claims on the store's health
// rows; the probe on demand of the API (Prober.ProbeNow); and the Prometheus Collector of the
// stored results. Health is an observation: it never changes a region's status, which is the
// operator's.
package health

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/regiond/regiond/internal/config"
	"github.com/regiond/regiond/internal/probe"
	"github.com/regiond/regiond/internal/region"
	"github.com/regiond/regiond/internal/store"
)

// MaxBackoff bounds the wait between two probes of a failing region.
const MaxBackoff = 5 * time.Minute

// Prober probes a region and stores what it saw.
type Prober struct {
	Store   *store.Store
	Options probe.Options
	// Interval separates two probes of a healthy region (0: the default, 30s).
	Interval time.Duration
	// CertWarnDays is the warning window of the certificates' expiry.
	CertWarnDays int
	// Now is the clock (time.Now by default): tests move it instead of waiting.
	Now func() time.Time
}

// NewProber makes the prober the settings describe.
func NewProber(st *store.Store, cfg config.Probe) (*Prober, error) {
	deny, err := probe.ParseDenyList(cfg.ProbeDenyCIDRs)
	if err != nil {
		return nil, err
	}
	return &Prober{Store: st, Options: probe.Options{Timeout: cfg.ProbeTimeout, Deny: deny}, Interval: cfg.ProbeInterval,
		CertWarnDays: cfg.CertWarnDays}, nil
}

func (p *Prober) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// ProbeNow probes one region of an enterprise at once, stores the result (whatever the schedule)
// and returns the region's health as stored. store.ErrNotFound: no such region there.
func (p *Prober) ProbeNow(ctx context.Context, enterpriseID, regionID string) (region.Health, error) {
	r, err := p.Store.GetRegion(ctx, enterpriseID, regionID, store.WithSecrets)
	unreadable := errors.Is(err, store.ErrSecretUnreadable)
	if err != nil && !unreadable {
		return region.Health{}, err
	}
	// A caller that goes away must not leave a false "timeout" behind: the probe runs to its end
	// (within the probe timeout) and is stored.
	ctx = context.WithoutCancel(ctx)
	res := p.probe(ctx, newSubject(r, unreadable), nil, nil)
	if _, err := p.Store.RecordHealth(ctx, res, p.schedule(p.now())); err != nil {
		return region.Health{}, err
	}
	return p.Store.RegionHealth(ctx, enterpriseID, regionID)
}

// DetailsEvery is how old a region's version and cluster resources may grow before a scheduled
// probe reads them again: at the default interval (30s) every probe reads them; at 1s, one probe
// in 30. They change rarely, and reading them is two of a probe's three requests. A probe that
// reads them also connects anew, checking DNS and TLS again; the probes between ask /v2/health on
// the connection kept from the last (probe.Conns). A probe on demand always reads them.
const DetailsEvery = 30 * time.Second

// subject is a region as its probes need it, made once per claim: a held region is probed many
// times with the same stored material, whose certificates' expiry need not be parsed again for
// each probe (two certificates: about 18 µs, probe's BenchmarkCertificates).
type subject struct {
	target probe.Target
	// keyUnreadable says the stored key_file could not be decrypted.
	keyUnreadable bool
	// The earliest not_after of ssl_ca_cert's and of cert_file's certificates, nil when none parses.
	sslCACertNotAfter, certFileNotAfter *time.Time
}

func newSubject(r region.Region, keyUnreadable bool) subject {
	s := subject{target: Target(r), keyUnreadable: keyUnreadable}
	// Only not_after is read, which does not depend on the time given.
	for _, c := range probe.Certificates(s.target, 0, time.Time{}) {
		first := &s.sslCACertNotAfter
		if c.Field == "cert_file" {
			first = &s.certFileNotAfter
		}
		if *first == nil || c.NotAfter.Before(**first) {
			at := c.NotAfter
			*first = &at
		}
	}
	return s
}

// probe checks a region once; detailsAt says when its version and cluster resources were last
// read (nil: never, or a probe on demand), and conns keeps connections between a scheduler's
// probes (nil: a probe on demand connects anew).
func (p *Prober) probe(ctx context.Context, subj subject, detailsAt *time.Time, conns *probe.Conns) store.ProbeResult {
	t := subj.target
	var res probe.Result
	o := p.Options
	o.SkipDetails = detailsAt != nil && p.now().Sub(*detailsAt) < DetailsEvery
	o.Conns = conns
	if subj.keyUnreadable {
		at := p.now().UTC()
		res = probe.Result{RegionID: t.RegionID, State: probe.StateUnhealthy, Reason: probe.ReasonInvalidMaterial, CheckedAt: at,
			Detail: "key_file: cannot be decrypted with this server's encryption keys"}
	} else {
		res = probe.Probe(ctx, t, o)
	}
	h := region.Health{RegionID: t.RegionID, State: string(res.State), Reason: string(res.Reason), Detail: res.Detail,
		CheckedAt: &res.CheckedAt, LatencyMS: &res.LatencyMS, Version: res.Version}
	if subj.keyUnreadable {
		h.LatencyMS = nil
	}
	if res.Cluster != nil {
		c := region.ClusterResources(*res.Cluster)
		h.Cluster = &c
	}
	out := store.ProbeResult{Health: h, SSLCACertNotAfter: subj.sslCACertNotAfter, CertFileNotAfter: subj.certFileNotAfter}
	// A healthy probe that was not told to skip them asked for the details, whatever they answered.
	if res.State == probe.StateHealthy && !o.SkipDetails {
		at := p.now()
		out.DetailsAt = &at
	}
	return out
}

// Target is what a probe of r needs: its id, url and TLS material.
func Target(r region.Region) probe.Target {
	t := probe.Target{RegionID: r.RegionID, URL: r.URL}
	for _, f := range []struct {
		dst *string
		src *string
	}{{&t.SSLCACert, r.SSLCACert}, {&t.CertFile, r.CertFile}, {&t.KeyFile, r.KeyFile}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return t
}

// Certificates describes the certificates of r's ssl_ca_cert and cert_file as of now, from the
// stored material alone (no network).
func (p *Prober) Certificates(r region.Region) []probe.CertInfo {
	return probe.Certificates(Target(r), p.CertWarnDays, p.now())
}

// schedule is when a region probed at now is next due, given its consecutive failures.
func (p *Prober) schedule(now time.Time) func(failures int) time.Time {
	return func(failures int) time.Time { return now.Add(Delay(p.Interval, failures)) }
}

// fallbackInterval is the interval of a Prober built without one (tests, library use); regiond
// serve always passes --probe-interval, whose default lives in internal/config.
const fallbackInterval = 30 * time.Second

// Delay is the wait after a probe: the interval for a healthy region, doubling with each
// consecutive failure up to MaxBackoff (never below the interval), plus up to 10% jitter so that
// regions probed together drift apart. The jitter only lengthens the wait: a region is never
// probed more than once per interval.
func Delay(interval time.Duration, failures int) time.Duration {
	if interval <= 0 {
		interval = fallbackInterval
	}
	d := interval
	for i := 0; i < failures && d < MaxBackoff; i++ {
		d *= 2
	}
	if d > MaxBackoff {
		d = max(MaxBackoff, interval)
	}
	return d + rand.N(d/10+1)
}
