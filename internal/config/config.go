// Package config is the one source of regiond's settings and their defaults: the structs the
// command line fills (each field a flag, its default in its tag, also read from REGIOND_*), which
// the server, the store and the tests take their values from.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// DB selects and tunes the database; every command that opens it takes these flags.
type DB struct {
	Database       string        `default:"sqlite://data/regiond.db" placeholder:"DSN" help:"The database: sqlite://PATH (embedded, the default) or mysql://user:pass@tcp(host:3306)/db?params (MySQL/MariaDB)."`
	DBMaxOpenConns int           `default:"16" help:"Connections in the pool (and idle connections kept)."`
	DBTimeout      time.Duration `default:"5s" help:"Deadline of every database query."`
	SecretKeyFile  string        `type:"existingfile" placeholder:"PATH" help:"File with the key(s) that encrypt key_file at rest, if REGIOND_SECRET_KEY is unset."`
}

// API is what the HTTP API needs: the server's settings.
type API struct {
	BasePath       string        `placeholder:"/PREFIX" help:"Serve everything under this path prefix (API, docs, probes), for a reverse proxy that does not strip it."`
	RequireIfMatch bool          `help:"Answer 428 to PUT, PATCH and DELETE without If-Match."`
	RateLimit      float64       `default:"100" help:"Requests per second each token may make on average (0: no limit). Counted per replica: behind N replicas a token may make up to N times this (3 replicas x 100 = 300/s)."`
	RateBurst      int           `default:"200" help:"Requests a token may make in a burst."`
	AuthFailRate   float64       `default:"10" help:"Failed authentications per second a client address (the connection's, not a forwarded header's) may cause on average; past it, its requests with tokens this replica has not accepted get 429 without a database lookup. Requests with accepted tokens are never limited by it (0: no limit). Counted per replica, like --rate-limit."`
	AuthFailBurst  int           `default:"20" help:"Failed authentications a client address may cause in a burst."`
	BodyLimit      int64         `default:"1048576" help:"Largest request body accepted, in bytes."`
	CacheStaleness time.Duration `default:"1s" help:"How long a write on another replica may go unseen by this one's cached lists and tokens."`
	ListCacheBytes int64         `default:"67108864" help:"Memory for pre-encoded region lists; larger lists are streamed from the database."`
	CORSOrigins    []string      `name:"cors-origins" placeholder:"ORIGIN,..." help:"Origins allowed to call the API from a browser (none by default; * for any)."`

	MaxListStreams         int           `default:"16" help:"Large lists this replica streams at once (lists too large for the list cache, filtered lists of more than one chunk); beyond, 503 with Retry-After."`
	MaxListStreamsPerToken int           `default:"2" help:"Large lists one token may have streaming at once on this replica; beyond, 429 with Retry-After."`
	ListChunk              int           `default:"500" help:"Regions a streamed list reads per database query."`
	StreamTimeout          time.Duration `default:"2m" help:"Time to stream a whole large list (it replaces --write-timeout for that response)."`

	AccessLog          bool          `default:"true" negatable:"" help:"Write one log line per request."`
	AuditRetention     Days          `default:"400d" help:"Delete audit events older than this: days (400d) or a duration (720h); 0 keeps them forever. One replica at a time prunes, every --audit-prune-interval, 500 events per statement."`
	AuditPruneInterval time.Duration `default:"1h" help:"How often a replica tries to prune the audit trail."`

	Probe
}

