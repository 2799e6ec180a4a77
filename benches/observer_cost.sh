#!/usr/bin/env bash
# What watching a node costs it: scripts/peak.rhai alternated plain and
# under --observe with a `caxton-run top` attached (in tmux, default 1 s
# interval). Prints each run's peak line. Usage: bash benches/observer_cost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "needs tmux" >&2; exit 1; }
cargo build --release --quiet
BIN=./target/release/caxton-run
err=$(mktemp)
for round in $(seq "${1:-5}"); do
  $BIN scripts/peak.rhai --quiet 2>/dev/null | grep -o "peak [0-9]*K msg/s.*" | sed "s/^/plain    $round: /"
  out=$(mktemp)
  $BIN scripts/peak.rhai --quiet --observe 127.0.0.1:0 >"$out" 2>"$err" &
  pid=$!
  for _ in $(seq 100); do grep -q "observe this run" "$err" && break; sleep 0.05; done
  top=$(grep -o "caxton-run top .*" "$err" | sed "s|^caxton-run|$BIN|")
  tmux new-session -d -s caxton-observer-cost -x 200 -y 50 "$top"
  wait $pid
  tmux kill-session -t caxton-observer-cost 2>/dev/null || true
  grep -o "peak [0-9]*K msg/s.*" "$out" | sed "s/^/observed $round: /"
  rm -f "$out"
done
rm -f "$err"
