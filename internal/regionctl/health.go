package regionctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"text/tabwriter"

	apiclient "github.com/regiond/regiond/gen/client"
)

// HealthCmd shows what the server's prober last saw of every region, or of one.
type HealthCmd struct {
	OutputFlag
	Region string `arg:"" optional:"" name:"region" help:"A region's id or name: its health in full. Without it, a table of every region."`
	Now    bool   `help:"Probe the region now and show the fresh result (needs regions:write; with REGION only)."`
}

func (c *HealthCmd) Run(rc *runContext) error {
	if c.Now && c.Region == "" {
		return usagef("--now probes one region: name it (regionctl health --now REGION)")
	}
	cl, err := rc.client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if c.Region != "" {
		body, err := cl.health(ctx, c.Region, c.Now)
		if err != nil {
			return err
		}
		if c.Output != "table" {
			return printRegion(rc.stdout, c.Output, body)
		}
		return writeHealth(rc.stdout, body)
	}
	items, _, err := cl.list(ctx, &apiclient.ListRegionsParams{}, true)
	if err != nil {
		return err
	}
	rows := make([]healthRow, 0, len(items))
	bodies := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		var r apiclient.RegionInfoResp
		if err := json.Unmarshal(it, &r); err != nil {
			return cl.callError(err)
		}
		body, err := cl.healthByID(ctx, r.RegionId, false)
		if err != nil {
			return err
		}
		rows, bodies = append(rows, healthRow{name: r.RegionName, body: body}), append(bodies, body)
	}
	if c.Output != "table" {
		return printRegions(rc.stdout, c.Output, bodies)
	}
	if len(rows) == 0 {
		fmt.Fprintln(rc.stderr, "no regions")
	}
	return writeHealthTable(rc.stdout, rows)
}

// health reads (or, with now, probes) the health of the region with this id, else this name.
func (c *client) health(ctx context.Context, region string, now bool) ([]byte, error) {
	body, err := c.healthByID(ctx, region, now)
	if apiErr, ok := err.(*apiError); !ok || apiErr.status != http.StatusNotFound {
		return body, err
	}
	id, lerr := c.findByName(ctx, region)
	if lerr != nil || id == "" || id == region {
		return nil, err // the 404 of the id
	}
	return c.healthByID(ctx, id, now)
}

func (c *client) healthByID(ctx context.Context, id string, now bool) ([]byte, error) {
	var resp *http.Response
	var body []byte
	if now {
		r, err := c.api.ProbeRegionHealthWithResponse(ctx, id)
		if err != nil {
			return nil, c.callError(err)
		}
		resp, body = r.HTTPResponse, r.Body
	} else {
		r, err := c.api.GetRegionHealthWithResponse(ctx, id)
		if err != nil {
			return nil, c.callError(err)
		}
		resp, body = r.HTTPResponse, r.Body
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.fail(resp, body)
	}
	return body, nil
}

type healthRow struct {
	name string
	body []byte
}

// writeHealthTable prints one line per region: its name, state, reason, latency, and the days
// until its first certificate expires.
func writeHealthTable(w io.Writer, rows []healthRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tREASON\tLATENCY\tCERT_EXPIRES_IN")
	for _, row := range rows {
		h, err := parseHealth(row.body)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(row.name), cell(string(h.State)), cell(reason(h)), latency(h), firstExpiry(h))
	}
	return tw.Flush()
}

// writeHealth prints one region's health in full.
func writeHealth(w io.Writer, body []byte) error {
	h, err := parseHealth(body)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	when := func(v interface {
		IsSpecified() bool
		IsNull() bool
	}, get func() string) string {
		if !v.IsSpecified() || v.IsNull() {
			return "-"
		}
		return get()
	}
	fmt.Fprintf(tw, "region_id:\t%s\nstate:\t%s\nreason:\t%s\ndetail:\t%s\nchecked_at:\t%s\nlatency:\t%s\n", cell(h.RegionId),
		cell(string(h.State)), cell(reason(h)), cell(h.Detail), when(h.CheckedAt, func() string { return h.CheckedAt.MustGet().Format("2006-01-02T15:04:05Z07:00") }), latency(h))
	fmt.Fprintf(tw, "last_healthy_at:\t%s\nconsecutive_failures:\t%d\nversion:\t%s\ncertificates_expiring:\t%t\n",
		when(h.LastHealthyAt, func() string { return h.LastHealthyAt.MustGet().Format("2006-01-02T15:04:05Z07:00") }),
		h.ConsecutiveFailures, when(h.Version, func() string { return cell(h.Version.MustGet()) }), h.CertificatesExpiring)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(h.Certificates) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tSUBJECT\tNOT_AFTER\tEXPIRES_IN")
	for _, c := range h.Certificates {
		soon := ""
		if c.ExpiringSoon {
			soon = " (soon)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s%s\n", c.Field, cell(c.Subject), c.NotAfter.Format("2006-01-02"), days(int(c.ExpiresInDays)), soon)
	}
	return tw.Flush()
}

func parseHealth(body []byte) (apiclient.RegionHealth, error) {
	var h apiclient.RegionHealth
	if err := json.Unmarshal(body, &h); err != nil {
		return h, fmt.Errorf("the server sent a health that does not parse: %v", err)
	}
	return h, nil
}

func reason(h apiclient.RegionHealth) string {
	if !h.Reason.IsSpecified() || h.Reason.IsNull() {
		return ""
	}
	return string(h.Reason.MustGet())
}

func latency(h apiclient.RegionHealth) string {
	if !h.LatencyMs.IsSpecified() || h.LatencyMs.IsNull() {
		return "-"
	}
	return strconv.FormatInt(h.LatencyMs.MustGet(), 10) + "ms"
}

// firstExpiry is the days until the region's first certificate expires, "-" without any.
func firstExpiry(h apiclient.RegionHealth) string {
	if len(h.Certificates) == 0 {
		return "-"
	}
	first := h.Certificates[0].ExpiresInDays
	for _, c := range h.Certificates[1:] {
		first = min(first, c.ExpiresInDays)
	}
	return days(int(first))
}

func days(n int) string {
	if n < 0 {
		return fmt.Sprintf("expired %dd ago", -n)
	}
	return fmt.Sprintf("%dd", n)
}
