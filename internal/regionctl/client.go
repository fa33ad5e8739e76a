package regionctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	apiclient "github.com/regiond/regiond/gen/client"
)

// client is the generated API client (gen/client), set up with the server, the token and a timeout.
type client struct {
	api    *apiclient.ClientWithResponses
	http   *http.Client
	target *target
}

// client resolves the server and the token and builds the API client.
func (rc *runContext) client() (*client, error) {
	t, err := rc.resolveTarget()
	if err != nil {
		return nil, err
	}
	c := &client{http: &http.Client{Timeout: rc.cli.Timeout, Transport: warningPrinter{next: http.DefaultTransport, w: rc.stderr}}, target: t}
	c.api, err = apiclient.NewClientWithResponses(t.server.String(), apiclient.WithHTTPClient(c.http), apiclient.WithRequestEditorFn(c.authorize))
	if err != nil {
		return nil, usagef("%s: %v", t.serverSource, err)
	}
	return c, nil
}

// authorize sends the token in Rainbond's bare form, which regiond accepts as well as Bearer.
func (c *client) authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", c.target.token)
	req.Header.Set("User-Agent", "regionctl")
	return nil
}

// warningPrinter prints the Warning headers of every response on stderr, as kubectl does: the
// server warns there about what a write stored (an expired certificate...).
type warningPrinter struct {
	next http.RoundTripper
	w    io.Writer
}

func (p warningPrinter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(req)
	if err == nil {
		for _, h := range resp.Header.Values("Warning") {
			printWarning(p.w, warningText(h))
		}
	}
	return resp, err
}

func printWarning(w io.Writer, text string) {
	fmt.Fprintf(w, "Warning: %s\n", text)
}

// warningText is the text of a warning the server sent as `299 - "text"` (RFC 7234 section 5.5),
// unquoted; a header in another form is shown as it is.
func warningText(header string) string {
	quoted, ok := strings.CutPrefix(header, `299 - "`)
	if !ok || !strings.HasSuffix(quoted, `"`) {
		return header
	}
	var b strings.Builder
	escaped := false
	for _, r := range quoted[:len(quoted)-1] {
		if r == '\\' && !escaped {
			escaped = true
			continue
		}
		escaped = false
		b.WriteRune(r)
	}
	return b.String()
}

// callError words a call that got no usable answer: the server could not be reached (the
// message names it, never the token), or what it sent does not parse.
func (c *client) callError(err error) error {
	server := c.target.server.Redacted()
	var uerr *url.Error
	if !errors.As(err, &uerr) {
		return fmt.Errorf("the answer of the server at %s does not parse: %v", server, err)
	}
	if uerr.Timeout() {
		return fmt.Errorf("no answer from the server at %s within %s (see --timeout)", server, c.http.Timeout)
	}
	return fmt.Errorf("cannot reach the server at %s (from %s): %v", server, c.target.serverSource, uerr.Err)
}

// apiError is an error the server answered, usually as application/problem+json.
type apiError struct {
	status    int
	title     string
	detail    string
	fields    []apiclient.FieldError
	requestID string
	hint      string
}

// Error is one line when the problem names no field, else one line per field:
//
//	422 Unprocessable request (request id 7f9c2b1e4d3a5c6b):
//	  url: must be an absolute http or https URL with a host
func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.status, e.title)
	// The server's detail for field errors is the fields joined; say it only when it adds something.
	if e.detail != "" && e.detail != joinFields(e.fields) {
		fmt.Fprintf(&b, ": %s", e.detail)
	}
	if e.requestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.requestID)
	}
	if len(e.fields) > 0 {
		b.WriteString(":")
		for _, f := range e.fields {
			fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
		}
	}
	if e.hint != "" {
		fmt.Fprintf(&b, "\n%s", e.hint)
	}
	return b.String()
}

func joinFields(fields []apiclient.FieldError) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// fail turns an answer the command did not expect into an error: the server's problem when the
// body is one, else the status and what kind of body came back (a proxy's HTML page, say).
func (c *client) fail(resp *http.Response, body []byte) error {
	e := &apiError{status: resp.StatusCode, title: http.StatusText(resp.StatusCode), requestID: resp.Header.Get("X-Request-Id")}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var p apiclient.Problem
	if (mt == "application/problem+json" || mt == "application/json") && json.Unmarshal(body, &p) == nil && p.Status != 0 {
		if p.Title != "" {
			e.title = p.Title
		}
		e.detail = p.Detail
		if p.Errors != nil {
			e.fields = *p.Errors
		}
		if p.RequestId != "" {
			e.requestID = p.RequestId
		}
		return e
	}
	if mt == "" {
		mt = "no body"
	}
	e.detail = fmt.Sprintf("unexpected answer from %s (%s)", c.target.server.Redacted(), mt)
	return e
}

// resolve turns a link the server sent (Link: <...>) into an absolute URL, and refuses one that
// leaves the server: the token must never be sent anywhere else.
func (c *client) resolve(ref string) (*url.URL, error) {
	u, err := c.target.server.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("the server sent a next-page link that is not a URL: %q", ref)
	}
	if u.Scheme != c.target.server.Scheme || u.Host != c.target.server.Host {
		return nil, fmt.Errorf("the server sent a next-page link to another server (%s); not following it", u.Redacted())
	}
	return u, nil
}

// nextLink is the target of rel="next" in a Link header (RFC 8288), or "".
func nextLink(header string) string {
	for _, link := range strings.Split(header, ",") {
		link = strings.TrimSpace(link)
		end := strings.IndexByte(link, '>')
		if !strings.HasPrefix(link, "<") || end < 0 {
			continue
		}
		for _, param := range strings.Split(link[end+1:], ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(param), "=")
			if !strings.EqualFold(strings.TrimSpace(name), "rel") {
				continue
			}
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(value), `"`)) {
				if strings.EqualFold(rel, "next") {
					return link[1:end]
				}
			}
		}
	}
	return ""
}
