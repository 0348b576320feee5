#!/usr/bin/env bash
# Fuzz smoke: run every cargo-fuzz target for SECONDS (default 60) from its
# seed corpus; exit 1 on the first crash, timeout or memory blow-up, with
# the input kept in tests/fuzz/artifacts/TARGET/. docs/config.md, "Fuzzing".
#   tests/fuzz/smoke.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
shift || true
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); the one stable
# toolchain here accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir tests/fuzz)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  seeds=("tests/fuzz/corpus/$t")
  # The loader also starts from the 87 real configs of the corpus test.
  if [ "$t" = config_load ]; then seeds+=(tests/corpus/supervisord); fi
  mkdir -p "$work/$t" "$work/artifacts-$t"
  if ! cargo fuzz run --fuzz-dir tests/fuzz -O "$t" "$work/$t" "${seeds[@]}" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts-$t/" >"$work/$t.log" 2>&1; then
    tail -40 "$work/$t.log"
    mkdir -p "tests/fuzz/artifacts/$t"
    cp "$work/artifacts-$t"/* "tests/fuzz/artifacts/$t/" 2>/dev/null || true
    echo "fuzz smoke: $t FAILED; input(s) in tests/fuzz/artifacts/$t/" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
  echo "fuzz smoke: $t ok, ${runs:-?} runs in ${secs}s"
done
