#!/usr/bin/env bash
# A throwaway 3-node MariaDB Galera cluster on loopback ports, for tests (run as root).
#
#   scripts/galera.sh start       bootstrap node 1, join nodes 2 and 3, wait until all are Synced;
#                                 idempotent: a healthy cluster is left alone, missing nodes rejoin,
#                                 a cluster with no node left is rebuilt from scratch
#   scripts/galera.sh stop        SIGKILL every node and remove the state directory
#   scripts/galera.sh status      each node's wsrep state; exit 0 only when all 3 are Synced
#   scripts/galera.sh kill N      SIGKILL node N (1-3), as a crash would
#   scripts/galera.sh restart N   start node N again: it rejoins through IST (or SST) and is Synced
#   scripts/galera.sh addrs       the SQL addresses, comma separated (127.0.0.1:3311,...)
#
# Node N listens on 127.0.0.1: SQL BASE+N, Galera replication BASE+1260+N, IST BASE+1270+N,
# rsync SST BASE+1280+N (BASE=3310: 3311-3313, 4571-4573, 4581-4583, 4591-4593). Every node has
# root without a password on loopback (like the MariaDB on 3306 the tests use) and a database `test`.
#
# Environment:
#   GALERA_BASE_PORT=3310      another base runs a second cluster next to this one (keep bases at
#                              least 30 apart; start refuses ports that are already taken)
#   GALERA_STATE_DIR=/tmp/regiond-galera-BASE   datadirs, configs, logs; every parent directory
#                              must be searchable by the mysql user (the rsync SST runs as mysql)
#   GALERA_TIMEOUT=180         seconds to wait for a node to become Synced
set -euo pipefail

BASE=${GALERA_BASE_PORT:-3310}
STATE=${GALERA_STATE_DIR:-/tmp/regiond-galera-$BASE}
TIMEOUT=${GALERA_TIMEOUT:-180}
NODES=(1 2 3)
MARIADBD=/usr/sbin/mariadbd
PROVIDER=/usr/lib/galera/libgalera_smm.so

die() { echo "galera: $*" >&2; exit 1; }
log() { echo "galera: $*" >&2; }

