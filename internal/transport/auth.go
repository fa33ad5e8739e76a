package transport

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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/regiond/regiond/internal/problem"
	"github.com/regiond/regiond/internal/store"
	"github.com/regiond/regiond/internal/token"
)

// Authenticator resolves token values to callers. It caches tokens by hash for at most the
// staleness bound, so that a revocation on another replica takes effect within it; a revocation
// on this replica takes effect at once.
//
// Refusing a bad token is cheap: a hash the database does not hold is remembered for the same
// bound (so that a token created on another replica works within it), and every attempt with a
// token that fails is charged to the client's address, which may fail a limited
// number of times a second (failures) before it is refused without a lookup. A token this replica
// has accepted is never charged, and neither is a token that turns out valid.
type Authenticator struct {
	store    *store.Store
	ttl      time.Duration
	log      *slog.Logger
	failures *Limiter

	mu      sync.RWMutex
	cache   map[[sha256.Size]byte]*cachedToken // by the token's SHA-256, as an array: no allocation
	unknown map[[sha256.Size]byte]time.Time    // hashes the database did not hold, and when

	// Lookups counts the token lookups that reached the database, by result.
	Lookups struct{ Found, NotFound, Failed atomic.Int64 }
}

type cachedToken struct {
	tok     token.Token
	hash    [sha256.Size]byte // tok.Hash decoded, once; hashOK when it decoded to a SHA-256
	hashOK  bool
	fetched time.Time
	touched atomic.Int64 // when last_used_at was last written (unix seconds)
}

// lastUsedEvery spaces out the writes of a token's last_used_at.
const lastUsedEvery = time.Minute

// maxCachedHashes bounds the memory of each of the authenticator's caches.
const maxCachedHashes = 10000

// NewAuthenticator caches tokens for ttl; failures limits each client address's failed
// authentications.
func NewAuthenticator(st *store.Store, ttl time.Duration, failures *Limiter, log *slog.Logger) *Authenticator {
	return &Authenticator{store: st, ttl: ttl, log: log, failures: failures,
		cache: map[[sha256.Size]byte]*cachedToken{}, unknown: map[[sha256.Size]byte]time.Time{}}
}

// Collectors are the authenticator's metrics: the token lookups that reached the database.
func (a *Authenticator) Collectors() []prometheus.Collector {
	lookups := func(result string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "regiond_token_lookups_total",
			Help: "Token lookups that reached the database, by result (found, not_found, error).", ConstLabels: prometheus.Labels{"result": result}},
			func() float64 { return float64(n.Load()) })
	}
	return []prometheus.Collector{lookups("found", &a.Lookups.Found), lookups("not_found", &a.Lookups.NotFound), lookups("error", &a.Lookups.Failed)}
}

// bearer strips an optional "Bearer " from an Authorization header: Rainbond sends the bare token.
func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return strings.TrimSpace(h)
}

func unauthorized(detail string) *problem.Error {
	return problem.New(http.StatusUnauthorized, detail).
		WithHeader("WWW-Authenticate", `Bearer realm="regiond", error="invalid_token"`)
}

// Authenticate resolves the token of an Authorization header; client is the caller's address.
func (a *Authenticator) Authenticate(ctx context.Context, header, client string) (token.Principal, error) {
	secret := bearer(header)
	if secret == "" {
		return token.Principal{}, problem.New(http.StatusUnauthorized, "a valid token is required in the Authorization header").
			WithHeader("WWW-Authenticate", `Bearer realm="regiond"`)
	}
	var buf [64]byte // a token's bytes, on the stack: []byte(secret) allocated for every request
	sum := sha256.Sum256(append(buf[:0], secret...))
	now := time.Now()
	a.mu.RLock()
	ct := a.cache[sum]
	a.mu.RUnlock()
	stale := ct == nil || now.Sub(ct.fetched) >= a.ttl
	why := "the token is not valid"
	if ct != nil {
		why = ct.tok.Usable(now)
	}
	known := why == "" // accepted here before, if perhaps too long ago
	if !known {
		// Refused before the lookup when the address has failed too often; charged only when the
		// token then fails, so that the first uses of new, valid tokens never count.
		if err := a.failures.check(client, now); err != nil {
			return token.Principal{}, err
		}
	}
	if stale {
		if a.knownUnknown(sum, now) {
			return token.Principal{}, a.refuse(client, now, "the token is not valid")
		}
		tok, err := a.store.TokenByHash(ctx, hex.EncodeToString(sum[:]))
		if errors.Is(err, store.ErrNotFound) {
			a.Lookups.NotFound.Add(1)
			a.putUnknown(sum, now)
			return token.Principal{}, a.refuse(client, now, "the token is not valid")
		}
		if err != nil {
			a.Lookups.Failed.Add(1) // the database failed, not the client: no charge
			return token.Principal{}, err
		}
		a.Lookups.Found.Add(1)
		ct = &cachedToken{tok: tok, fetched: now}
		n, err := hex.Decode(ct.hash[:], []byte(tok.Hash))
		ct.hashOK = err == nil && n == sha256.Size
		if tok.LastUsedAt != nil {
			ct.touched.Store(tok.LastUsedAt.Unix())
		}
		a.put(sum, ct)
		why = tok.Usable(now)
	}
	// The lookup was by hash; comparing the hashes in constant time keeps it so should the lookup
	// ever change (a prefix index, say).
	if !ct.hashOK || subtle.ConstantTimeCompare(ct.hash[:], sum[:]) != 1 {
		return token.Principal{}, a.refuse(client, now, "the token is not valid")
	}
	if why != "" {
		return token.Principal{}, a.refuse(client, now, why)
	}
	a.touch(ct, now)
	return token.Principal{TokenID: ct.tok.ID, EnterpriseID: ct.tok.EnterpriseID, Scopes: ct.tok.Scopes, ExpiresAt: ct.tok.ExpiresAt}, nil
}

