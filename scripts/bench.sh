#!/usr/bin/env bash
# Runs the benchmarks (benches/layer/) against a throwaway Postgres with
# pg_stat_statements, unless DATABASE_URL is set. Prints Markdown: the
# server's durability settings, one table of every variant (no session
# layer, raw SQL floor, ours without and with the cache) and scenario (read,
# write to one session, write to a session per client, new session), the
# two-instance revocation scenario, token rows after 1,000 rotations, and
# the targets of issue #13 with PASS/MISS. About 3 minutes with defaults.
#   BENCH_SECS=5 BENCH_WARMUP_SECS=1 BENCH_CLIENTS=32 BENCH_REVOCATIONS=200 \
#   BENCH_ROTATIONS=1000 [PG_DURABLE=0] scripts/bench.sh
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
