# regiond — every task is a make target; tools are pinned in go.mod/tools.go (and package.json
# for the npm ones) and run with `go run` / `npx`, so a fresh clone needs only Go and Node.

GO       ?= go
OAPI     := $(GO) run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck
PKGS     := ./...
# VERSION is stamped into the binary; the Dockerfile passes it in (its context has no .git).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# Redocly CLI: no update check (there is no registry but npm's here), no usage data.
REDOCLY  := REDOCLY_SUPPRESS_UPDATE_NOTICE=true REDOCLY_TELEMETRY=off npx --no redocly

# Fuzz targets, package:FuzzName:CI-executions, run one after another (go test -fuzz takes one at
# a time). CI counts executions (about 10s each here) instead of timing them: with Go 1.26 a
# duration's deadline can race the fuzzing coordinator and fail a clean run with "context deadline
# exceeded" (go.dev/issue/75804, fixed in Go 1.27).
FUZZ_TARGETS := ./internal/server:FuzzRequestPath:15000 ./internal/region:FuzzValidate:150000 \
                ./internal/region:FuzzPEM:80000 ./internal/pagetoken:FuzzPageToken:250000
FUZZTIME     ?= 60s
# Minimizing every new interesting input can take the whole run (60s each by default): keep it short.
FUZZMINIMIZETIME ?= 5s

.PHONY: run test test-galera bench-galera generate check-generated build build-check vet lint api-diff fuzz fuzz-ci soak bench

## run: serve the API on :8080 over the embedded SQLite database data/regiond.db
run:
	$(GO) run ./cmd/regiond serve

## test: every test, on SQLite and on MariaDB (started, or installed, when missing)
test:
	scripts/ensure-mariadb.sh
	scripts/ensure-chromium.sh
	REGIOND_TEST_MYSQL_REQUIRED=1 $(GO) test -race -count=1 -timeout 15m $(PKGS)

## test-galera: the store and server suites' MySQL half, and the Galera tests (replicas on
## different nodes, a node refusing statements, a node killed under load), against a throwaway
## 3-node MariaDB Galera cluster on loopback (scripts/galera.sh, which installs mariadb-server,
## galera-4 and rsync when missing; GALERA_BASE_PORT moves its ports), stopped afterwards. The
## killing tests run alone, after the suites. See docs/galera.md.
GALERA := scripts/galera.sh
test-galera:
	@set -e; trap '$(GALERA) stop' EXIT; $(GALERA) start; \
	addrs=$$($(GALERA) addrs); \
	echo "--- store and server suites (MySQL half) through node 1, store Galera tests across $$addrs"; \
	REGIOND_TEST_MYSQL="root@tcp($${addrs%%,*})/" REGIOND_TEST_MYSQL_REQUIRED=1 REGIOND_TEST_GALERA=$$addrs \
		$(GO) test -race -count=1 -timeout 15m -run '/mysql' ./internal/store/ ./internal/server/; \
	echo "--- regiond replicas on different nodes; a node refusing statements; a node killed under load"; \
	REGIOND_TEST_GALERA=$$addrs GALERA_SH=$(CURDIR)/$(GALERA) \
		$(GO) test -race -count=1 -timeout 10m -run 'Galera' -v ./internal/app/

## bench-galera: regiond on the Galera cluster of test-galera, side by side in one run: POSTs/s
## through one node and spread over three, conditional PATCHes of one region by writers on one
## node and on two, reads after another node's write with and without wsrep_sync_wait (medians
## of GALERA_BENCH_ROUNDS rounds of GALERA_BENCH_DURATION each; docs/galera.md has the numbers)
bench-galera:
	@set -e; trap '$(GALERA) stop' EXIT; $(GALERA) start; \
	REGIOND_TEST_GALERA=$$($(GALERA) addrs) REGIOND_GALERA_BENCH=1 \
		$(GO) test -count=1 -timeout 30m -run '^TestGaleraBench$$' -v ./internal/app/

