#!/usr/bin/env bash
# Instructions per operation, on the calling thread, counted by valgrind's
# callgrind, so the machine's noise does not move them:
#
# - a call of 256 B to echo: plain wasmtime's typed call, the same call on
#   a fiber, and Caxton's request_blocking (benches/examples/calls.rs);
# - a spawn into a warm slot, and its end: plain wasmtime's store and
#   instantiate, the same on a fiber with `init`, and Caxton's
#   spawn_blocking + kill (benches/examples/spawns.rs).
#
# Only the operations are counted (callgrind collects inside `calls::calls`
# or `spawns::spawn` alone), so compiling the component, whose share of the
# main thread varies with how its threads split the work, cannot leak into
# a figure. Under valgrind, wasmtime's reset of a pool slot through
# /proc/self/pagemap fails and falls back to resetting the slot's resident
# pages (a memset): each spawn counts that fallback, on every side alike.
# RUST_BACKTRACE=0 keeps the error of that failure from taking a backtrace.
# Needs valgrind (Debian: apt-get install valgrind); takes about 2 minutes.
#
#   bash benches/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p caxton-benches --example calls --example spawns
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Instructions per operation of `$1 $2 ARGS...` (the example, its side,
# then its arguments), counted inside the function $3, over $4 operations.
count() {
  local example=$1 side=$2 function=$3 n=$4
  shift 4
  rm -f "$dir"/out*
  RUST_BACKTRACE=0 valgrind --tool=callgrind --separate-threads=yes --collect-atstart=no \
    --toggle-collect="$function" --callgrind-out-file="$dir/out" \
    "target/release/examples/$example" "$side" "$n" "$@" >/dev/null 2>&1
  echo $(( $(awk '/^(summary|totals):/ { print $2; exit }' "$dir/out-01") / n ))
}
# Prints one operation's counts per side and Caxton's ratios.
report() {
  local what=$1 raw=$2 async=$3 caxton=$4
  printf '%s: raw %d, %s %d, caxton %d instructions\n' "$what" "$raw" "$5" "$async" "$caxton"
  awk -v r="$raw" -v a="$async" -v c="$caxton" -v n="$5" \
    'BEGIN { printf "  caxton / raw %.2fx, caxton / %s %.2fx, %s / raw %.2fx\n", c / r, n, c / a, n, a / r }'
}
calls=2000
report "a call of 256 B to echo" \
  "$(count calls raw 'calls::calls*' $calls)" \
  "$(count calls async 'calls::calls*' $calls)" \
  "$(count calls caxton 'calls::calls*' $calls)" "async"
spawns=500
report "a spawn into a warm slot, and its end" \
  "$(count spawns raw 'spawns::spawn*' $spawns 0 compact)" \
  "$(count spawns async 'spawns::spawn*' $spawns 0 compact)" \
  "$(count spawns caxton 'spawns::spawn*' $spawns 0 compact)" "async + init"
