#!/usr/bin/env bash
# Every feature on its own, none, the defaults and all of them build and pass
# clippy (lib, bins, examples, tests and benches that the set enables; the
# integration tests declare the features they need in Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
# `cache` is a default feature: each set below is without it unless named.
sets=("" "postgres" "sqlite" "routes" "cache" "cli" "axum-login"
  "postgres,routes" "sqlite,routes" "postgres,cache" "sqlite,routes,cache"
  "postgres,sqlite,routes" "axum-login,sqlite,routes" "conformance"
  "postgres,tower-sessions-import" "redis")
for features in "${sets[@]}"; do
  echo "== clippy --no-default-features --features '${features}'"
  cargo clippy --quiet --all-targets --no-default-features --features "$features" -- -D warnings
done
echo "== clippy (default features)"
cargo clippy --quiet --all-targets -- -D warnings
