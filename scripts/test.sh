#!/usr/bin/env bash
# Runs the whole test suite. This is the README's test command and what CI runs.
#
# It also starts a throwaway Redis node and Redis Cluster (scripts/redis-env.sh)
# unless AUS_REDIS_URL and AUS_REDIS_CLUSTER_NODES are set.
#
# With DATABASE_URL set, the tests use that Postgres server (it must allow
# CREATE DATABASE: every test gets a fresh database). Without it, this script
# starts a throwaway Postgres cluster in a temporary directory (installing
# Debian's PostgreSQL server package first when it is missing and we are root),
# runs the suite against it and removes the cluster afterwards. The PgBouncer
# tests start Debian's pgbouncer in front of it (installed here when missing
# and we are root).
#
# Extra arguments go to `cargo nextest run` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/pg-env.sh
. scripts/pg-env.sh
# shellcheck source=scripts/redis-env.sh
. scripts/redis-env.sh

# The browser test drives Debian's Chromium through chromedriver.
ensure_chromium() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian's chromium and chromium-driver for the browser test"
    apt_install chromium chromium-driver
  else
    log "chromium/chromedriver missing: the browser test will fail."
    log "Install them (Debian/Ubuntu: sudo apt-get install chromium chromium-driver)."
  fi
}
ensure_chromium

# The PgBouncer tests start Debian's pgbouncer (transaction pooling) in front
# of the test database, one per test (tests/common/pgbouncer.rs).
ensure_pgbouncer() {
  if [ -n "${PGBOUNCER:-}" ] || command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ]; then
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian's pgbouncer for the PgBouncer tests"
    # apt_install (pg-env.sh) keeps the package's own pgbouncer from starting.
    apt_install pgbouncer
  else
    log "pgbouncer missing: the PgBouncer tests will fail."
    log "Install it (Debian/Ubuntu: sudo apt-get install pgbouncer), or set PGBOUNCER to its path."
  fi
}
ensure_pgbouncer

if [ -z "${DATABASE_URL:-}" ]; then
  start_postgres
else
  log "using DATABASE_URL from the environment"
fi

# The Redis store's tests: a throwaway node and a Cluster of 3 masters with
# a replica each (AUS_REDIS_URL, AUS_REDIS_CLUSTER_NODES), stopped on exit with the
# Postgres cluster.
trap 'cleanup; redis_cleanup' EXIT INT TERM
start_redis

# The rolling-upgrade test runs the released version's demo beside this
# build: built once here (about 3 minutes the first time, then kept in
# target/released-0.1/), before the tests run in parallel.
log "building the released demo (0.1.0) for the rolling-upgrade test"
scripts/released-demo.sh >/dev/null

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --all-features --no-fail-fast "$@"
else
  log "cargo-nextest not found, using cargo test"
  cargo test --all-features --no-fail-fast "$@"
fi
# nextest does not run doctests.
cargo test --all-features --doc
# The fuzz targets must keep building (running them: fuzz/README.md).
log "building the fuzz targets"
cargo build --manifest-path fuzz/Cargo.toml --bins
