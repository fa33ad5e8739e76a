// Package problem carries HTTP errors as values and writes them as application/problem+json
// (RFC 9457), with the `code` and `msg` members Rainbond clients read.
package problem

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/regiond/regiond/gen/api"
)

// FieldError names one offending field of a request and says what is wrong with it.
type FieldError = api.FieldError

// ContentType is the media type of every error response.
const ContentType = "application/problem+json"

// Error is an error that becomes an HTTP response. Detail and Fields are shown to the client;
// Cause is for the log only and never leaves the server.
type Error struct {
	Status int
	Detail string
	Fields []FieldError
	// FieldsOmitted counts the offending fields left out of Fields (MaxFields).
	FieldsOmitted int
	Header        http.Header
	Cause         error
}

// An error body stays small whatever the request (a body of 90,000 unknown members would
// otherwise get a problem ten times its size): it names at most MaxFields fields, each name and
// message at most maxFieldText bytes, and a detail of at most MaxDetail bytes.
const (
	MaxFields    = 20
	MaxDetail    = 2048
	maxFieldText = 256
)

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Detail, e.Cause)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Detail)
}

func (e *Error) Unwrap() error { return e.Cause }

// WithHeader returns e with a response header added.
func (e *Error) WithHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Set(key, value)
	return e
}

// New makes an error with a status and a detail for people.
func New(status int, detail string) *Error { return &Error{Status: status, Detail: detail} }

// Newf is New with formatting.
func Newf(status int, format string, args ...any) *Error {
	return New(status, fmt.Sprintf(format, args...))
}

// WithFields makes an error about fields; its detail lists them, up to MaxFields.
func WithFields(status int, fields ...FieldError) *Error {
	kept := make([]FieldError, min(len(fields), MaxFields))
	parts := make([]string, len(kept))
	for i := range kept {
		kept[i] = FieldError{Field: truncate(fields[i].Field, maxFieldText), Message: truncate(fields[i].Message, maxFieldText)}
		parts[i] = kept[i].Field + ": " + kept[i].Message
	}
	omitted := len(fields) - len(kept)
	if omitted > 0 {
		parts = append(parts, "and "+strconv.Itoa(omitted)+" more")
	}
	return &Error{Status: status, Detail: strings.Join(parts, "; "), Fields: kept, FieldsOmitted: omitted}
}

// truncate cuts s to at most n bytes, on a character boundary, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Field is a shorthand for one FieldError.
func Field(field, message string) FieldError { return FieldError{Field: field, Message: message} }

// Unavailable is a 503 that tells the client when to retry.
func Unavailable(detail string, retryAfterSeconds int, cause error) *Error {
	e := &Error{Status: http.StatusServiceUnavailable, Detail: detail, Cause: cause}
	return e.WithHeader("Retry-After", strconv.Itoa(retryAfterSeconds))
}

var kinds = map[int]struct{ slug, title string }{
	http.StatusBadRequest:            {"invalid-request", "Invalid request"},
	http.StatusUnauthorized:          {"unauthorized", "Unauthorized"},
	http.StatusForbidden:             {"forbidden", "Forbidden"},
	http.StatusNotFound:              {"not-found", "Not found"},
	http.StatusMethodNotAllowed:      {"method-not-allowed", "Method not allowed"},
	http.StatusRequestTimeout:        {"request-timeout", "Request timeout"},
	http.StatusConflict:              {"conflict", "Conflict"},
	http.StatusPreconditionFailed:    {"precondition-failed", "Precondition failed"},
	http.StatusRequestEntityTooLarge: {"payload-too-large", "Payload too large"},
	http.StatusUnsupportedMediaType:  {"unsupported-media-type", "Unsupported media type"},
	http.StatusUnprocessableEntity:   {"unprocessable", "Unprocessable request"},
	http.StatusPreconditionRequired:  {"precondition-required", "Precondition required"},
	http.StatusTooManyRequests:       {"rate-limited", "Too many requests"},
	http.StatusInternalServerError:   {"internal", "Internal server error"},
	http.StatusServiceUnavailable:    {"unavailable", "Service unavailable"},
}

// Type returns the problem type URI for a status.
func Type(status int) string {
	if k, ok := kinds[status]; ok {
		return "urn:regiond:problem:" + k.slug
	}
	return "about:blank"
}

// Document builds the problem+json document of e for the request path instance.
func Document(e *Error, instance, requestID string) api.Problem {
	title := http.StatusText(e.Status)
	if k, ok := kinds[e.Status]; ok {
		title = k.title
	}
	detail := truncate(e.Detail, MaxDetail)
	doc := api.Problem{
		Type:      Type(e.Status),
		Title:     title,
		Status:    e.Status,
		Detail:    detail,
		Instance:  instance,
		Code:      e.Status,
		Msg:       detail,
		RequestId: requestID,
	}
	if len(e.Fields) > 0 {
		fields := e.Fields
		doc.Errors = &fields
	}
	if omitted := e.FieldsOmitted; omitted > 0 {
		doc.ErrorsOmitted = &omitted
	}
	return doc
}

// Write sends e as application/problem+json.
func Write(w http.ResponseWriter, e *Error, instance, requestID string) error {
	body, err := json.Marshal(Document(e, instance, requestID))
	if err != nil {
		return err
	}
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("ETag")
	w.WriteHeader(e.Status)
	_, err = w.Write(body)
	return err
}
