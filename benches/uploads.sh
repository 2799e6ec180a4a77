#!/usr/bin/env bash
# What uploads cost a served node (release build, no compile cache): each
# component deployed twice (compiled, then known by its hash), and the
# refused cases. Usage: bash benches/uploads.sh [COMPONENT.wasm ...]
# (default: the Rust echo; add plugins/js/dist/echo.wasm,
# plugins/python/dist/echo.wasm once built).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=./target/release/caxton-run
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
$BIN serve --listen 127.0.0.1:0 --data-dir "$dir/data" --no-cache --max-agents 64 \
  --max-upload 64MiB --compile-budget 120s >"$dir/out" 2>/dev/null &
pid=$!
for _ in $(seq 200); do grep -q "^  token:" "$dir/out" 2>/dev/null && break; sleep 0.05; done
addr=$(sed -n 's/.*listening on //p' "$dir/out")
fp=$(sed -n 's/^  fingerprint: //p' "$dir/out")
token=$(sed -n 's/^  token: *//p' "$dir/out")
deploy() { $BIN deploy "$@" --node "$addr" --fingerprint "$fp" --token "$token" 2>&1 || true; }
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(plugins/target/wasm32-wasip2/release/echo.wasm)
i=0
for f in "${files[@]}"; do
  i=$((i + 1))
  deploy "$f" --name "c$i"
  deploy "$f" --name "c$i"
done
head -c 70000000 /dev/zero > "$dir/huge.wasm"
echo "not wasm" > "$dir/junk.wasm"
printf '\0asm\x01\0\0\0' > "$dir/core.wasm"
for f in huge junk core; do
  start=$(date +%s.%N)
  deploy "$dir/$f.wasm" | head -c 300; echo
  echo "  ($f refused in $(echo "$(date +%s.%N) - $start" | bc) s)"
done
