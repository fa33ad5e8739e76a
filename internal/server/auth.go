package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
)

// gate is the spec-driven front door of every operation: it authenticates the token, applies the
// token's rate limit, checks the scopes the operation's x-required-scopes names, and validates
// the request against openapi.yaml — in that order, so that nothing about the request is
// revealed to a caller who may not make it.
func (s *Server) gate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if s.cfg.Tracing {
			if sc := trace.SpanContextFromContext(req.Context()); sc.IsValid() {
				callOf(c).traceID = sc.TraceID().String()
			}
		}
		op := s.ops.find(req.Method, c.Path())
		if op == nil {
			return next(c) // 404 and 405: Echo's own handlers answer
		}
		if op.secured {
			p, err := s.auth.authenticate(req.Context(), req.Header.Get("Authorization"), c.RealIP())
			if err != nil {
				return err
			}
			cl := callOf(c)
			cl.principal = p
			if err := s.limiter.allow(p.TokenID); err != nil {
				return err
			}
			for _, sc := range op.scopes {
				if !p.Has(sc) {
					return problem.Newf(http.StatusForbidden, "this operation needs the %s scope", sc)
				}
			}
			if op.cacheable && !p.Has(token.RegionsSecrets) {
				// Responses without TLS material may be kept by the caller's private cache.
				c.Response().Header()["Cache-Control"] = privateNoCache
			}
		}
		if err := validateRequest(c, op); err != nil {
			return err
		}
		return next(c)
	}
}

// principal is the caller the gate authenticated.
func principal(ctx context.Context) token.Principal {
	cl := callFrom(ctx)
	if cl.principal.TokenID == "" {
		panic("server: an operation that needs a token ran without one") // the gate guarantees it
	}
	return cl.principal
}

// authenticator resolves token values to callers. It caches tokens by hash for at most the
// staleness bound, so that a revocation on another replica takes effect within it; a revocation
// on this replica takes effect at once.
//
// Refusing a bad token is cheap: a hash the database does not hold is remembered for the same
// bound (so that a token created on another replica works within it), and every attempt with a
// token not known to be valid is charged to the client's address, which may fail a limited
// number of times a second (failures) before it is refused without a lookup. A token this replica
// has accepted is never charged, and a charge is given back when the token turns out valid.
type authenticator struct {
	store    *store.Store
	ttl      time.Duration
	log      *slog.Logger
	failures *limiter

	mu      sync.RWMutex
	cache   map[[sha256.Size]byte]*cachedToken // by the token's SHA-256, as an array: no allocation
	unknown map[[sha256.Size]byte]time.Time    // hashes the database did not hold, and when

	// Lookups counts the token lookups that reached the database, by result.
	Lookups struct{ Found, NotFound, Failed atomic.Int64 }
}

type cachedToken struct {
	tok     token.Token
	fetched time.Time
	touched atomic.Int64 // when last_used_at was last written (unix seconds)
}

// lastUsedEvery spaces out the writes of a token's last_used_at.
const lastUsedEvery = time.Minute

// maxCachedHashes bounds the memory of each of the authenticator's caches.
const maxCachedHashes = 10000

func newAuthenticator(st *store.Store, ttl time.Duration, failures *limiter, log *slog.Logger) *authenticator {
	return &authenticator{store: st, ttl: ttl, log: log, failures: failures,
		cache: map[[sha256.Size]byte]*cachedToken{}, unknown: map[[sha256.Size]byte]time.Time{}}
}

func unauthorized(detail string) *problem.Error {
	return problem.New(http.StatusUnauthorized, detail).
		WithHeader("WWW-Authenticate", `Bearer realm="regiond", error="invalid_token"`)
}

// authenticate resolves the token of an Authorization header; client is the caller's address.
func (a *authenticator) authenticate(ctx context.Context, header, client string) (token.Principal, error) {
	return a.lookup(ctx, header, client, true)
}

// cached authenticates from the cache alone: ok is false whenever authenticate would have to ask
// the database or refuse the token (the caller then takes the ordinary route, which does both).
func (a *authenticator) cached(header string) (token.Principal, bool) {
	p, err := a.lookup(context.Background(), header, "", false)
	return p, err == nil
}

var errNotCached = errors.New("token not cached")