// refuse charges a failed authentication to the client's address and words the 401.
func (a *Authenticator) refuse(client string, now time.Time, why string) error {
	a.failures.charge(client, now)
	return unauthorized(why)
}

func (a *Authenticator) put(hash [sha256.Size]byte, ct *cachedToken) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCachedHashes {
		clear(a.cache)
	}
	a.cache[hash] = ct
}

// knownUnknown reports a hash the database did not hold within the staleness bound.
func (a *Authenticator) knownUnknown(hash [sha256.Size]byte, now time.Time) bool {
	a.mu.RLock()
	at, ok := a.unknown[hash]
	a.mu.RUnlock()
	return ok && now.Sub(at) < a.ttl
}

// putUnknown remembers a hash the database does not hold (and forgets it as a token, should it
// have been one that was deleted).
func (a *Authenticator) putUnknown(hash [sha256.Size]byte, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.unknown) >= maxCachedHashes {
		clear(a.unknown)
	}
	a.unknown[hash] = now
	delete(a.cache, hash)
}

// touch records the use of a token in the background, at most once a minute per token.
func (a *Authenticator) touch(ct *cachedToken, now time.Time) {
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

// Forget drops a token and every cached token it minted, transitively, so that its revocation
// (which revokes them all) takes effect at once here.
func (a *Authenticator) Forget(id string) {
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

// Limiter keeps one token bucket per key: an API token's id, or a client address.
type Limiter struct {
	rate    rate.Limit
	burst   int
	refusal string // what a refused client is told
	mu      sync.Mutex
	byKey   map[string]*rate.Limiter
}

// NewLimiter allows each key perSecond requests on average, burst at once (0: no limit); refusal
// is what a refused client is told.
func NewLimiter(perSecond float64, burst int, refusal string) *Limiter {
	return &Limiter{rate: rate.Limit(perSecond), burst: max(burst, 1), refusal: refusal, byKey: map[string]*rate.Limiter{}}
}

// Allow takes one request from key's bucket, or returns a 429 problem.
func (l *Limiter) Allow(key string) error {
	lim := l.bucket(key)
	if lim == nil {
		return nil
	}
	now := time.Now()
	r := lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return l.refused(delay)
	}
	return nil
}

// check refuses key when its bucket is empty, without taking from it. Concurrent checks may all
// pass before their charges land: a burst can exceed the limit by the requests in flight.
func (l *Limiter) check(key string, now time.Time) error {
	lim := l.bucket(key)
	if lim == nil || lim.TokensAt(now) >= 1 {
		return nil
	}
	return l.refused(time.Duration((1 - lim.TokensAt(now)) / float64(l.rate) * float64(time.Second)))
}

// charge takes one request from key's bucket, even into debt: the next check waits for it.
func (l *Limiter) charge(key string, now time.Time) {
	if lim := l.bucket(key); lim != nil {
		lim.ReserveN(now, 1)
	}
}

// bucket is key's token bucket, made on first use; nil without a limit.
func (l *Limiter) bucket(key string) *rate.Limiter {
	if l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.byKey[key]
	if lim == nil {
		if len(l.byKey) > 100000 {
			clear(l.byKey)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byKey[key] = lim
	}
	return lim
}

func (l *Limiter) refused(delay time.Duration) error {
	retry := max(int(math.Ceil(delay.Seconds())), 1)
	return problem.Newf(http.StatusTooManyRequests, "%s; retry after %d second(s)", l.refusal, retry).
		WithHeader("Retry-After", strconv.Itoa(retry))
}
