#!/usr/bin/env bash
# Runs the benchmarks (benches/layer.rs) against a throwaway Postgres with
# pg_stat_statements, unless DATABASE_URL is set. Prints a Markdown table.
#   BENCH_SECS=5 BENCH_CLIENTS=32 [PG_DURABLE=0] scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg-env.sh
. scripts/pg-env.sh
if [ -z "${DATABASE_URL:-}" ]; then
  # Commits as in production: fsync and synchronous_commit on
  # (PG_DURABLE=0 for the faster, non-durable cluster the tests use).
  PG_DURABLE=${PG_DURABLE:-1} start_postgres
fi
cargo bench --bench layer
