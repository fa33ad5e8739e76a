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
	"net"
	"net/http"
	"strings"
	"sync"

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

	header http.Header      // the response's: authorization sets Cache-Control there
	inputs validationInputs // the validator's, for this request
	remote string           // the client's address without its port, once split (see client)
}

// client is the address of r's client without its port: split once, though both the failed
// authentications' limit and the log line want it.
func (info *RequestInfo) client(r *http.Request) string {
	if info.remote == "" {
		info.remote, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	return info.remote
}

type infoKey struct{}

// infoContext carries a request's RequestInfo in its context: context.WithValue's job, with the
// RequestInfo in the same allocation as the context node (allocations were a tenth of the list
// room's own CPU: see Exchange).
type infoContext struct {
	context.Context
	info RequestInfo
}

func (c *infoContext) Value(key any) any {
	if key == (infoKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

// withInfo returns r carrying a new RequestInfo for the response header h, and that RequestInfo.
func withInfo(r *http.Request, h http.Header) (*http.Request, *RequestInfo) {
	c := &infoContext{Context: r.Context(), info: RequestInfo{header: h}}
	return r.WithContext(c), &c.info
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

// newRequestID makes a request id: 16 hex digits. It needs to be unique, not unguessable:
// math/rand/v2's per-thread generator is far cheaper than crypto/rand on every request. Ids are
// cut from a batch made at once, one string of idsPerBatch ids, so that a request's id is not an
// allocation of its own.
func newRequestID() string {
	b := idBatches.Get().(*idBatch)
	if b.next == len(b.ids) {
		var buf [idsPerBatch * idLen]byte
		for i := 0; i < idsPerBatch; i++ {
			var r [idLen / 2]byte
			binary.LittleEndian.PutUint64(r[:], rand.Uint64())
			hex.Encode(buf[i*idLen:], r[:])
		}
		b.ids, b.next = string(buf[:]), 0
	}
	id := b.ids[b.next : b.next+idLen]
	b.next += idLen
	idBatches.Put(b)
	return id
}

const (
	idLen       = 16
	idsPerBatch = 64
)

// idBatch is ids not yet handed out: ids[next:]. A sync.Pool keeps one per processor, without a
// lock; an id keeps its batch's 1 KiB alive as long as it lives (a request's time, a log line's).
type idBatch struct {
	ids  string
	next int
}

var idBatches = sync.Pool{New: func() any { return new(idBatch) }}

// Exchange is a request served outside Echo (by the list room), made in one allocation: its
// RequestInfo, the context that carries it, and the response writer that counts what is written.
// The list room's requests made 9 allocations of their own, one object each; now this one (a new
// request id comes from a batch: newRequestID). The request is not copied to carry the context (r.WithContext, 250 bytes and
// 1,500 instructions on every list): the context goes alongside it, and only an error, rare,
// makes the copy (Request).
type Exchange struct {
	ctx    infoContext
	Writer ResponseWriter
	id     [1]string // the X-Request-Id header's value
}

// Info is the request's RequestInfo.
func (x *Exchange) Info() *RequestInfo { return &x.ctx.info }

// Context is the request's context, carrying its RequestInfo.
func (x *Exchange) Context() context.Context { return &x.ctx }

// Request is r carrying the exchange's context, for what takes the RequestInfo from the request
// (Errors).
func (x *Exchange) Request(r *http.Request) *http.Request { return r.WithContext(&x.ctx) }

// WithRequestInfo gives a request served outside Echo (by the list room) what Echo's first
// middleware give every other (Track, RequestID, Secure): its id and security headers on the
// response, and its RequestInfo in the exchange's context.
func WithRequestInfo(w http.ResponseWriter, r *http.Request) *Exchange {
	h := w.Header()
	x := &Exchange{Writer: ResponseWriter{ResponseWriter: w}}
	x.ctx = infoContext{Context: r.Context(), info: RequestInfo{ID: requestID(first(r.Header, HeaderRequestID)), header: h}}
	x.id[0] = x.ctx.info.ID
	h[HeaderRequestID] = x.id[:]
	setSecurityHeaders(h, r)
	return x
}

// first is h.Get(key) for a key already in canonical form: Get canonicalizes it again on every
// call, which cost more than the lookup.
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ResponseWriter remembers the status and counts the bytes of a response served outside Echo,
// for its log line (Echo's Response does it for Echo's routes).
type ResponseWriter struct {
	http.ResponseWriter
	Status int   // the status the response began with; 0 until it began
	Size   int64 // bytes of body written
}

func (w *ResponseWriter) WriteHeader(status int) {
	if w.Status == 0 {
		w.Status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *ResponseWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.Size += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (a stream's write deadline).
func (w *ResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
