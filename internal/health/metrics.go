package health

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regiond/regiond/internal/store"
)

// Collector exports the stored health of every probed region at each scrape. It reads the store,
// not what this replica probed: one replica probes a region, and every replica must answer the
// same (a scrape of any of them shows every region). Reading the rows also bounds the label
// values by the registry's regions: a deleted region's series disappear with its row.
type Collector struct {
	Store *store.Store
	Log   *slog.Logger
	// Timeout bounds the store read of one scrape (default 1s: a hung database must not hold up
	// the scrape of every other metric).
	Timeout time.Duration
}

var (
	upDesc = prometheus.NewDesc("regiond_region_up",
		"1 when the region's API answered its last health probe with 2xx, 0 when not (regions never probed have no value).",
		[]string{"region_id"}, nil)
	durationDesc = prometheus.NewDesc("regiond_region_probe_duration_seconds",
		"How long the region's last health probe took until /v2/health answered or failed.",
		[]string{"region_id"}, nil)
	expiryDesc = prometheus.NewDesc("regiond_region_certificate_expiry_timestamp_seconds",
		"When the first certificate of the region's ssl_ca_cert or cert_file (field) expires, as of its last probe, in Unix seconds.",
		[]string{"region_id", "field"}, nil)
)

// Describe sends the three metrics' descriptions.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- upDesc
	ch <- durationDesc
	ch <- expiryDesc
}

// Collect reads the store once and sends every region's values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	gauges, err := c.Store.HealthGauges(ctx)
	if err != nil {
		// The rest of /metrics matters most when the database is down: leave these series out
		// rather than fail the whole scrape.
		if c.Log != nil {
			c.Log.Warn("reading region health for the metrics failed; its series are left out of this scrape", "error", err)
		}
		return
	}
	for _, g := range gauges {
		up := 0.0
		if g.State == "healthy" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, g.RegionID)
		if g.LatencyMS != nil {
			ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, float64(*g.LatencyMS)/1000, g.RegionID)
		}
		for field, at := range map[string]*time.Time{"ssl_ca_cert": g.SSLCACertNotAfter, "cert_file": g.CertFileNotAfter} {
			if at != nil {
				ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, float64(at.Unix()), g.RegionID, field)
			}
		}
	}
}
