#!/usr/bin/env bash
# Soak test (not part of CI): the demo app in-process under mixed traffic
# (reads, writes, sign-ins, "sign out everywhere else") from 1,000 browsers,
# with token rotation every 2 s, for SOAK_SECS seconds (default 180). Prints
# requests/s, counts by status, client-side errors, latencies and the
# process's resident memory every 30 s and at the end. Loopback only.
#
#   scripts/soak.sh                                   # a temporary SQLite file
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/soak.sh
#
# Environment: DATABASE_URL (postgres://… or sqlite:…; it creates its tables
# through the migrations), SOAK_SECS, SOAK_CLIENTS (1000), SOAK_WORKERS (32),
# SOAK_ROTATE_SECS (2), RUST_LOG (default: errors only). Extra arguments go to
# `cargo run`.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-}"
export SOAK_SECS="${SOAK_SECS:-180}"
exec cargo run --release --example soak "$@"
