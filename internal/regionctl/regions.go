package regionctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	apiclient "github.com/regiond/regiond/gen/client"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/region"
)

// ListCmd lists regions.
type ListCmd struct {
	OutputFlag
	Status    []string `placeholder:"STATUS" help:"Only regions with these statuses: 0..3 or editing, enabled, disabled, maintenance. Repeat the flag or separate with commas."`
	Scope     string   `placeholder:"SCOPE" help:"Only regions with this scope: private or public."`
	Q         string   `name:"q" placeholder:"TEXT" help:"Only regions whose name or alias contains TEXT (case-insensitive)."`
	Limit     *int32   `placeholder:"N" help:"Page size (1..1000): print one page, and the next page's token on stderr. Without it the list comes whole."`
	PageToken string   `placeholder:"TOKEN" help:"Print the page that starts at TOKEN (printed after the previous page)."`
	All       bool     `help:"Follow the next-page links through every page (with --limit, N regions per request)."`
}

func (c *ListCmd) Run(rc *runContext) error {
	params := &apiclient.ListRegionsParams{Limit: c.Limit}
	if len(c.Status) > 0 {
		var statuses []apiclient.RegionStatus
		for _, s := range c.Status {
			for _, part := range strings.Split(s, ",") {
				st, err := parseStatus(part)
				if err != nil {
					return err
				}
				statuses = append(statuses, st)
			}
		}
		params.Status = &statuses
	}
	if c.Scope != "" {
		scope := apiclient.RegionScope(c.Scope)
		if !scope.Valid() {
			return usagef("--scope must be private or public, not %q", c.Scope)
		}
		params.Scope = &scope
	}
	if c.Q != "" {
		params.Q = &c.Q
	}
	if c.PageToken != "" {
		params.PageToken = &c.PageToken
	}
	cl, err := rc.client()
	if err != nil {
		return err
	}
	items, next, err := cl.list(context.Background(), params, c.All)
	if err != nil {
		return err
	}
	if err := printRegions(rc.stdout, c.Output, items); err != nil {
		return err
	}
	if len(items) == 0 && c.Output == "table" {
		fmt.Fprintln(rc.stderr, "no regions")
	}
	if next != "" {
		fmt.Fprintf(rc.stderr, "more regions: next page with --page-token %s\n", pageToken(next))
	}
	return nil
}

// list reads a page of regions, and with all every following page, through the Link headers.
// It returns the regions as the server sent them, and the next page's link when one is left.
func (c *client) list(ctx context.Context, params *apiclient.ListRegionsParams, all bool) ([]json.RawMessage, string, error) {
	resp, err := c.api.ListRegionsWithResponse(ctx, params)
	if err != nil {
		return nil, "", c.callError(err)
	}
	items, next, err := c.page(resp)
	seen := map[string]bool{}
	for err == nil && all && next != "" {
		if seen[next] { // a server that links a page to itself must not loop us forever
			return nil, "", fmt.Errorf("the server sent the same next-page link twice (%s)", next)
		}
		seen[next] = true
		var more []json.RawMessage
		if resp, err = c.follow(ctx, next); err == nil {
			more, next, err = c.page(resp)
			items = append(items, more...)
		}
	}
	return items, next, err
}

// follow requests the page a Link header points to.
func (c *client) follow(ctx context.Context, link string) (*apiclient.ListRegionsResponse, error) {
	u, err := c.resolve(link)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, req); err != nil {
		return nil, err
	}
	httpResp, err := c.http.Do(req)
	if err != nil {
		return nil, c.callError(err)
	}
	resp, err := apiclient.ParseListRegionsResponse(httpResp)
	if err != nil {
		return nil, c.callError(err)
	}
	return resp, nil
}