## generate: regenerate gen/ from openapi.yaml: gen/api for the server, gen/client for consumers
generate:
	$(OAPI) -config oapi-codegen.yaml openapi.yaml
	$(OAPI) -config oapi-codegen.client.yaml openapi.yaml

## check-generated: fail when gen/ is not what openapi.yaml generates
check-generated: generate
	@git diff --exit-code --stat -- gen/ || (echo "gen/ is stale: run 'make generate' and commit it" >&2; exit 1)
	@test -z "$$(git status --porcelain -- gen/)" || (echo "gen/ has files not committed" >&2; exit 1)

## build: a static binary in bin/ (the Dockerfile runs this same target)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X github.com/regiond/regiond/internal/app.Version=$(VERSION)" -o bin/regiond ./cmd/regiond

## build-check: make build, then check the binary is static (it runs on distroless/static) and
## carries its version
build-check: build
	@if command -v file >/dev/null 2>&1; then \
		file bin/regiond; file bin/regiond | grep -q 'statically linked'; \
	else \
		out=$$(ldd bin/regiond 2>&1 || true); echo "ldd: $$out"; echo "$$out" | grep -q 'not a dynamic executable'; \
	fi || { echo "bin/regiond is not statically linked" >&2; exit 1; }
	@v=$$(./bin/regiond version); echo "$$v"; \
	case "$$v" in "regiond $(VERSION) "*) ;; *) echo "bin/regiond does not carry version $(VERSION)" >&2; exit 1;; esac

## vet: go vet and gofmt
vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'))" || (gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'); echo "gofmt needed" >&2; exit 1)

## lint: openapi.yaml against Redocly's recommended rules, with no error and no warning
## (redocly.yaml), then go vet, gofmt and staticcheck
lint: node_modules/.package-lock.json vet
	$(REDOCLY) lint openapi.yaml
	$(STATICCHECK) $(PKGS)

# The pinned npm tools (package-lock.json), installed when node_modules is missing or older than
# the lock file: npm writes node_modules/.package-lock.json on every install.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## api-diff: fail when openapi.yaml would break a client of the last release (the newest vX.Y.Z
## tag's openapi.yaml, or api/baseline/openapi.yaml before the first tag); see docs/api.md, "API versioning"
api-diff:
	OASDIFF="$(GO) run github.com/oasdiff/oasdiff" scripts/api-diff.sh

## fuzz: run every fuzz target for FUZZTIME (default 60s) each; a crasher lands in the package's
## testdata/fuzz/<FuzzName>/ and fails the run. FUZZTIME=ci runs each target's CI execution count.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; count=$${rest##*:}; \
		budget=$(FUZZTIME); [ "$$budget" = ci ] && budget=$${count}x; \
		echo "--- fuzz $$name ($$pkg, $$budget)"; \
		$(GO) test -list "^$$name\$$" $$pkg | grep -qx "$$name" || { echo "$$pkg has no fuzz target $$name" >&2; exit 1; }; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
	done

## fuzz-ci: every fuzz target for its CI execution count (about 10s each)
fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=ci FUZZMINIMIZETIME=2s

## soak: mixed reads and writes at full speed for a minute on each database, checking for errors,
## leaked goroutines and heap growth (make test runs the same test for a few seconds)
soak:
	scripts/ensure-mariadb.sh
	REGIOND_TEST_MYSQL_REQUIRED=1 REGIOND_SOAK_DURATION=60s $(GO) test -count=1 -run '^TestSoak$$' -timeout 10m -v ./internal/server/

## bench: regiond next to a raw net/http ceiling on SQLite and MariaDB, writes, 100,000 regions;
## prints a table and writes BENCHMARKS.md (raw numbers in artifacts/bench/). BENCH_QUICK=1 for a
## ~2-minute smoke run; BENCH_DURATION (10s) and BENCH_ROUNDS (3) tune it. See scripts/bench.sh.
bench:
	scripts/bench.sh
