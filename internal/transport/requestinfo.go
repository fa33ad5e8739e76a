// Package transport is what every HTTP request gets, whichever way it is served — through Echo's
// middleware, or whole by the list room (internal/regionlist): its request id and security
// headers, authentication and rate limits, validation against openapi.yaml, its errors as
// problem+json, and its log line and metrics. Both ways call the same functions here, so that a
// request is answered, logged and counted the same way on either.
package transport

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/regiond/regiond/internal/token"
)

// HeaderRequestID carries a request's id, from the caller (when it is a sane one) and back.
const HeaderRequestID = "X-Request-Id"

// RequestInfo is what the server learns about a request as it passes through: its id, its
// caller once authenticated, and how it ended. It travels in the request's context, where
// middleware, handlers, the error writer and the request log all find it.
type RequestInfo struct {
	ID        string
	TraceID   string          // when tracing: the request's trace
	Principal token.Principal // empty until authenticated
	// Abandoned: the client went away, so nothing is written and the connection is closed.
	Abandoned bool
	// Aborted: the response was cut off after it began (a failed stream).
	Aborted bool

	header http.Header // the response's: authorization sets Cache-Control there
}

type infoKey struct{}

// withInfo carries info in the returned request's context.
func withInfo(r *http.Request, info *RequestInfo) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
}

// Info returns the request's RequestInfo: an empty one when there is none (outside a request).
func Info(ctx context.Context) *RequestInfo {
	if info, ok := ctx.Value(infoKey{}).(*RequestInfo); ok {
		return info
	}
	return &RequestInfo{header: http.Header{}}
}

// Principal is the caller authentication found for the request of ctx.
func Principal(ctx context.Context) token.Principal {
	p := Info(ctx).Principal
	if p.TokenID == "" {
		panic("transport: an operation that needs a token ran without one") // the validator guarantees it
	}
	return p
}

// requestID is the id to give a request: the caller's, when it is sane (short, of the characters
// ids and trace headers use: it goes into log lines and headers), else a new one.
func requestID(callers string) string {
	if saneRequestID(callers) {
		return callers
	}
	return newRequestID()
}

// saneRequestID reports an id the server may take from its caller.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:/+=@", c) >= 0) {
			return false
		}
	}
	return true
}

// newRequestID makes a request id. It needs to be unique, not unguessable: math/rand/v2's
// per-thread generator is far cheaper than crypto/rand on every request.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// WithRequestInfo gives a request served outside Echo (by the list room) what Echo's first
// middleware give every other (Track, RequestID, Secure): its id and security headers on the
// response, and its RequestInfo in the returned request's context.
func WithRequestInfo(w http.ResponseWriter, r *http.Request) (*RequestInfo, *http.Request) {
	h := w.Header()
	info := &RequestInfo{ID: requestID(r.Header.Get(HeaderRequestID)), header: h}
	h[HeaderRequestID] = []string{info.ID}
	setSecurityHeaders(h, r)
	return info, withInfo(r, info)
}
