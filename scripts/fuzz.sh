#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan+UBSan) and runs
# each one for a while over a scratch copy of its seed corpus.
#
#   scripts/fuzz.sh [seconds-per-target]     (default 30)
#
# GPC_FUZZ_PRESET=asan takes the targets of the `asan` build instead (CI:
# that build already holds them, built at -O0); the `fuzz` preset builds
# them optimised, for long runs.
#
# Targets are the *_fuzz executables of the build; the seed corpus of X_fuzz
# is fuzz/corpus/X. Exits nonzero if any target crashes, leaks, times out or
# fails a property. Crash reproducers are kept in the scratch directory, whose
# path is printed.
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "usage: $0 [seconds-per-target]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

preset="${GPC_FUZZ_PRESET:-fuzz}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target fuzzers

# gpc_fuzzer() targets are declared in fuzz/CMakeLists.txt, so they land in
# build/<preset>/fuzz/.
shopt -s nullglob
targets=()
for bin in "build/$preset"/fuzz/*_fuzz; do
  [[ -f "$bin" && -x "$bin" ]] && targets+=("$bin")
done
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz: no *_fuzz executables in build/$preset/fuzz" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/gpc-fuzz.XXXXXX")"
echo "fuzz: scratch directory $work"

failed=()
for bin in "${targets[@]}"; do
  name="$(basename "$bin")"
  seeds="fuzz/corpus/${name%_fuzz}"
  corpus="$work/$name/corpus"
  artifacts="$work/$name/artifacts/"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "$seeds" ]]; then
    cp -R "$seeds/." "$corpus/"
  else
    echo "fuzz: warning: no seed corpus $seeds for $name" >&2
  fi
  echo "fuzz: running $name for ${seconds}s"
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" \
      >"$work/$name/log" 2>&1; then
    echo "fuzz: $name ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
      "$work/$name/log" | grep -o '[0-9]*$' || echo '?') runs)"
  else
    echo "fuzz: $name FAILED; last lines of $work/$name/log:" >&2
    tail -n 30 "$work/$name/log" >&2
    ls "$artifacts" >&2 || true
    failed+=("$name")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (artifacts under $work)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed"
rm -rf "$work"
