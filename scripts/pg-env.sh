# Shared by scripts/test.sh and scripts/bench.sh (sourced, not run):
# start_postgres starts a throwaway PostgreSQL cluster in a temporary
# directory (installing Debian's server package first when it is missing and
# we are root), exports DATABASE_URL, and removes the cluster on exit.

log() { printf '[test.sh] %s\n' "$*" >&2; }

# Installs Debian packages without starting their services: a package such
# as redis-server or pgbouncer starts one on install, which nothing would
# stop in a container without systemd, and the tests start their own on
# free ports. Debian's policy-rc.d (exit 101: "not allowed") is the switch.
apt_install() {
  local policy=/usr/sbin/policy-rc.d ours="" rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && ours=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || rc=$?
  [ "$rc" = 0 ] && { apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?; }
  [ -n "$ours" ] && rm -f "$policy"
  return "$rc"
}

pg_bin_dir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

free_port() {
  local p
  for p in $(seq 55432 55532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  log "no free port in 55432-55532"; exit 1
}

PGTMP=""
PG_BIN=""
cleanup() {
  if [ -n "$PGTMP" ] && [ -d "$PGTMP" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGTMP"
  fi
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  PG_BIN=$(pg_bin_dir || true)
  if [ -z "$PG_BIN" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "PostgreSQL server binaries not found: installing Debian's postgresql package"
      apt_install postgresql postgresql-contrib
      PG_BIN=$(pg_bin_dir)
    else
      log "PostgreSQL server binaries not found. Install them (Debian/Ubuntu: sudo apt-get install postgresql),"
      log "or point DATABASE_URL at a server where this user may CREATE DATABASE."
      exit 1
    fi
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  PGTMP=$(mktemp -d /tmp/aus-pg.XXXXXX)
  trap cleanup EXIT INT TERM
  [ "$(id -u)" = 0 ] && chown postgres "$PGTMP"
  local port
  port=$(free_port)
  as_pg "$PG_BIN/initdb" -D "$PGTMP/data" -U postgres --auth=trust -E UTF8 --no-instructions >/dev/null
  local preload=""
  if [ -f "$("$PG_BIN/pg_config" --pkglibdir 2>/dev/null)/pg_stat_statements.so" ]; then
    preload="-c shared_preload_libraries=pg_stat_statements"
  fi
  # Tests run without durability (faster); the benchmarks set PG_DURABLE=1
  # to commit as production does (fsync, synchronous_commit on).
  local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if [ "${PG_DURABLE:-0}" = 1 ]; then durability="-c fsync=on -c synchronous_commit=on"; fi
  as_pg "$PG_BIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/postgres.log" -w -t 60 \
    -o "-p $port -k $PGTMP -c listen_addresses=127.0.0.1 $durability -c max_connections=400 $preload" \
    start >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  # Tests that stop and start the server (fault tests) need to know how.
  export AUS_PG_BIN="$PG_BIN" AUS_PG_DATA="$PGTMP/data" AUS_PG_LOG="$PGTMP/postgres.log"
  log "throwaway Postgres on port $port (data in $PGTMP, removed on exit)"
}

