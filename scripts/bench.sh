#!/usr/bin/env bash
# make bench: measures regiond next to a ceiling, in one run on this machine, and writes
# BENCHMARKS.md (raw numbers in artifacts/bench/).
#
# The ceiling is a plain net/http server writing the exact bytes regiond returns for its
# 50-region list. regiond (the real binary) runs on SQLite and on MariaDB, with the access log on
# and off, the rate limit off. wrk drives every variant with the same load, one after another;
# the whole rotation is repeated BENCH_ROUNDS times, so that ratios are taken within a round and
# their median reported: the machine is shared and noisy, numbers of different runs do not
# compare. Then writes (POST, PATCH), and a database of BENCH_LARGE_REGIONS regions (a page of
# 100, a deep page, the whole list streamed, and the memory that takes).
#
# Environment:
#   BENCH_DURATION=10s         length of each measured run (wrk -d)
#   BENCH_ROUNDS=3             rotations of every variant
#   BENCH_QUICK=1              smoke run (~2 min): 3s runs, 2 rounds, 10,000 regions; writes
#                              artifacts/bench/BENCHMARKS.quick.md instead of BENCHMARKS.md
#   BENCH_LARGE_REGIONS=100000 regions of the large database
#   BENCH_THREADS=2 BENCH_CONNECTIONS=32 BENCH_WRITE_CONNECTIONS=8   wrk -t and -c
#   BENCH_NOTE=...             a sentence on what else ran on the machine, for BENCHMARKS.md
#   BENCH_KEEP_DB=1            keep the MariaDB databases afterwards
#   BENCH_PROBE_REGIONS=1000   regions the probing server probes every second
#   BENCH_ONLY=probe           only the probing section; writes artifacts/bench/BENCHMARKS.probe.md
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  DURATION=${BENCH_DURATION:-3s}
  ROUNDS=${BENCH_ROUNDS:-2}
  LARGE_N=${BENCH_LARGE_REGIONS:-10000}
  WARMUP=1s
else
  DURATION=${BENCH_DURATION:-10s}
  ROUNDS=${BENCH_ROUNDS:-3}
  LARGE_N=${BENCH_LARGE_REGIONS:-100000}
  WARMUP=3s
fi
ONLY=${BENCH_ONLY:-}
PROBE_N=${BENCH_PROBE_REGIONS:-1000}
PROBE_WARMUP=5s
# Enough probes in flight for 1,000 a second while the list is under load (16, the default, does
# about 550 a second on 2 busy cores: each probe waits for CPU).
PROBE_CONCURRENCY=64
# The steady load of the probing section: each connection waits this long between requests
# (32 connections: about 4,500 requests a second, a fifth of what the machine serves).
PROBE_PAUSE_MS=6
[ "$QUICK" = 1 ] && PROBE_WARMUP=3s
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-32}
WRITE_CONNS=${BENCH_WRITE_CONNECTIONS:-8}
NOTE=${BENCH_NOTE:-"Other work (builds, tests) may run on it during the benchmark; the load averages under Machine show how busy it was."}
LIST_REGIONS=50
PATCH_TARGETS=10
MYSQL_DB=regiond_bench
MYSQL_DB_LARGE=regiond_bench_large
MYSQL_DSN="mysql://root@tcp(127.0.0.1:3306)"

OUT=artifacts/bench
RUN=$OUT/run
RAW=$OUT/raw
RESULTS=$OUT/results.txt
META=$OUT/meta.tsv
BENCH=$OUT/bin/regiond-bench
REGIOND=bin/regiond

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

[ -z "$ONLY" ] || [ "$ONLY" = probe ] || die "BENCH_ONLY=$ONLY: want probe, or nothing for every section"
[[ $PROBE_N =~ ^[1-9][0-9]*$ ]] || die "BENCH_PROBE_REGIONS=$PROBE_N: want a positive number"
[[ $DURATION =~ ^[0-9]+[smh]?$ ]] || die "BENCH_DURATION=$DURATION: want a wrk duration like 10s"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS=$ROUNDS: want a positive number"
[[ $LARGE_N =~ ^[0-9]+$ ]] && [ "$LARGE_N" -ge 2000 ] || die "BENCH_LARGE_REGIONS=$LARGE_N: want at least 2000"
[[ $THREADS =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ && $WRITE_CONNS =~ ^[1-9][0-9]*$ ]] ||
  die "BENCH_THREADS, BENCH_CONNECTIONS and BENCH_WRITE_CONNECTIONS must be positive numbers"

