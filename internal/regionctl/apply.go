package regionctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/regiond/regiond/gen/api"
	apiclient "github.com/regiond/regiond/gen/client"
	"github.com/regiond/regiond/internal/apispec"
	"github.com/regiond/regiond/internal/region"
)

// ApplyCmd makes the region of a file exist as written: it creates it when no region has its
// region_name, and otherwise replaces the region (PUT) when it differs. The file is the region's
// whole state: fields left out take their defaults, as on PUT.
type ApplyCmd struct {
	File string `short:"f" required:"" placeholder:"FILE" help:"The region, in YAML or JSON (- for stdin). region_id, if present, is ignored: regions are matched by region_name."`
}

func (c *ApplyCmd) Run(rc *runContext) error {
	name := inputName(c.File)
	data, err := rc.readInput(c.File)
	if err != nil {
		return err
	}
	body, err := regionJSON(data, name)
	if err != nil {
		return err
	}
	// Check the file against the schema first: the comparison below must not skip over a field it
	// does not know, or read a mistyped one as absent.
	if err := schemaCheck(body, name); err != nil {
		return err
	}
	// Read as the server reads a body (gen/api), so that the comparison gives the server's defaults.
	var want api.RegionCreate
	if err := json.Unmarshal(body, &want); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}

	cl, err := rc.client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	id, err := cl.findByName(ctx, want.RegionName)
	if err != nil {
		return err
	}
	if id == "" {
		resp, err := cl.api.CreateRegionWithBodyWithResponse(ctx, "application/json", bytes.NewReader(body))
		if err != nil {
			return cl.callError(err)
		}
		if resp.StatusCode() != http.StatusCreated {
			return cl.fail(resp.HTTPResponse, resp.Body)
		}
		fmt.Fprintf(rc.stdout, "region %s created (%s)\n", want.RegionName, resp.JSON201.RegionId)
		return nil
	}

	cur, err := cl.api.GetRegionWithResponse(ctx, id, nil)
	if err != nil {
		return cl.callError(err)
	}
	if cur.StatusCode() != http.StatusOK {
		return cl.fail(cur.HTTPResponse, cur.Body)
	}
	if sameRegion(want, *cur.JSON200) {
		fmt.Fprintf(rc.stdout, "region %s unchanged (%s)\n", want.RegionName, id)
		return nil
	}
	// If-Match: a change made by someone else since the GET fails the PUT (412) instead of
	// being overwritten.
	etag := cur.HTTPResponse.Header.Get("ETag")
	resp, err := cl.api.ReplaceRegionWithBodyWithResponse(ctx, id, &apiclient.ReplaceRegionParams{IfMatch: &etag}, "application/json", bytes.NewReader(body))
	if err != nil {
		return cl.callError(err)
	}
	switch resp.StatusCode() {
	case http.StatusOK:
		fmt.Fprintf(rc.stdout, "region %s updated (%s)\n", want.RegionName, id)
		return nil
	case http.StatusPreconditionFailed:
		err := cl.fail(resp.HTTPResponse, resp.Body)
		if e, ok := err.(*apiError); ok {
			e.hint = fmt.Sprintf("region %s was changed by someone else while apply ran; nothing was written. Run apply again to apply %s over the new state.", want.RegionName, name)
		}
		return err
	}
	return cl.fail(resp.HTTPResponse, resp.Body)
}

// schemaCheck validates a region body against the API description, offline.
func schemaCheck(body []byte, name string) error {
	spec, err := apispec.Load()
	if err != nil {
		return err
	}
	errs, err := schemaErrors(context.Background(), spec, "replaceRegion", body)
	if err != nil {
		return err
	}
	if len(errs) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not a valid region:", name)
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Field, e.Message)
	}
	return fmt.Errorf("%s", b.String())
}

// findByName returns the id of the region named name, or "".
func (c *client) findByName(ctx context.Context, name string) (string, error) {
	items, _, err := c.list(ctx, &apiclient.ListRegionsParams{Q: &name}, true)
	if err != nil {
		return "", err
	}
	for _, it := range items {
		var r apiclient.RegionInfoResp
		if err := json.Unmarshal(it, &r); err != nil {
			return "", c.callError(err)
		}
		if r.RegionName == name {
			return r.RegionId, nil
		}
	}
	return "", nil
}

// sameRegion reports whether a PUT of want would leave cur as it is. Fields left out of want take
// the defaults PUT gives them. TLS fields the caller cannot see come back null, and a PUT with
// them null keeps them, so null against null is "the same" either way.
func sameRegion(want api.RegionCreate, cur apiclient.RegionInfoR) bool {
	have := region.Region{RegionName: cur.RegionName, RegionAlias: cur.RegionAlias, URL: cur.Url,
		WSURL: cur.Wsurl, HTTPDomain: cur.Httpdomain, TCPDomain: cur.Tcpdomain,
		Status: region.Status(cur.Status), Desc: cur.Desc, Scope: region.Scope(cur.Scope),
		SSLCACert: apispec.TLSValue(cur.SslCaCert), CertFile: apispec.TLSValue(cur.CertFile), KeyFile: apispec.TLSValue(cur.KeyFile)}
	return len(region.ChangedFields(have, apispec.NewRegion(want))) == 0
}