func (a *authenticator) lookup(ctx context.Context, header, client string, useDB bool) (token.Principal, error) {
	secret := bearer(header)
	if secret == "" {
		return token.Principal{}, problem.New(http.StatusUnauthorized, "a valid token is required in the Authorization header").
			WithHeader("WWW-Authenticate", `Bearer realm="regiond"`)
	}
	sum := sha256.Sum256([]byte(secret))
	now := time.Now()
	a.mu.RLock()
	ct := a.cache[sum]
	a.mu.RUnlock()
	stale := ct == nil || now.Sub(ct.fetched) >= a.ttl
	known := ct != nil && ct.tok.Usable(now) == "" // accepted here before, if perhaps too long ago
	if !useDB && (stale || !known) {
		return token.Principal{}, errNotCached
	}
	var charge *rate.Reservation
	if !known {
		var err error
		if charge, err = a.failures.reserve(client); err != nil {
			return token.Principal{}, err
		}
	}
	if stale {
		if a.knownUnknown(sum, now) {
			return token.Principal{}, unauthorized("the token is not valid")
		}
		tok, err := a.store.TokenByHash(ctx, hex.EncodeToString(sum[:]))
		if errors.Is(err, store.ErrNotFound) {
			a.Lookups.NotFound.Add(1)
			a.putUnknown(sum, now)
			return token.Principal{}, unauthorized("the token is not valid")
		}
		if err != nil {
			a.Lookups.Failed.Add(1)
			giveBack(charge) // the database failed, not the client
			return token.Principal{}, err
		}
		a.Lookups.Found.Add(1)
		ct = &cachedToken{tok: tok, fetched: now}
		if tok.LastUsedAt != nil {
			ct.touched.Store(tok.LastUsedAt.Unix())
		}
		a.put(sum, ct)
	}
	// The lookup was by hash; comparing the hashes in constant time keeps it so should the lookup
	// ever change (a prefix index, say).
	var stored [sha256.Size]byte
	if n, err := hex.Decode(stored[:], []byte(ct.tok.Hash)); err != nil || n != sha256.Size || subtle.ConstantTimeCompare(stored[:], sum[:]) != 1 {
		return token.Principal{}, unauthorized("the token is not valid")
	}
	if why := ct.tok.Usable(now); why != "" {
		return token.Principal{}, unauthorized(why)
	}
	giveBack(charge)
	a.touch(ct, now)
	return token.Principal{TokenID: ct.tok.ID, EnterpriseID: ct.tok.EnterpriseID, Scopes: ct.tok.Scopes, ExpiresAt: ct.tok.ExpiresAt}, nil
}

func giveBack(r *rate.Reservation) {
	if r != nil {
		r.Cancel()
	}
}

func (a *authenticator) put(hash [sha256.Size]byte, ct *cachedToken) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCachedHashes {
		clear(a.cache)
	}
	a.cache[hash] = ct
}

// knownUnknown reports a hash the database did not hold within the staleness bound.
func (a *authenticator) knownUnknown(hash [sha256.Size]byte, now time.Time) bool {
	a.mu.RLock()
	at, ok := a.unknown[hash]
	a.mu.RUnlock()
	return ok && now.Sub(at) < a.ttl
}

// putUnknown remembers a hash the database does not hold (and forgets it as a token, should it
// have been one that was deleted).
func (a *authenticator) putUnknown(hash [sha256.Size]byte, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.unknown) >= maxCachedHashes {
		clear(a.unknown)
	}
	a.unknown[hash] = now
	delete(a.cache, hash)
}

// touch records the use of a token in the background, at most once a minute per token.
func (a *authenticator) touch(ct *cachedToken, now time.Time) {
	last := ct.touched.Load()
	if now.Unix()-last < int64(lastUsedEvery/time.Second) || !ct.touched.CompareAndSwap(last, now.Unix()) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.store.TouchToken(ctx, ct.tok.ID, now); err != nil {
			a.log.Warn("recording a token's last use failed", "token_id", ct.tok.ID, "error", err)
		}
	}()
}

// forget drops a token and every cached token it minted, transitively, so that its revocation
// (which revokes them all) takes effect at once here.
func (a *authenticator) forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	gone := map[string]bool{id: true}
	for changed := true; changed; {
		changed = false
		for hash, ct := range a.cache {
			if gone[ct.tok.ID] || gone[ct.tok.CreatedBy] {
				gone[ct.tok.ID] = true
				delete(a.cache, hash)
				changed = true
			}
		}
	}
}

// limiter keeps one token bucket per key: an API token's id, or a client address.
type limiter struct {
	rate    rate.Limit
	burst   int
	refusal string // what a refused client is told
	mu      sync.Mutex
	byKey   map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int, refusal string) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: max(burst, 1), refusal: refusal, byKey: map[string]*rate.Limiter{}}
}

func (l *limiter) allow(key string) error {
	_, err := l.reserve(key)
	return err
}

// reserve takes one request from key's bucket and returns the reservation (Cancel gives it back),
// or a 429 problem when the bucket is empty. Without a limit it returns nil, nil.
func (l *limiter) reserve(key string) (*rate.Reservation, error) {
	if l.rate <= 0 {
		return nil, nil
	}
	l.mu.Lock()
	lim := l.byKey[key]
	if lim == nil {
		if len(l.byKey) > 100000 {
			clear(l.byKey)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byKey[key] = lim
	}
	l.mu.Unlock()
	now := time.Now()
	r := lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return r, nil
	}
	r.CancelAt(now)
	retry := int(math.Ceil(delay.Seconds()))
	return nil, problem.Newf(http.StatusTooManyRequests, "%s; retry after %d second(s)", l.refusal, retry).
		WithHeader("Retry-After", strconv.Itoa(retry))
}
