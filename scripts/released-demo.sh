#!/usr/bin/env bash
# Builds the demo app of the released version, 0.1.0 (commit 4e8bfea, the
# CHANGELOG's 0.1.0), for the rolling-upgrade test (tests/ops/rolling.rs):
# that build and this one on one database, one browser alternating between
# them. Prints the binary's path. The build is kept in
# target/released-0.1/ and reused while it is there.
set -euo pipefail
cd "$(dirname "$0")/.."

RELEASED=4e8bfeaa5ed9169ade3420076e49b15d08f120c6
out="$PWD/target/released-0.1"
bin="$out/demo"
mkdir -p "$out"
# One build at a time: tests that start together wait for the first.
exec 9>"$out/.lock"
flock 9
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
# The released sources, with their Cargo.lock: the versions it shipped with.
git archive "$RELEASED" | tar -x -C "$src"
cargo build --quiet --locked --manifest-path "$src/Cargo.toml" --example demo \
  --target-dir "$out/target" >&2
cp "$out/target/debug/examples/demo" "$bin"
# Only the binary is needed: the build's own files go.
rm -rf "$out/target"
echo "$bin"