# --- processes: every one this script starts is stopped on exit, whatever the exit ----------
PIDS=()
MYSQL_CREATED=0
declare -A ADDR PID LOG
mysql_() { mysql --protocol=tcp -h 127.0.0.1 -P 3306 -u root "$@"; }
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
# stop_server NAME: stops one server started by start_regiond.
stop_server() {
  kill "${PID[$1]}" 2>/dev/null || true
  wait "${PID[$1]}" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_all
  if [ "$MYSQL_CREATED" = 1 ] && [ "${BENCH_KEEP_DB:-0}" != 1 ]; then
    mysql_ -e "DROP DATABASE IF EXISTS $MYSQL_DB; DROP DATABASE IF EXISTS $MYSQL_DB_LARGE" 2>/dev/null || true
  fi
  [ "$rc" = 0 ] || printf 'bench: failed (exit %s); logs in %s\n' "$rc" "$RUN" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'printf "bench: interrupted\n" >&2; exit 130' INT TERM

# --- tools -----------------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  step "installing wrk from Debian's packages"
  [ "$(id -u)" = 0 ] || die "wrk is missing: install it with 'apt-get install wrk' (as root)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null || die "could not install wrk"
fi
command -v curl >/dev/null 2>&1 || die "curl is missing"
command -v chrt >/dev/null 2>&1 || die "chrt is missing (it comes with util-linux)"
step "starting MariaDB if it is down (scripts/ensure-mariadb.sh)"
scripts/ensure-mariadb.sh
command -v mysql >/dev/null 2>&1 || die "the mysql client is missing"

rm -rf "$RUN" "$RAW" "$RESULTS" "$META"
mkdir -p "$RUN" "$RAW" "$OUT/bin"
step "building regiond (make build) and regiond-bench (cmd/regiond-bench)"
make -s build
CGO_ENABLED=0 go build -trimpath -o "$BENCH" ./cmd/regiond-bench
START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- helpers ---------------------------------------------------------------------------------
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# Resets VmHWM to the current RSS, so that the next reading is the peak of the run that follows.
reset_hwm() { echo 5 >"/proc/$1/clear_refs" || die "cannot reset the peak RSS of process $1 (/proc/$1/clear_refs)"; }

# fresh_mysql DB: drops and recreates a MariaDB database.
fresh_mysql() {
  mysql_ -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1 CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" ||
    die "cannot create the MariaDB database $1"
  MYSQL_CREATED=1
}

# token DSN ENTERPRISE SCOPES: prints a new token (regiond token create migrates the database).
token() {
  "$REGIOND" token create --database "$1" --enterprise "$2" --scope "$3" --note "make bench" 2>>"$RUN/token.log" ||
    die "regiond token create failed on $1 (see $RUN/token.log)"
}

# start_regiond NAME DSN [FLAGS...]: serves on a free port; sets ADDR[NAME], PID[NAME], LOG[NAME].
# The log is opened for appending so that it can be truncated between runs.
start_regiond() {
  local name=$1 dsn=$2 addr="" pid log=$RUN/$1.log
  shift 2
  : >"$log"
  "$REGIOND" serve --database "$dsn" --addr 127.0.0.1:0 --rate-limit 0 "$@" >"$RUN/$name.stdout" 2>>"$log" &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 300); do
    addr=$(grep -m1 '"msg":"serving"' "$log" | grep -o '"addr":"[^"]*"' | cut -d'"' -f4 || true)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || die "regiond ($name) exited at start: $(tail -n 5 "$log")"
    sleep 0.1
  done
  [ -n "$addr" ] || die "regiond ($name) did not start within 30s (see $log)"
  curl -fsS "http://$addr/readyz" >/dev/null || die "regiond ($name) is not ready (see $log)"
  ADDR[$name]=$addr PID[$name]=$pid LOG[$name]=$log
}

# start_ceiling NAME BODY [FLAGS...]: the ceiling server serving BODY's bytes.
start_ceiling() {
  local name=$1 body=$2 pid addr=""
  shift 2
  "$BENCH" ceiling --body "$body" "$@" >"$RUN/$name.addr" 2>"$RUN/$name.log" &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    addr=$(head -n 1 "$RUN/$name.addr" 2>/dev/null || true)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || die "the $name server exited: $(cat "$RUN/$name.log")"
    sleep 0.1
  done
  [ -n "$addr" ] || die "the $name server did not start"
  ADDR[$name]=$addr PID[$name]=$pid LOG[$name]=$RUN/$name.log
}

