#!/usr/bin/env bash
# scripts/distributed.rhai against three `caxton-run serve` processes on
# 127.0.0.1 (release build): 1, 2, then 3 nodes each running their share.
# Usage: bash benches/distributed.sh [extra caxton-run flags]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=./target/release/caxton-run
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
nodes=""
for i in 0 1 2; do
  $BIN serve --name "n$i" --listen 127.0.0.1:0 --max-agents 64 >"$dir/n$i.out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 100); do grep -q "^  token:" "$dir/n$i.out" 2>/dev/null && break; sleep 0.05; done
  addr=$(sed -n 's/.*listening on //p' "$dir/n$i.out")
  fp=$(sed -n 's/^  fingerprint: //p' "$dir/n$i.out")
  token=$(sed -n 's/^  token: *//p' "$dir/n$i.out")
  nodes="${nodes:+$nodes;}$addr#$fp#$token"
done
$BIN scripts/distributed.rhai --quiet --set nodes="$nodes" "$@"