case $BASE in '' | *[!0-9]*) die "GALERA_BASE_PORT must be a number, got '$BASE'" ;; esac
case $STATE in /*) ;; *) die "GALERA_STATE_DIR must be an absolute path, got '$STATE'" ;; esac
[ "$STATE" != / ] || die "GALERA_STATE_DIR must not be /"
[ "$(id -u)" = 0 ] || die "must run as root (it starts mariadbd as the mysql user)"

sql_port() { echo $((BASE + $1)); }
gcomm_port() { echo $((BASE + 1260 + $1)); }
ist_port() { echo $((BASE + 1270 + $1)); }
sst_port() { echo $((BASE + 1280 + $1)); }
node_dir() { echo "$STATE/node$1"; }
# start-stop-daemon writes this pid file as it forks (mariadbd's own appears only later).
pid_file() { echo "$STATE/node$1/launch.pid"; }

now() { date +%s.%N; }
# elapsed START: seconds since START, one decimal.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# sql N QUERY: runs QUERY on node N as root over TCP; prints tab-separated rows without headers.
sql() {
  mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$(sql_port "$1")" -u root \
    --connect-timeout=2 -N -B -e "$2"
}

# wsrep_var N NAME: the value of status variable NAME on node N, empty when it does not answer.
wsrep_var() { sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | cut -f2 || true; }

# alive PID: the process exists and is not a zombie (an init that reaps late must not make a
# dead node look alive).
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# node_pid N: the pid of node N's mariadbd when it runs (checked against its command line, so a
# stale pid file or a recycled pid never points at another process).
node_pid() {
  local f pid
  f=$(pid_file "$1")
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--defaults-file=$(node_dir "$1")/my.cnf" || return 1
  echo "$pid"
}

running() { node_pid "$1" >/dev/null; }

synced() { [ "$(wsrep_var "$1" wsrep_local_state_comment)" = Synced ]; }

ensure_packages() {
  local missing=()
  [ -x "$MARIADBD" ] || missing+=(mariadb-server)
  [ -f "$PROVIDER" ] || missing+=(galera-4)
  command -v rsync >/dev/null 2>&1 || missing+=(rsync)
  [ ${#missing[@]} = 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    die "could not install ${missing[*]} (apt-get install -y ${missing[*]})"
}

# check_reachable DIR: the rsync SST and mariadbd run as mysql, so every directory from / down to
# DIR must be searchable by it; name the first one that is not.
check_reachable() {
  local d=$1 path=""
  local IFS=/
  for part in $d; do
    [ -n "$part" ] || continue
    path="$path/$part"
    runuser -u mysql -- test -x "$path" ||
      die "the mysql user cannot enter $path ($(stat -c '%A %U:%G' "$path")); the rsync state transfer runs as mysql: choose a GALERA_STATE_DIR whose every parent is searchable (o+x)"
  done
}

check_ports_free() {
  local n p
  for n in "$@"; do
    for p in $(sql_port "$n") $(gcomm_port "$n") $(ist_port "$n") $(sst_port "$n"); do
      if ss -Htln "sport = :$p" | grep -q .; then
        die "port $p (node $n) is taken: $(ss -Htlnp "sport = :$p" | awk '{print $NF}' | head -1); stop it or set GALERA_BASE_PORT"
      fi
    done
  done
}

write_config() {
  local n=$1 d peers="" m
  d=$(node_dir "$n")
  for m in "${NODES[@]}"; do peers="$peers${peers:+,}127.0.0.1:$(gcomm_port "$m")"; done
  # mariadbd ignores a world-writable option file: write it as root, mode 0644.
  install -m 0644 -o root -g root /dev/stdin "$d/my.cnf" <<EOF
[mysqld]
user = mysql
datadir = $d/data
socket = $d/mariadbd.sock
pid-file = $d/mariadbd.pid
log-error = $d/error.log
port = $(sql_port "$n")
bind-address = 127.0.0.1
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
performance_schema = OFF
max_connections = 300
innodb_buffer_pool_size = 128M
innodb_log_file_size = 48M
# Galera: row events, interleaved AUTO_INCREMENT locks; the cluster is the durability, so the
# redo log is written at every commit but flushed once a second (the usual Galera setting).
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
innodb_flush_log_at_trx_commit = 2
wsrep_on = ON
wsrep_provider = $PROVIDER
wsrep_cluster_name = regiond-galera-$BASE
wsrep_cluster_address = gcomm://$peers
wsrep_node_name = node$n
wsrep_node_address = 127.0.0.1:$(gcomm_port "$n")
wsrep_node_incoming_address = 127.0.0.1:$(sql_port "$n")
wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=128M"
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:$(sst_port "$n")
EOF
}

# launch N [ARGS...]: starts node N's mariadbd in the background (start-stop-daemon, no systemd).
launch() {
  local n=$1 d
  shift
  d=$(node_dir "$n")
  start-stop-daemon --start --background --output "$d/stdout.log" --make-pidfile \
    --pidfile "$(pid_file "$n")" --exec "$MARIADBD" -- --defaults-file="$d/my.cnf" "$@" >/dev/null
}

# running_count: how many nodes of this cluster run.
running_count() {
  local n c=0
  for n in "${NODES[@]}"; do running "$n" && c=$((c + 1)); done
  echo $c
}

# wait_synced N: until node N is Synced in a cluster counting every running node, or it dies, or
# TIMEOUT passes.
wait_synced() {
  local n=$1 deadline=$((SECONDS + TIMEOUT)) state size want
  while [ $SECONDS -lt $deadline ]; do
    running "$n" || die "node $n exited while starting; last lines of $(node_dir "$n")/error.log:
$(tail -n 15 "$(node_dir "$n")/error.log" 2>/dev/null)"
    state=$(wsrep_var "$n" wsrep_local_state_comment)
    size=$(wsrep_var "$n" wsrep_cluster_size)
    want=$(running_count)
    [ "$state" = Synced ] && [ "${size:-0}" -ge "$want" ] && return 0
    sleep 0.5
  done
  die "node $n not Synced in a cluster of $want within ${TIMEOUT}s (state '${state:-no answer}', size '${size:-?}'); see $(node_dir "$n")/error.log"
}

# kill_node N: SIGKILLs node N and waits until it is gone.
kill_node() {
  local pid
  pid=$(node_pid "$1") || return 0
  kill -KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.1; done
}

# kill_helpers: rsync daemons an interrupted state transfer may leave behind (their pid files sit
# in the datadirs; only processes whose command line names this state directory are signalled).
kill_helpers() {
  local f pid
  [ -d "$STATE" ] || return 0
  while IFS= read -r f; do
    pid=$(cat "$f" 2>/dev/null) || continue
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
      tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$STATE/"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done < <(find "$STATE" -name '*.pid' -path '*/data/*' 2>/dev/null)
}

# remove_state: deletes the state directory, but only one this script made (a mistyped
# GALERA_STATE_DIR must never cost anyone their files).
remove_state() {
  [ -e "$STATE" ] || return 0
  [ -f "$STATE/.regiond-galera" ] || die "$STATE exists but was not made by galera.sh: not removing it; choose another GALERA_STATE_DIR"
  kill_helpers
  rm -rf "$STATE"
}

cmd_stop() {
  local t n
  t=$(now)
  # The state is thrown away, so nothing is gained by a clean shutdown, which takes 0.5-7 s while
  # the leaving nodes agree on views.
  for n in "${NODES[@]}"; do kill_node "$n"; done
  remove_state
  log "stopped, $STATE removed ($(elapsed "$t"))"
}

# recovered_position N: after a crash grastate.dat says seqno -1, and a node started like that
# asks for a full SST; galera_recovery (what the systemd unit runs) reads the last committed
# position from InnoDB and prints it as --wsrep_start_position=..., so that IST can be used.
recovered_position() {
  local d
  d=$(node_dir "$1")
  grep -qE '^seqno:[[:space:]]+-1' "$d/data/grastate.dat" 2>/dev/null || return 0
  galera_recovery --defaults-file="$d/my.cnf" 2>>"$d/recovery.log" ||
    die "galera_recovery could not read node $1's position; see $d/recovery.log"
}

# join N: starts node N as a joiner of the running cluster and waits until it is Synced; reports
# whether it caught up through IST (incremental) or SST (a full rsync copy).
join() {
  local n=$1 t lines=0 how err position
  t=$(now)
  err="$(node_dir "$n")/error.log"
  [ -f "$err" ] && lines=$(wc -l <"$err")
  check_ports_free "$n"
  position=$(recovered_position "$n")
  # shellcheck disable=SC2086 # empty, or one --wsrep_start_position=... argument
  launch "$n" $position
  wait_synced "$n"
  # The SST script runs either way and says which one it was ("rsync IST completed on joiner").
  how=$(tail -n +"$((lines + 1))" "$err" | grep -oE "(IST|SST) completed on joiner" | tail -1 | cut -c1-3)
  log "node $n joined through ${how:-?}, Synced ($(elapsed "$t"))"
}

bootstrap() {
  local t d
  t=$(now)
  d=$(node_dir 1)
  mariadb-install-db --defaults-file="$d/my.cnf" --user=mysql --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >"$d/install.log" 2>&1 ||
    die "mariadb-install-db failed; see $d/install.log"
  log "node 1 datadir initialised ($(elapsed "$t"))"
  t=$(now)
  launch 1 --wsrep-new-cluster
  wait_synced 1
  # The same accounts as the MariaDB on 3306: root without a password over loopback TCP. Done
  # before the others join, so they get it with the state transfer.
  sql 1 "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    DROP USER IF EXISTS 'root'@'$(hostname)';
    CREATE DATABASE IF NOT EXISTS test;" ||
    die "could not set up root and the test database on node 1"
  log "node 1 bootstrapped a new cluster ($(elapsed "$t"))"
}

prepare_state() {
  local n d
  install -d -m 0755 -o root -g root "$STATE"
  touch "$STATE/.regiond-galera"
  check_reachable "$STATE"
  for n in "${NODES[@]}"; do
    d=$(node_dir "$n")
    install -d -m 0750 -o mysql -g mysql "$d" "$d/data"
    write_config "$n"
  done
  runuser -u mysql -- test -w "$(node_dir 1)/data" || die "the mysql user cannot write $(node_dir 1)/data"
}

cmd_start() {
  local t0 n up=()
  t0=$(now)
  ensure_packages
  for n in "${NODES[@]}"; do running "$n" && up+=("$n"); done
  if [ ${#up[@]} = 0 ]; then
    # Nothing runs: whatever state is left (a crash, a reboot) is thrown away.
    remove_state
    check_ports_free "${NODES[@]}"
    prepare_state
    bootstrap
    for n in "${NODES[@]:1}"; do join "$n"; done
  else
    log "nodes ${up[*]} already run in $STATE"
    for n in "${NODES[@]}"; do running "$n" || join "$n"; done
  fi
  for n in "${NODES[@]}"; do wait_synced "$n"; done
  sql 1 "CREATE DATABASE IF NOT EXISTS test" || die "could not create database test"
  log "cluster of ${#NODES[@]} Synced on $(cmd_addrs) ($(elapsed "$t0") in all)"
}

cmd_status() {
  local n ok=0 pid
  printf '%-5s %-16s %-8s %-10s %-8s %-5s %s\n' node sql pid state cluster size ready
  for n in "${NODES[@]}"; do
    if pid=$(node_pid "$n"); then
      local state size status ready
      state=$(wsrep_var "$n" wsrep_local_state_comment)
      size=$(wsrep_var "$n" wsrep_cluster_size)
      status=$(wsrep_var "$n" wsrep_cluster_status)
      ready=$(wsrep_var "$n" wsrep_ready)
      printf '%-5s %-16s %-8s %-10s %-8s %-5s %s\n' "$n" "127.0.0.1:$(sql_port "$n")" "$pid" \
        "${state:-no-answer}" "${status:--}" "${size:--}" "${ready:--}"
      [ "$state" = Synced ] && [ "$size" = "${#NODES[@]}" ] || ok=1
    else
      printf '%-5s %-16s %-8s %-10s\n' "$n" "127.0.0.1:$(sql_port "$n")" - down
      ok=1
    fi
  done
  return $ok
}

node_arg() {
  case ${1:-} in 1 | 2 | 3) ;; *) die "usage: $0 $2 N (N = 1, 2 or 3)" ;; esac
}

cmd_kill() {
  local n=$1 t
  t=$(now)
  running "$n" || die "node $n is not running"
  kill_node "$n"
  log "node $n killed with SIGKILL ($(elapsed "$t"))"
}

cmd_restart() {
  local n=$1 m others=0
  if running "$n"; then
    synced "$n" && { log "node $n already runs and is Synced"; return 0; }
    die "node $n runs but is not Synced ($(wsrep_var "$n" wsrep_local_state_comment)); wait, or kill it first"
  fi
  for m in "${NODES[@]}"; do [ "$m" != "$n" ] && running "$m" && others=$((others + 1)); done
  [ $others -gt 0 ] || die "no other node runs, node $n has no cluster to rejoin: use '$0 start'"
  join "$n"
}

cmd_addrs() {
  local n out=""
  for n in "${NODES[@]}"; do out="$out${out:+,}127.0.0.1:$(sql_port "$n")"; done
  echo "$out"
}

# One command at a time per cluster (status and addrs only read); the lock lives next to the
# state directory, which stop removes.
with_lock() {
  exec 9>"$STATE.lock"
  flock -w 600 9 || die "another galera.sh holds $STATE.lock"
  "$@"
}

case ${1:-} in
  start) with_lock cmd_start ;;
  stop) with_lock cmd_stop ;;
  status) cmd_status ;;
  addrs) cmd_addrs ;;
  kill) node_arg "${2:-}" kill && with_lock cmd_kill "$2" ;;
  restart) node_arg "${2:-}" restart && with_lock cmd_restart "$2" ;;
  *) die "usage: $0 start|stop|status|addrs|kill N|restart N" ;;
esac