# post_region ADDR TOKEN BODY: creates a region through the API and prints its id.
post_region() {
  local code
  code=$(curl -sS -o "$RUN/post.out" -w '%{http_code}' -H "Authorization: $2" -H 'Content-Type: application/json' \
    -d "$3" "http://$1/openapi/v1/regions") || die "POST to $1 failed"
  [ "$code" = 201 ] || die "creating a region: HTTP $code: $(cat "$RUN/post.out")"
  grep -o '"region_id":"[^"]*"' "$RUN/post.out" | head -n 1 | cut -d'"' -f4
}

CITIES=(hangzhou shanghai beijing shenzhen guangzhou chengdu wuhan xian nanjing chongqing)
# seed_list ADDR TOKEN: the 50 regions of the list, through the API.
seed_list() {
  local i city status scope
  for i in $(seq -w 1 "$LIST_REGIONS"); do
    city=${CITIES[$((10#$i % 10))]}
    status=1 scope=private
    ((10#$i % 7 == 0)) && status=3
    ((10#$i % 11 == 0)) && status=2
    ((10#$i % 2 == 0)) && scope=public
    post_region "$1" "$2" "{\"region_name\":\"rainbond-$city-$i\",\"region_alias\":\"${city^} $i\",
      \"url\":\"https://region-$i.$city.example.com:8443\",\"wsurl\":\"wss://region-$i.$city.example.com:6060\",
      \"httpdomain\":\"apps-$i.$city.example.com\",\"tcpdomain\":\"10.$((10#$i)).3.17\",\"status\":\"$status\",
      \"desc\":\"Rainbond region $i in ${city^}\",\"scope\":\"$scope\"}" >/dev/null
  done
}

# field LINE KEY: the value of KEY=... in a results line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

# wrk_run RAWNAME SERVER DURATION CONNS URL TOKEN [SCRIPT ARGS...]: one wrk run; sets WRK_RESULT
# to its numbers, the server's peak RSS over the run, and the log lines it wrote.
wrk_run() {
  local raw=$1 server=$2 duration=$3 conns=$4 url=$5 tok=$6 script=scripts/bench/report.lua line errs
  shift 6
  local extra=()
  if [ $# -gt 0 ]; then script=scripts/bench/write.lua extra=(-- "$@"); fi
  if [ "${1:-}" = pace ]; then script=scripts/bench/pace.lua extra=(-- "$2"); fi
  local pid=${PID[$server]} log=${LOG[$server]}
  kill -0 "$pid" 2>/dev/null || die "the $server server is gone (see $log)"
  reset_hwm "$pid"
  wrk -t"$((THREADS < conns ? THREADS : conns))" -c"$conns" -d"$duration" --latency -s "$script" -H "Authorization: $tok" "$url" "${extra[@]}" \
    >"$RAW/$raw.txt" 2>&1 || die "wrk failed ($raw): $(tail -n 5 "$RAW/$raw.txt")"
  line=$(grep '^WRK ' "$RAW/$raw.txt") || die "wrk printed no result ($raw): see $RAW/$raw.txt"
  line=${line#WRK }
  [ "$(field "$line" err_status)" = 0 ] ||
    die "$server answered $(field "$line" err_status) requests with an error status during $raw (see $log)"
  errs=$(($(field "$line" err_connect) + $(field "$line" err_read) + $(field "$line" err_write) + $(field "$line" err_timeout)))
  [ "$errs" = 0 ] || printf 'bench: warning: %s socket errors or timeouts during %s\n' "$errs" "$raw" >&2
  WRK_RESULT="$line hwm_kb=$(status_kb "$pid" VmHWM) access_log_lines=$(grep -c '"msg":"request"' "$log" || true)"
  keep_events "$server"
}

# keep_events SERVER: keeps the server's log lines other than access lines, then empties its log
# (the access log of a run is hundreds of thousands of lines). Errors are shown, except those of
# the requests wrk cuts off when it stops (their context is cancelled: "context canceled", and
# what the database drivers report then), which are only counted.
CUT_OFF='context canceled|interrupted \(9\)|transaction has already been committed or rolled back'
keep_events() {
  local log=${LOG[$1]} chunk=$RUN/$1.chunk errors cut
  grep -v '"msg":"request"' "$log" >"$chunk" || true
  : >"$log"
  # The 50 list regions' urls do not resolve: the prober's warnings about them are expected.
  errors=$(grep -E '"level":"(WARN|ERROR)"' "$chunk" | grep -v '"msg":"region unhealthy"' || true)
  if [ -n "$errors" ]; then
    cut=$(grep -cE "$CUT_OFF" <<<"$errors" || true)
    if grep -qvE "$CUT_OFF" <<<"$errors"; then
      printf 'bench: warning: regiond (%s) logged errors (see %s):\n' "$1" "$RUN/$1.events" >&2
      grep -vE "$CUT_OFF" <<<"$errors" | tail -n 3 | cut -c1-300 >&2
    fi
    CUT_OFF_ERRORS=$((CUT_OFF_ERRORS + cut))
  fi
  cat "$chunk" >>"$RUN/$1.events"
  rm -f "$chunk"
}
CUT_OFF_ERRORS=0

# measure GROUP ROUND SERVER URL TOKEN [KEY=VALUE...] -- [SCRIPT ARGS...]: a measured run.
measure() {
  local group=$1 round=$2 server=$3 url=$4 tok=$5 tags=()
  shift 5
  while [ $# -gt 0 ] && [ "$1" != -- ]; do tags+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  local name="$group-r$round" conns=${MEASURE_CONNS:-$CONNS} t
  [ "$group" = write ] && conns=$WRITE_CONNS
  for t in "${tags[@]}"; do name+="-${t#*=}"; done
  wrk_run "$name" "$server" "$DURATION" "$conns" "$url" "$tok" "$@"
  echo "group=$group round=$round server=$server conns=$conns ${tags[*]} $WRK_RESULT" >>"$RESULTS"
  printf '    %-28s %10.0f req/s  p99 %s µs\n' "$name" \
    "$(awk -v n="$(field "$WRK_RESULT" requests)" -v d="$(field "$WRK_RESULT" duration_us)" 'BEGIN { print n / (d / 1e6) }')" \
    "$(field "$WRK_RESULT" p99_us)" >&2
}

header() { tr -d '\r' <"$1" | awk -v k="$(tr '[:upper:]' '[:lower:]' <<<"$2"):" 'tolower($1) == k { print $2; exit }'; }

declare -A DSN READ WRITE_TOKEN
LIST_BYTES=0
# The list and the writes (skipped with BENCH_ONLY=probe; the block is not indented).
if [ "$ONLY" != probe ]; then
# --- the 50-region list: ceiling and regiond on both databases -------------------------------
step "preparing SQLite and MariaDB ($MYSQL_DB) with $LIST_REGIONS regions"
DSN[sqlite]="sqlite://$PWD/$RUN/regiond.db"
fresh_mysql "$MYSQL_DB"
DSN[mariadb]="$MYSQL_DSN/$MYSQL_DB"
for db in sqlite mariadb; do
  READ[$db]=$(token "${DSN[$db]}" default regions:read)
  seeder=$(token "${DSN[$db]}" default regions:read,regions:write)
  WRITE_TOKEN[$db]=$(token "${DSN[$db]}" benchwrite regions:read,regions:write)
  start_regiond "$db" "${DSN[$db]}"
  start_regiond "$db-nolog" "${DSN[$db]}" --no-access-log
  seed_list "${ADDR[$db]}" "$seeder"
  # The regions the PATCH runs change, in another enterprise so that writes leave the list alone.
  : >"$RUN/patch-ids-$db"
  for i in $(seq 1 "$PATCH_TARGETS"); do
    post_region "${ADDR[$db]}" "${WRITE_TOKEN[$db]}" "{\"region_name\":\"patch-target-$i\",\"region_alias\":\"Patch $i\",
      \"url\":\"https://patch-$i.example.com:8443\"}" >>"$RUN/patch-ids-$db"
  done
  curl -fsS -D "$RUN/list-$db.headers" -o "$RUN/list-$db.json" -H "Authorization: ${READ[$db]}" \
    "http://${ADDR[$db]}/openapi/v1/regions" || die "cannot read the list from regiond ($db)"
  [ "$(header "$RUN/list-$db.headers" X-Total-Count)" = "$LIST_REGIONS" ] || die "the list of regiond ($db) does not hold $LIST_REGIONS regions"
  # Each server sees the token once before the warm-up, so that its first lookup is not timed.
  curl -fsS -o /dev/null -H "Authorization: ${READ[$db]}" "http://${ADDR[$db-nolog]}/openapi/v1/regions" ||
    die "cannot read the list from regiond ($db-nolog)"
done
LIST_BYTES=$(wc -c <"$RUN/list-sqlite.json")
[ "$(wc -c <"$RUN/list-mariadb.json")" = "$LIST_BYTES" ] ||
  printf 'bench: warning: the list is %s bytes on SQLite but %s on MariaDB\n' "$LIST_BYTES" "$(wc -c <"$RUN/list-mariadb.json")" >&2
[ -n "$(header "$RUN/list-sqlite.headers" Content-Length)" ] || die "the 50-region list came without Content-Length: not from the pre-encoded cache?"
# The ceiling, and the ceiling writing regiond's headers too (what net/http's writing of them costs).
start_ceiling ceiling "$RUN/list-sqlite.json"
start_ceiling ceiling-headers "$RUN/list-sqlite.json" --headers "$RUN/list-sqlite.headers"
READ[ceiling]=${READ[sqlite]}
for c in ceiling ceiling-headers; do
  cmp -s <(curl -fsS "http://${ADDR[$c]}/") "$RUN/list-sqlite.json" || die "the $c server does not serve regiond's bytes"
done

VARIANTS=(ceiling ceiling-headers sqlite sqlite-nolog mariadb mariadb-nolog)
dbof() { case $1 in ceiling*) echo ceiling ;; *) echo "${1%-nolog}" ;; esac; }
step "warming up every variant ($WARMUP each)"
for v in "${VARIANTS[@]}"; do
  wrk_run "warmup-$v" "$v" "$WARMUP" "$CONNS" "http://${ADDR[$v]}/openapi/v1/regions" "${READ[$(dbof "$v")]}"
done
for r in $(seq 1 "$ROUNDS"); do
  step "reads, round $r of $ROUNDS ($DURATION each)"
  n=${#VARIANTS[@]}
  for ((k = 0; k < n; k++)); do
    v=${VARIANTS[$(((k + r - 1) % n))]}
    measure read "$r" "$v" "http://${ADDR[$v]}/openapi/v1/regions" "${READ[$(dbof "$v")]}" "variant=$v"
  done
done

# --- writes ----------------------------------------------------------------------------------
# On servers without the prober, so that the writes are measured alone: every region a create run
# makes would otherwise be probed at once. The prober has its own section below.
for db in sqlite mariadb; do
  stop_server "$db"
  stop_server "$db-nolog"
  start_regiond "$db-write" "${DSN[$db]}" --probe-interval 0
done
WRITES=("sqlite create" "sqlite patch" "mariadb create" "mariadb patch")
write_args() { # DB OP RUNID
  if [ "$2" = create ]; then echo "create $3"; else echo "patch $3 $RUN/patch-ids-$1"; fi
}
step "warming up writes ($WARMUP each)"
for w in "${WRITES[@]}"; do
  read -r db op <<<"$w"
  # shellcheck disable=SC2046
  wrk_run "warmup-$db-$op" "$db-write" "$WARMUP" "$WRITE_CONNS" "http://${ADDR[$db-write]}/openapi/v1/regions" "${WRITE_TOKEN[$db]}" $(write_args "$db" "$op" "0${db:0:1}")
done
for r in $(seq 1 "$ROUNDS"); do
  step "writes, round $r of $ROUNDS ($DURATION each)"
  n=${#WRITES[@]}
  for ((k = 0; k < n; k++)); do
    read -r db op <<<"${WRITES[$(((k + r - 1) % n))]}"
    # shellcheck disable=SC2046
    measure write "$r" "$db-write" "http://${ADDR[$db-write]}/openapi/v1/regions" "${WRITE_TOKEN[$db]}" "db=$db" "op=$op" -- \
      $(write_args "$db" "$op" "$r${db:0:1}")
  done
done
stop_all
fi # the list and the writes

# --- the list while many regions are probed every second --------------------------------------
step "the list while $PROBE_N regions are probed every second, next to no probing (SQLite)"
# The fake rbd-api stands for 1,000 regions' own machines: at the lowest CPU priority (SCHED_IDLE:
# the kernel preempts it as soon as anything else wants the CPU), it takes on these 2 cores only
# what the server measured leaves.
chrt --idle 0 "$BENCH" rbdapi >"$RUN/rbdapi.addr" 2>"$RUN/rbdapi.log" &
PIDS+=("$!")
RBDAPI=""
for _ in $(seq 1 100); do
  RBDAPI=$(head -n 1 "$RUN/rbdapi.addr" 2>/dev/null || true)
  [ -n "$RBDAPI" ] && break
  sleep 0.1
done
[ -n "$RBDAPI" ] || die "the fake rbd-api did not start: $(cat "$RUN/rbdapi.log")"
DSN[probe]="sqlite://$PWD/$RUN/probe.db"
READ[probe]=$(token "${DSN[probe]}" default regions:read)
seeder=$(token "${DSN[probe]}" default regions:read,regions:write)
"$BENCH" seed --database "${DSN[probe]}" --enterprise probed --prefix probed --count "$PROBE_N" --url "http://$RBDAPI" >&2 ||
  die "seeding the probed regions failed"
start_regiond probe-seed "${DSN[probe]}" --probe-interval 0 --shutdown-delay 0
seed_list "${ADDR[probe-seed]}" "$seeder"
stop_server probe-seed
probes() { curl -fsS "http://$RBDAPI/count"; }
PROBE_FLAGS=(--probe-interval 1s --probe-concurrency "$PROBE_CONCURRENCY" --probe-deny-cidrs none)
for r in $(seq 1 "$ROUNDS"); do
  step "probing, round $r of $ROUNDS ($DURATION each)"
  order=(probing apart idle)
  ((r % 2 == 0)) && order=(idle apart probing)
  for v in "${order[@]}"; do
    case $v in
    probing) start_regiond "$v" "${DSN[probe]}" "${PROBE_FLAGS[@]}" --shutdown-delay 0 ;;
    apart)
      # The prober as its own process at the lowest CPU priority (docs/operations.md), beside a
      # server that does not probe.
      start_regiond "$v" "${DSN[probe]}" --probe-interval 0 --shutdown-delay 0
      chrt --idle 0 "$REGIOND" probe --database "${DSN[probe]}" "${PROBE_FLAGS[@]}" 2>"$RUN/prober.log" &
      PROBER=$!
      PIDS+=("$PROBER")
      ;;
    idle) start_regiond "$v" "${DSN[probe]}" --probe-interval 0 --shutdown-delay 0 ;;
    esac
    url="http://${ADDR[$v]}/openapi/v1/regions"
    wrk_run "warmup-probe-r$r-$v" "$v" "$PROBE_WARMUP" "$CONNS" "$url" "${READ[probe]}"
    # Saturated (as fast as 32 connections go: the CPU probing takes shows in req/s), then steady
    # (below saturation: the latency probing adds shows in p99).
    for load in saturated steady; do
      pace=()
      [ "$load" = steady ] && pace=(-- pace "$PROBE_PAUSE_MS")
      before=$(probes)
      measure probe "$r" "$v" "$url" "${READ[probe]}" "variant=$v" "load=$load" "${pace[@]}"
      echo "$(tail -n 1 "$RESULTS") probes=$(($(probes) - before))" >"$RESULTS.last"
      sed -i '$d' "$RESULTS" && cat "$RESULTS.last" >>"$RESULTS" && rm -f "$RESULTS.last"
    done
    stop_server "$v"
    if [ "$v" = apart ]; then
      kill "$PROBER" 2>/dev/null || true
      wait "$PROBER" || die "regiond probe failed (see $RUN/prober.log)"
    fi
  done
done
stop_all

if [ "$ONLY" != probe ]; then # the large database (the block is not indented)
# --- a large database ------------------------------------------------------------------------
# The prober is off here: these 100,000 regions' urls do not resolve, and probing them every 30s
# (3,333 probes a second) would measure the prober, which has its own section, not paging.
LARGE_FLAGS=(--probe-interval 0)
LARGE_CACHE_NOTE="at its default size (64 MiB, lists above a quarter of it are streamed)"
if [ "$QUICK" = 1 ]; then
  # 10,000 regions fit in the default cache: shrink it so that the list is streamed, as 100,000 are.
  LARGE_FLAGS+=(--list-cache-bytes 4194304)
  LARGE_CACHE_NOTE="shrunk to 4 MiB (--list-cache-bytes 4194304) so that this smaller list is streamed too"
fi
DEEP=$((LARGE_N / 2 / 1000 * 1000))
step "seeding $LARGE_N regions straight into SQLite and MariaDB ($MYSQL_DB_LARGE)"
DSN[large-sqlite]="sqlite://$PWD/$RUN/large.db"
fresh_mysql "$MYSQL_DB_LARGE"
DSN[large-mariadb]="$MYSQL_DSN/$MYSQL_DB_LARGE"
declare -A DEEP_URL
for db in sqlite mariadb; do
  s=large-$db
  "$BENCH" seed --database "${DSN[$s]}" --count "$LARGE_N" >&2 || die "seeding ${DSN[$s]} failed"
  READ[$s]=$(token "${DSN[$s]}" default regions:read)
  start_regiond "$s" "${DSN[$s]}" "${LARGE_FLAGS[@]}"
done

# stream_run ROUND DB: the whole list, unpaged; time, bytes, and the server's memory.
stream_run() {
  local r=$1 db=$2 s=large-$2 pid before after w code bytes total ttfb h
  pid=${PID[$s]} h=$RAW/stream-r$r-$db.headers
  reset_hwm "$pid"
  before=$(status_kb "$pid" VmRSS)
  w=$(curl -sS -o /dev/null -D "$h" -w '%{http_code} %{size_download} %{time_total} %{time_starttransfer}' \
    -H "Authorization: ${READ[$s]}" "http://${ADDR[$s]}/openapi/v1/regions") || die "fetching the whole list from regiond ($db) failed"
  after=$(status_kb "$pid" VmHWM)
  read -r code bytes total ttfb <<<"$w"
  [ "$code" = 200 ] || die "the whole list from regiond ($db): HTTP $code"
  [ "$(header "$h" X-Total-Count)" = "$LARGE_N" ] || die "the whole list from regiond ($db) does not count $LARGE_N regions"
  echo "group=stream round=$r db=$db http_code=$code seconds=$total ttfb_s=$ttfb bytes=$bytes" \
    "content_length=$(header "$h" Content-Length | grep . || echo none)" \
    "transfer_encoding=$(header "$h" Transfer-Encoding | grep . || echo none)" \
    "rss_before_kb=$before hwm_after_kb=$after" >>"$RESULTS"
  printf '    %-28s %s s, %s bytes, RSS %s -> peak %s KiB\n' "stream-r$r-$db" "$total" "$bytes" "$before" "$after" >&2
  keep_events "$s"
}

# The first request of a fresh server, before anything else touched it.
step "the whole list of $LARGE_N regions, first request"
for db in sqlite mariadb; do stream_run 1 "$db"; done

step "finding a page $DEEP regions deep (following Link headers)"
for db in sqlite mariadb; do
  s=large-$db url="http://${ADDR[$s]}/openapi/v1/regions?limit=1000"
  for ((i = 0; i < DEEP / 1000; i++)); do
    link=$(curl -fsS -o /dev/null -D - -H "Authorization: ${READ[$s]}" "$url" | tr -d '\r' | sed -n 's/^[Ll]ink: <\([^>]*\)>.*/\1/p')
    [ -n "$link" ] || die "regiond ($db) gave no Link to the next page after $((i * 1000)) regions"
    url="http://${ADDR[$s]}$link"
  done
  pt=$(sed -n 's/.*[?&]page_token=\([^&]*\).*/\1/p' <<<"$url")
  DEEP_URL[$db]="http://${ADDR[$s]}/openapi/v1/regions?limit=100&page_token=$pt"
  first=$(printf 'region-%06d' $((DEEP + 1)))
  got=$(curl -fsS -H "Authorization: ${READ[$s]}" "${DEEP_URL[$db]}" | grep -o '"region_name":"[^"]*"' | head -n 1 | cut -d'"' -f4 || true)
  [ "$got" = "$first" ] || die "the deep page of regiond ($db) starts at '$got', not $first"
  keep_events "$s"
done

step "warming up the pages ($WARMUP each)"
for db in sqlite mariadb; do
  wrk_run "warmup-large-$db" "large-$db" "$WARMUP" "$CONNS" "http://${ADDR[large-$db]}/openapi/v1/regions?limit=100" "${READ[large-$db]}"
done
for r in $(seq 1 "$ROUNDS"); do
  step "$LARGE_N regions, round $r of $ROUNDS"
  order=(sqlite mariadb)
  ((r % 2 == 0)) && order=(mariadb sqlite)
  for db in "${order[@]}"; do
    s=large-$db
    measure large "$r" "$s" "http://${ADDR[$s]}/openapi/v1/regions?limit=100" "${READ[$s]}" "db=$db" "page=first"
    measure large "$r" "$s" "${DEEP_URL[$db]}" "${READ[$s]}" "db=$db" "page=deep"
    # One connection: the time a page takes without waiting behind 31 others.
    MEASURE_CONNS=1 measure large "$r" "$s" "http://${ADDR[$s]}/openapi/v1/regions?limit=100" "${READ[$s]}" "db=$db" "page=first-c1"
    MEASURE_CONNS=1 measure large "$r" "$s" "${DEEP_URL[$db]}" "${READ[$s]}" "db=$db" "page=deep-c1"
    [ "$r" = 1 ] || stream_run "$r" "$db"
  done
done
stop_all
fi # the large database

# --- report ----------------------------------------------------------------------------------
ELAPSED=$(($(date +%s) - START))
[ "$CUT_OFF_ERRORS" = 0 ] || printf 'bench: regiond logged %s errors for requests cut off when wrk stopped (see %s/*.events)\n' "$CUT_OFF_ERRORS" "$RUN" >&2
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta quick "$QUICK"
meta only "$ONLY"
meta shared_note "$NOTE"
meta cpu "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta nproc "$(nproc)"
meta memory "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
meta kernel "$(uname -sr)"
meta go "$(go version | cut -d' ' -f3-)"
meta mariadb "$(mysql_ -N -e 'SELECT VERSION()')"
meta wrk "$(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2) (Debian package)"
meta regiond "$("$REGIOND" version) at commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!BENCHMARKS.md' || echo ' (with uncommitted changes)')"
meta load_start "$LOAD_START"
meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration "$DURATION"
meta rounds "$ROUNDS"
meta list_bytes "$LIST_BYTES"
meta patch_targets "$PATCH_TARGETS"
meta write_conns "$WRITE_CONNS"
meta conns "$CONNS"
meta large_n "$LARGE_N"
meta deep_offset "${DEEP:-}"
meta mysql_db "$MYSQL_DB"
meta mysql_db_large "$MYSQL_DB_LARGE"
meta serve_cmd "regiond serve --database DSN --addr 127.0.0.1:0 --rate-limit 0"
meta cmd_read "wrk -t$THREADS -c$CONNS -d$DURATION --latency -s scripts/bench/report.lua -H \"Authorization: \$TOKEN\" http://ADDR/openapi/v1/regions"
meta cmd_write "wrk -t$THREADS -c$WRITE_CONNS -d$DURATION --latency -s scripts/bench/write.lua -H \"Authorization: \$TOKEN\" http://ADDR/openapi/v1/regions -- create|patch RUN [IDS]"
meta cmd_page "wrk -t$THREADS -c$CONNS -d$DURATION --latency -s scripts/bench/report.lua -H \"Authorization: \$TOKEN\" 'http://ADDR/openapi/v1/regions?limit=100[&page_token=...]'"
meta cmd_stream "curl -sS -o /dev/null -D HEADERS -w '%{http_code} %{size_download} %{time_total}' -H \"Authorization: \$TOKEN\" http://ADDR/openapi/v1/regions"
meta large_cache_note "${LARGE_CACHE_NOTE:-}"
meta probe_n "$PROBE_N"
meta probe_warmup "$PROBE_WARMUP"
meta probe_concurrency "$PROBE_CONCURRENCY"
meta probe_pause_ms "$PROBE_PAUSE_MS"
meta elapsed "$((ELAPSED / 60)) min $((ELAPSED % 60)) s"
MARKDOWN=BENCHMARKS.md
[ "$QUICK" = 1 ] && MARKDOWN=$OUT/BENCHMARKS.quick.md
[ "$ONLY" = probe ] && MARKDOWN=$OUT/BENCHMARKS.probe.md
echo >&2
"$BENCH" report --results "$RESULTS" --meta "$META" --markdown "$MARKDOWN"
[ "$QUICK" = 1 ] || [ -n "$ONLY" ] || cp BENCHMARKS.md "$OUT/BENCHMARKS.md"
step "done in $((ELAPSED / 60))m$((ELAPSED % 60))s: wrote $MARKDOWN; raw numbers in $OUT/"
