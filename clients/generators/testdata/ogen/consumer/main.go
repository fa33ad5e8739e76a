// Command consumer drives a live regiond through the client ogen generates from openapi.yaml
// (docs/consumers.md, "Generating a client"): list, create, get, If-None-Match 304, a merge patch
// sent as application/json with If-Match, a stale tag's 412, an explicit null that clears a TLS
// field, delete, 404, and a 400 — each problem read through the generated types. It prints one
// line per step, the same lines as the other consumers.
//
//	REGIOND_URL=http://127.0.0.1:8080 REGIOND_TOKEN=rgd_... REGIOND_CA_PEM=ca.pem ./consumer
package main

import (
	"context"
	"fmt"
	"os"

	api "example.com/regiond-ogen/regiond"
)

// token is the security source: ogen names the `token` security scheme's type Token.
type token string

func (t token) Token(context.Context, api.OperationName) (api.Token, error) {
	return api.Token{APIKey: string(t)}, nil
}

func must(step string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
		os.Exit(1)
	}
}

func fail(step string, res any) {
	fmt.Fprintf(os.Stderr, "%s: unexpected %T %+v\n", step, res, res)
	os.Exit(1)
}

func nullOrSet(v api.NilString) string {
	if v.Null {
		return "null"
	}
	return "set"
}

// patched is the region a 200 to a PATCH carries.
func patched(step string, res api.UpdateRegionRes) api.RegionInfoResp {
	ok, isOK := res.(*api.ReplaceRegionOKHeaders)
	if !isOK {
		fail(step, res)
	}
	return ok.Response
}

func main() {
	ctx := context.Background()
	c, err := api.NewClient(os.Getenv("REGIOND_URL"), token(os.Getenv("REGIOND_TOKEN")))
	must("client", err)

	lr, err := c.ListRegions(ctx, api.ListRegionsParams{Limit: api.NewOptInt32(10)})
	must("list", err)
	list, ok := lr.(*api.ListRegionsOKHeaders)
	if !ok {
		fail("list", lr)
	}
	fmt.Printf("listed %d region(s), X-Total-Count=%d, request id %s\n", len(list.Response), list.XTotalCount.Or(-1), list.XRequestID.Or(""))

	cr, err := c.CreateRegion(ctx, &api.RegionCreate{RegionName: "rainbond-ogen", RegionAlias: "ogen",
		URL: "https://region-ogen.example.com", Status: status(api.RegionStatus0)})
	must("create", err)
	created, ok := cr.(*api.RegionInfoRespHeaders)
	if !ok {
		fail("create", cr)
	}
	r := created.Response // every member a plain field: the server always sends them
	fmt.Printf("created %s status=%s scope=%s ssl_ca_cert=%s\n", r.RegionName, r.Status, r.Scope, nullOrSet(r.SslCaCert))
	id := r.RegionID

	gr, err := c.GetRegion(ctx, api.GetRegionParams{RegionID: id})
	must("get", err)
	got, ok := gr.(*api.RegionInfoRHeaders) // the region, as RegionInfoR (extend_info adds to it)
	if !ok {
		fail("get", gr)
	}
	etag := got.ETag.Or("")
	nm, err := c.GetRegion(ctx, api.GetRegionParams{RegionID: id, IfNoneMatch: api.NewOptString(etag)})
	must("get 304", err)
	if _, ok := nm.(*api.NotModified); !ok {
		fail("get 304", nm)
	}
	fmt.Printf("read etag=%s; If-None-Match gives 304\n", etag)

	// The request type picks the media type: application/json here.
	pr, err := c.UpdateRegion(ctx, &api.UpdateRegionApplicationJSON{Status: status(api.RegionStatus3),
		Desc: api.NewOptRegionDesc("in maintenance")}, api.UpdateRegionParams{RegionID: id, IfMatch: api.NewOptString(etag)})
	must("patch", err)
	p := patched("patch", pr)
	fmt.Printf("patched (application/json) status=%s desc=%s\n", p.Status, p.Desc)

	sr, err := c.UpdateRegion(ctx, &api.UpdateRegionApplicationMergePatchJSON{Status: status(api.RegionStatus2)},
		api.UpdateRegionParams{RegionID: id, IfMatch: api.NewOptString(etag)})
	must("stale patch", err)
	stale, ok := sr.(*api.PreconditionFailedHeaders)
	if !ok {
		fail("stale patch", sr)
	}
	fmt.Printf("stale If-Match refused: %d %s\n", stale.Response.Code, stale.Response.Type)

	pem, err := os.ReadFile(os.Getenv("REGIOND_CA_PEM"))
	must("read the CA", err)
	set, err := c.UpdateRegion(ctx, &api.UpdateRegionApplicationMergePatchJSON{SslCaCert: api.NewOptNilPEMCACert(api.PEMCACert(pem))},
		api.UpdateRegionParams{RegionID: id})
	must("set ca", err)
	var clear api.OptNilPEMCACert
	clear.SetToNull()
	cl, err := c.UpdateRegion(ctx, &api.UpdateRegionApplicationMergePatchJSON{SslCaCert: clear}, api.UpdateRegionParams{RegionID: id})
	must("clear ca", err)
	fmt.Printf("ssl_ca_cert set=%v then null=%v\n", !patched("set ca", set).SslCaCert.Null, patched("clear ca", cl).SslCaCert.Null)

	dr, err := c.DeleteRegion(ctx, api.DeleteRegionParams{RegionID: id})
	must("delete", err)
	if _, ok := dr.(*api.DeleteRegionNoContent); !ok {
		fail("delete", dr)
	}
	gone, err := c.GetRegion(ctx, api.GetRegionParams{RegionID: id})
	must("get gone", err)
	nf, ok := gone.(*api.NotFoundHeaders)
	if !ok {
		fail("get gone", gone)
	}
	fmt.Printf("gone: %d %s (request id %s)\n", nf.Response.Status, nf.Response.Type, nf.XRequestID.Or(""))

	br, err := c.CreateRegion(ctx, &api.RegionCreate{RegionName: "Bad Name", RegionAlias: "x", URL: "https://x.example.com"})
	must("create invalid", err)
	bad, ok := br.(*api.BadRequestHeaders)
	if !ok || len(bad.Response.Errors) == 0 {
		fail("create invalid", br)
	}
	fmt.Printf("invalid: %d %s field=%s\n", bad.Response.Code, bad.Response.Type, bad.Response.Errors[0].Field)
}

// status is a request's status as the string: the request schemas take the string or the integer
// (RegionStatusInput, a sum type in ogen).
func status(st api.RegionStatus) api.OptRegionStatusInput {
	return api.NewOptRegionStatusInput(api.NewRegionStatusRegionStatusInput(st))
}
