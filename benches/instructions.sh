#!/usr/bin/env bash
# Instructions per call of 256 B to echo, on the main thread, for plain
# wasmtime's typed call, the same call on a fiber, and Caxton's
# request_blocking: counted by valgrind's callgrind, so the machine's noise
# does not move them. Each side runs at two call counts; the difference
# cancels start-up. Needs valgrind (Debian: apt-get install valgrind).
#
#   bash benches/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p caxton-benches --example calls
bin=target/release/examples/calls
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Instructions the main thread ran for `calls $1 $2`.
count() {
  rm -f "$dir"/out*
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/out" \
    "$bin" "$1" "$2" >/dev/null 2>&1
  awk '/^(summary|totals):/ { print $2; exit }' "$dir/out-01"
}
declare -A per
for side in raw async caxton; do
  low=$(count "$side" 1000)
  high=$(count "$side" 3000)
  per[$side]=$(( (high - low) / 2000 ))
  printf '%-7s %6d instructions per call\n' "$side" "${per[$side]}"
done
awk -v r="${per[raw]}" -v a="${per[async]}" -v c="${per[caxton]}" \
  'BEGIN { printf "caxton / raw %.2fx, caxton / async %.2fx, async / raw %.2fx\n", c / r, c / a, a / r }'
