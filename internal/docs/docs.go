// Package docs serves the API description (openapi.yaml and openapi.json) and Swagger UI. The UI's
// assets are compiled into the binary: nothing is fetched from the internet at run time.
package docs

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
	swaggerui "github.com/swaggest/swgui/v5/static"
	"github.com/vearutop/statigz"
	"go.yaml.in/yaml/v3"

	"github.com/regiond/regiond"
)

//go:embed ui
var ui embed.FS

// The page runs only its own scripts; Swagger UI styles its widgets inline and draws icons as
// data: images.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

// document is a served file with its validator.
type document struct {
	body        []byte
	contentType string
	etag        string
}

func newDocument(body []byte, contentType string) document {
	sum := sha256.Sum256(body)
	return document{body: body, contentType: contentType, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
}

// serve answers with the document, or 304 when the caller has it. Clients may keep it but must
// revalidate: it changes when the server is upgraded.
func (d document) serve(c echo.Context) error {
	h := c.Response().Header()
	h.Set("ETag", d.etag)
	h.Set("Cache-Control", "public, no-cache")
	h.Del("Vary")
	if match := c.Request().Header.Get("If-None-Match"); match == d.etag || match == "*" {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, d.contentType, d.body)
}

// Register adds the documentation routes under basePath.
func Register(e *echo.Echo, basePath string) error {
	yml, jsn, err := servedSpec(basePath)
	if err != nil {
		return err
	}
	yamlDoc := newDocument(yml, "application/yaml; charset=utf-8")
	jsonDoc := newDocument(jsn, "application/json; charset=utf-8")
	e.GET(basePath+"/openapi.yaml", yamlDoc.serve)
	e.GET(basePath+"/openapi.json", jsonDoc.serve)

	page, err := indexPage(basePath + "/openapi.json")
	if err != nil {
		return err
	}
	own := func(name, contentType string) (document, error) {
		b, err := ui.ReadFile("ui/" + name)
		return newDocument(b, contentType), err
	}
	script, err := own("init.js", "text/javascript; charset=utf-8")
	if err != nil {
		return err
	}
	style, err := own("docs.css", "text/css; charset=utf-8")
	if err != nil {
		return err
	}
	assets := http.StripPrefix(basePath+"/docs/", statigz.FileServer(swaggerui.FS))
	withCSP := func(h echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Content-Security-Policy", uiCSP)
			return h(c)
		}
	}
	e.GET(basePath+"/docs", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, basePath+"/docs/")
	})
	e.GET(basePath+"/docs/", withCSP(page.serve))
	e.GET(basePath+"/docs/init.js", script.serve)
	e.GET(basePath+"/docs/docs.css", style.serve)
	e.GET(basePath+"/docs/*", withCSP(func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=86400")
		assets.ServeHTTP(c.Response(), c.Request())
		return nil
	}))
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
	return newDocument(buf.Bytes(), "text/html; charset=utf-8"), nil
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
