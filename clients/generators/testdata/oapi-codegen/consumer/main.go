// Command consumer drives a live regiond through the client oapi-codegen generates from
// openapi.yaml with the configuration docs/consumers.md gives (models and client, nullable-type):
// the same steps, and the same lines, as the other consumers.
//
//	REGIOND_URL=http://127.0.0.1:8080 REGIOND_TOKEN=rgd_... REGIOND_CA_PEM=ca.pem ./consumer
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/oapi-codegen/nullable"

	regiond "example.com/regiond-oapi"
)

func must(step string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
		os.Exit(1)
	}
}

func want(step string, got, want int, body []byte) {
	if got != want {
		fmt.Fprintf(os.Stderr, "%s: status %d, want %d: %s\n", step, got, want, body)
		os.Exit(1)
	}
}

func ptr[T any](v T) *T { return &v }

func nullOrSet(v nullable.Nullable[string]) string {
	if v.IsNull() {
		return "null"
	}
	return "set"
}

func main() {
	ctx := context.Background()
	tok := os.Getenv("REGIOND_TOKEN")
	c, err := regiond.NewClientWithResponses(os.Getenv("REGIOND_URL"), regiond.WithRequestEditorFn(
		func(_ context.Context, req *http.Request) error { req.Header.Set("Authorization", tok); return nil }))
	must("client", err)

	list, err := c.ListRegionsWithResponse(ctx, &regiond.ListRegionsParams{Limit: ptr(int32(10))})
	must("list", err)
	want("list", list.StatusCode(), 200, list.Body)
	fmt.Printf("listed %d region(s), X-Total-Count=%d, request id %s\n", len(*list.JSON200), *list.Headers200.XTotalCount, *list.Headers200.XRequestID)

	cr, err := c.CreateRegionWithResponse(ctx, regiond.RegionCreate{RegionName: "rainbond-oapi", RegionAlias: "oapi",
		Url: "https://region-oapi.example.com", Status: status(regiond.RegionStatusEditing)})
	must("create", err)
	want("create", cr.StatusCode(), 201, cr.Body)
	r := cr.JSON201 // every member a plain field: the server always sends them
	fmt.Printf("created %s status=%s scope=%s ssl_ca_cert=%s\n", r.RegionName, r.Status, r.Scope, nullOrSet(r.SslCaCert))
	id := r.RegionId

	gr, err := c.GetRegionWithResponse(ctx, id, &regiond.GetRegionParams{})
	must("get", err)
	want("get", gr.StatusCode(), 200, gr.Body)
	etag := *gr.Headers200.ETag
	nm, err := c.GetRegionWithResponse(ctx, id, &regiond.GetRegionParams{IfNoneMatch: &etag})
	must("get 304", err)
	want("get 304", nm.StatusCode(), 304, nm.Body)
	fmt.Printf("read etag=%s; If-None-Match gives 304\n", etag)

	// UpdateRegion sends the merge patch as application/json; the merge-patch+json method keeps
	// its long name.
	pr, err := c.UpdateRegionWithResponse(ctx, id, &regiond.UpdateRegionParams{IfMatch: &etag},
		regiond.RegionPatch{Status: status(regiond.RegionStatusMaintenance), Desc: ptr("in maintenance")})
	must("patch", err)
	want("patch", pr.StatusCode(), 200, pr.Body)
	fmt.Printf("patched (application/json) status=%s desc=%s\n", pr.JSON200.Status, pr.JSON200.Desc)

	sr, err := c.UpdateRegionWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, id, &regiond.UpdateRegionParams{IfMatch: &etag},
		regiond.RegionPatch{Status: status(regiond.RegionStatusDisabled)})
	must("stale patch", err)
	want("stale patch", sr.StatusCode(), 412, sr.Body)
	fmt.Printf("stale If-Match refused: %d %s\n", sr.ApplicationproblemJSON412.Code, sr.ApplicationproblemJSON412.Type)

	pem, err := os.ReadFile(os.Getenv("REGIOND_CA_PEM"))
	must("read the CA", err)
	set, err := c.UpdateRegionWithResponse(ctx, id, &regiond.UpdateRegionParams{},
		regiond.RegionPatch{SslCaCert: nullable.NewNullableWithValue(string(pem))})
	must("set ca", err)
	want("set ca", set.StatusCode(), 200, set.Body)
	cl, err := c.UpdateRegionWithResponse(ctx, id, &regiond.UpdateRegionParams{},
		regiond.RegionPatch{SslCaCert: nullable.NewNullNullable[string]()})
	must("clear ca", err)
	want("clear ca", cl.StatusCode(), 200, cl.Body)
	fmt.Printf("ssl_ca_cert set=%v then null=%v\n", !set.JSON200.SslCaCert.IsNull(), cl.JSON200.SslCaCert.IsNull())

	dr, err := c.DeleteRegionWithResponse(ctx, id, &regiond.DeleteRegionParams{})
	must("delete", err)
	want("delete", dr.StatusCode(), 204, dr.Body)
	gone, err := c.GetRegionWithResponse(ctx, id, &regiond.GetRegionParams{})
	must("get gone", err)
	want("get gone", gone.StatusCode(), 404, gone.Body)
	fmt.Printf("gone: %d %s (request id %s)\n", gone.ApplicationproblemJSON404.Status, gone.ApplicationproblemJSON404.Type, *gone.Headers404.XRequestID)

	bad, err := c.CreateRegionWithResponse(ctx, regiond.RegionCreate{RegionName: "Bad Name", RegionAlias: "x", Url: "https://x.example.com"})
	must("create invalid", err)
	want("create invalid", bad.StatusCode(), 400, bad.Body)
	fmt.Printf("invalid: %d %s field=%s\n", bad.ApplicationproblemJSON400.Code, bad.ApplicationproblemJSON400.Type, (*bad.ApplicationproblemJSON400.Errors)[0].Field)
}

// status is a request's status as the string: the request schemas take the string or the integer
// (RegionStatusInput, a union in oapi-codegen, set with FromRegionStatus).
func status(st regiond.RegionStatus) *regiond.RegionStatusInput {
	var in regiond.RegionStatusInput
	must("status", in.FromRegionStatus(st))
	return &in
}