func (c *client) page(resp *apiclient.ListRegionsResponse) ([]json.RawMessage, string, error) {
	if resp.StatusCode() != http.StatusOK {
		return nil, "", c.fail(resp.HTTPResponse, resp.Body)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(resp.Body, &items); err != nil {
		return nil, "", c.callError(err)
	}
	return items, nextLink(strings.Join(resp.HTTPResponse.Header.Values("Link"), ",")), nil
}

// pageToken is the page_token of a next-page link (the link itself if it has none).
func pageToken(link string) string {
	if u, err := url.Parse(link); err == nil {
		if t := u.Query().Get("page_token"); t != "" {
			return t
		}
	}
	return link
}

// GetCmd shows one region.
type GetCmd struct {
	OutputFlag
	ID string `arg:"" name:"region-id" help:"The region's id."`
}

func (c *GetCmd) Run(rc *runContext) error {
	cl, err := rc.client()
	if err != nil {
		return err
	}
	resp, err := cl.api.GetRegionWithResponse(context.Background(), c.ID, nil)
	if err != nil {
		return cl.callError(err)
	}
	if resp.StatusCode() != http.StatusOK {
		return cl.fail(resp.HTTPResponse, resp.Body)
	}
	if err := printRegion(rc.stdout, c.Output, resp.Body); err != nil {
		return err
	}
	// The server warns about certificates when they are written; a reader learns it here.
	if r := resp.JSON200; r != nil {
		tls := region.Region{SSLCACert: apispec.TLSValue(r.SslCaCert), CertFile: apispec.TLSValue(r.CertFile)}
		for _, w := range region.CertificateWarnings(tls, time.Now()) {
			printWarning(rc.stderr, w)
		}
	}
	// The ETag makes a later write conditional (delete --if-match, set-status --if-match).
	if etag := resp.HTTPResponse.Header.Get("ETag"); etag != "" {
		fmt.Fprintf(rc.stderr, "ETag: %s\n", etag)
	}
	return nil
}

// CreateCmd creates a region from a file.
type CreateCmd struct {
	OutputFlag
	File string `short:"f" required:"" placeholder:"FILE" help:"The region, in YAML or JSON (- for stdin). region_id, if present, is ignored."`
}

func (c *CreateCmd) Run(rc *runContext) error {
	data, err := rc.readInput(c.File)
	if err != nil {
		return err
	}
	body, err := regionJSON(data, inputName(c.File))
	if err != nil {
		return err
	}
	cl, err := rc.client()
	if err != nil {
		return err
	}
	resp, err := cl.api.CreateRegionWithBodyWithResponse(context.Background(), "application/json", bytes.NewReader(body))
	if err != nil {
		return cl.callError(err)
	}
	if resp.StatusCode() != http.StatusCreated {
		return cl.fail(resp.HTTPResponse, resp.Body)
	}
	return printRegion(rc.stdout, c.Output, resp.Body)
}

// DeleteCmd deletes a region.
type DeleteCmd struct {
	ID      string `arg:"" name:"region-id" help:"The region's id."`
	IfMatch string `placeholder:"ETAG" help:"Delete only if the region is still the one with this ETag (as get prints it)."`
}

func (c *DeleteCmd) Run(rc *runContext) error {
	cl, err := rc.client()
	if err != nil {
		return err
	}
	resp, err := cl.api.DeleteRegionWithResponse(context.Background(), c.ID, &apiclient.DeleteRegionParams{IfMatch: quoteETag(c.IfMatch)})
	if err != nil {
		return cl.callError(err)
	}
	if resp.StatusCode() != http.StatusNoContent {
		return cl.fail(resp.HTTPResponse, resp.Body)
	}
	fmt.Fprintf(rc.stdout, "region %s deleted\n", c.ID)
	return nil
}

// SetStatusCmd changes a region's status with a merge patch.
type SetStatusCmd struct {
	OutputFlag
	ID      string `arg:"" name:"region-id" help:"The region's id."`
	Status  string `arg:"" name:"status" help:"0 (editing), 1 (enabled), 2 (disabled), 3 (maintenance), or the name."`
	IfMatch string `placeholder:"ETAG" help:"Change it only if the region is still the one with this ETag (as get prints it)."`
}

func (c *SetStatusCmd) Run(rc *runContext) error {
	st, err := parseStatus(c.Status)
	if err != nil {
		return err
	}
	// The generated client's status is the string or the integer (RegionStatusInput); it sends
	// the string.
	var status apiclient.RegionStatusInput
	if err := status.FromRegionStatus(st); err != nil {
		return err
	}
	cl, err := rc.client()
	if err != nil {
		return err
	}
	resp, err := cl.api.UpdateRegionWithApplicationMergePatchPlusJSONBodyWithResponse(context.Background(), c.ID,
		&apiclient.UpdateRegionParams{IfMatch: quoteETag(c.IfMatch)}, apiclient.RegionPatch{Status: &status})
	if err != nil {
		return cl.callError(err)
	}
	if resp.StatusCode() != http.StatusOK {
		return cl.fail(resp.HTTPResponse, resp.Body)
	}
	return printRegion(rc.stdout, c.Output, resp.Body)
}

// quoteETag makes an ETag typed without its quotes (the shell eats them: --if-match "r3") an
// entity tag again.
func quoteETag(s string) *string {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil
	case s == "*", strings.HasPrefix(s, `"`), strings.HasPrefix(s, `W/"`):
		return &s
	}
	q := `"` + s + `"`
	return &q
}
