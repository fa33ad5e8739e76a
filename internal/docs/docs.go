// Package docs serves the API description (openapi.yaml and openapi.json) and Swagger UI. The UI's
// assets are compiled into the binary: nothing is fetched from the internet at run time.
package docs

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	swaggerui "github.com/swaggest/swgui/v5/static"
	"go.yaml.in/yaml/v3"

	"github.com/regiond/regiond"
	"github.com/regiond/regiond/internal/etag"
)

//go:embed ui
var ui embed.FS

// The page runs only its own scripts; Swagger UI styles its widgets inline and draws icons as
// data: images.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

// swaggerUIAssets are the files of Swagger UI the page loads, as swgui ships them (gzipped, but
// the favicons).
var swaggerUIAssets = []string{"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"}

// variant is one encoding of a document, with its strong validator.
type variant struct {
	body []byte
	etag string
}

func newVariant(body []byte) *variant {
	return &variant{body: body, etag: `"` + etag.Hash(string(body)) + `"`}
}

// document is a served file: its identity encoding and, when that saves bytes, its gzip one.
type document struct {
	contentType string
	plain       *variant
	gzipped     *variant
}

// newDocument serves body, offering gzip when it makes the body smaller.
func newDocument(body []byte, contentType string) (document, error) {
	d := document{contentType: contentType, plain: newVariant(body)}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return d, err
	}
	if _, err := zw.Write(body); err != nil {
		return d, err
	}
	if err := zw.Close(); err != nil {
		return d, err
	}
	if buf.Len() < len(body) {
		d.gzipped = newVariant(buf.Bytes())
	}
	return d, nil
}

// newGzippedDocument serves a file that ships gzipped; clients that refuse gzip get it unzipped.
func newGzippedDocument(gzipped []byte, contentType string) (document, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gzipped))
	if err != nil {
		return document{}, err
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return document{}, err
	}
	return document{contentType: contentType, plain: newVariant(plain), gzipped: newVariant(gzipped)}, nil
}

// serve answers with the document in the encoding the client takes, or 304 when the client has
// it. Clients may keep it but must revalidate: it changes when the server is upgraded.
func (d document) serve(c echo.Context) error {
	h := c.Response().Header()
	v := d.plain
	if d.gzipped != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(c.Request().Header.Get("Accept-Encoding")) {
			v = d.gzipped
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", v.etag)
	h.Set("Cache-Control", "public, no-cache")
	if etag.NoneMatch(c.Request().Header.Get("If-None-Match"), v.etag) {
		h.Del("Content-Encoding")
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, d.contentType, v.body)
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip: named ("gzip" or "x-gzip")
// or through "*", with a non-zero weight (RFC 9110 12.5.3).
func acceptsGzip(header string) bool {
	named, wildcard := -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(val, 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			named = q
		case "*":
			wildcard = q
		}
	}
	if named >= 0 {
		return named > 0
	}
	return wildcard > 0
}

// loadSwaggerUI reads Swagger UI's files once: they are the same for every server.
var loadSwaggerUI = sync.OnceValues(func() (map[string]document, error) {
	files := map[string]document{}
	for _, name := range swaggerUIAssets {
		contentType := assetType(name)
		if b, err := fs.ReadFile(swaggerui.FS, name+".gz"); err == nil {
			if files[name], err = newGzippedDocument(b, contentType); err != nil {
				return nil, fmt.Errorf("swagger UI's %s: %w", name, err)
			}
			continue
		}
		b, err := fs.ReadFile(swaggerui.FS, name)
		if err != nil {
			return nil, fmt.Errorf("swagger UI's %s: %w", name, err)
		}
		if files[name], err = newDocument(b, contentType); err != nil {
			return nil, err
		}
	}
	return files, nil
})

// assetType is a file's media type. JavaScript is text/javascript (RFC 9239); the pages run with
// X-Content-Type-Options: nosniff, so the type must be right.
func assetType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}

// Router is where Register adds its routes: an *echo.Echo, or a wrapper that adds HEAD routes.
type Router interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// Register adds the documentation routes under basePath.
func Register(e Router, basePath string) error {
	yml, jsn, err := servedSpec(basePath)
	if err != nil {
		return err
	}
	yamlDoc, err := newDocument(yml, "application/yaml; charset=utf-8")
	if err != nil {
		return err
	}
	jsonDoc, err := newDocument(jsn, "application/json; charset=utf-8")
	if err != nil {
		return err
	}
	e.GET(basePath+"/openapi.yaml", yamlDoc.serve)
	e.GET(basePath+"/openapi.json", jsonDoc.serve)

	page, err := indexPage(basePath + "/openapi.json")
	if err != nil {
		return err
	}
	e.GET(basePath+"/docs", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, basePath+"/docs/")
	})
	e.GET(basePath+"/docs/", func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Frame-Options", "DENY") // for browsers without CSP's frame-ancestors
		h.Set("Referrer-Policy", "no-referrer")
		return page.serve(c)
	})
	for _, name := range []string{"init.js", "docs.css"} {
		b, err := ui.ReadFile("ui/" + name)
		if err != nil {
			return err
		}
		own, err := newDocument(b, assetType(name))
		if err != nil {
			return err
		}
		e.GET(basePath+"/docs/"+name, own.serve)
	}
	assets, err := loadSwaggerUI()
	if err != nil {
		return err
	}
	for name, asset := range assets {
		e.GET(basePath+"/docs/"+name, asset.serve)
	}
	return nil
}

func indexPage(specURL string) (document, error) {
	tpl, err := template.ParseFS(ui, "ui/index.html")
	if err != nil {
		return document{}, err
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, struct{ SpecURL string }{specURL}); err != nil {
		return document{}, err
	}
	return newDocument(buf.Bytes(), "text/html; charset=utf-8")
}

// servedSpec is openapi.yaml as this server serves it: unchanged but for `servers`, which names
// the server itself (its base path), so that Swagger UI's "Try it out" calls the server it was
// loaded from. The YAML keeps the document's order and comments; the JSON is the same document.
func servedSpec(basePath string) (yml, jsn []byte, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(regiond.OpenAPI, &doc); err != nil {
		return nil, nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	root := doc.Content[0]
	url := basePath
	if url == "" {
		url = "/"
	}
	var servers yaml.Node
	if err := yaml.Unmarshal([]byte(fmt.Sprintf("- url: %q\n  description: This server.\n", url)), &servers); err != nil {
		return nil, nil, err
	}
	replaced := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "servers" {
			root.Content[i+1] = servers.Content[0]
			replaced = true
		}
	}
	if !replaced {
		return nil, nil, fmt.Errorf("openapi.yaml has no servers")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, err
	}
	var value any
	if err := doc.Decode(&value); err != nil {
		return nil, nil, err
	}
	jsn, err = json.MarshalIndent(value, "", "  ")
	return buf.Bytes(), jsn, err
}