// Probe is the region health prober's settings: the background prober's, and those of a probe on
// demand (POST /openapi/v1/regions/{region_id}/health) and of the health the API shows.
type Probe struct {
	ProbeInterval    time.Duration `default:"30s" help:"How often each region's API is probed (GET {url}/v2/health with the region's TLS material), by one replica among all, plus up to 10% jitter; a failing region backs off, doubling up to 5m. 0 turns the background prober off (a probe on demand still works)."`
	ProbeTimeout     time.Duration `default:"5s" help:"Deadline of one probe: connection, TLS handshake, /v2/health, /v2/version and /v2/cluster."`
	ProbeConcurrency int           `default:"16" help:"Probes this replica runs at once."`
	ProbeDenyCIDRs   string        `name:"probe-deny-cidrs" default:"169.254.0.0/16,fe80::/10,127.0.0.0/8,::1/128,0.0.0.0/32,::/128" placeholder:"CIDR,..." help:"Addresses a probe never connects to, checked on every address a region's host resolves to, at connect time: link-local (the cloud metadata address) and loopback by default; none allows every address."`
	CertWarnDays     int           `default:"30" help:"Flag a region whose ssl_ca_cert or cert_file expires within this many days (its health's certificates_expiring)."`
}

// HTTP is the HTTP server's timeouts and its shutdown.
type HTTP struct {
	ReadHeaderTimeout time.Duration `default:"5s" help:"Time to read a request's headers."`
	ReadTimeout       time.Duration `default:"30s" help:"Time to read a whole request."`
	WriteTimeout      time.Duration `default:"60s" help:"Time to write a response (a streamed large list extends its own)."`
	IdleTimeout       time.Duration `default:"120s" help:"How long an idle keep-alive connection stays open."`
	ShutdownDelay     time.Duration `default:"5s" help:"On SIGTERM, keep serving this long with /readyz failing and every response closing its connection, so that load balancers stop sending and clients move elsewhere first; longer than a load balancer takes to see /readyz fail."`
	DrainTimeout      time.Duration `default:"25s" help:"On SIGTERM, how long in-flight requests may take to finish."`
}

// Log is where and how the process logs.
type Log struct {
	LogLevel         string        `default:"info" enum:"debug,info,warn,error" help:"Least important log level written (${enum})."`
	LogFormat        string        `default:"json" enum:"json,text" help:"Log line format (${enum})."`
	LogFlushInterval time.Duration `default:"200ms" help:"Gather log lines and write them out this often (warnings and errors at once, the rest on exit too); 0 writes every line as it comes."`
}

// Serve is the configuration of `regiond serve`.
type Serve struct {
	DB
	Addr       string `default:":8080" help:"Address to listen on."`
	Enterprise string `default:"default" help:"Enterprise of the admin token made on an empty database (or from REGIOND_ADMIN_TOKEN): 1 to 36 ASCII letters, digits, '.', '_' and '-', starting with a letter or digit."`
	API
	HTTP
	PprofAddr    string `name:"pprof-addr" placeholder:"HOST:PORT" help:"Serve Go's profiler (/debug/pprof/) on this separate address, for diagnosis; keep it on localhost. Off by default."`
	OTLPEndpoint string `name:"otlp-endpoint" placeholder:"URL" help:"Send OpenTelemetry traces of requests and queries to this OTLP/HTTP collector (http://collector:4318). The standard OTEL_EXPORTER_OTLP_* variables work too."`
	Log
}

// Defaults is the configuration an empty command line gives (the environment is not read).
func Defaults() Serve {
	var s Serve
	parser, err := kong.New(&s, kong.Exit(func(int) { panic("config: the defaults do not parse") }))
	if err == nil {
		_, err = parser.Parse(nil)
	}
	if err != nil {
		panic(fmt.Sprintf("config: the defaults do not parse: %v", err))
	}
	return s
}

// Days is a duration flag that also reads whole days ("400d"), the unit retention is thought in.
type Days time.Duration

func (d *Days) UnmarshalText(text []byte) error {
	s := string(text)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseUint(n, 10, 32)
		if err != nil || days > 100000 {
			return fmt.Errorf("%q: want whole days (400d) or a duration (720h)", s)
		}
		*d = Days(time.Duration(days) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want whole days (400d) or a duration (720h)", s)
	}
	*d = Days(v)
	return nil
}
