#!/usr/bin/env bash
# Builds tracker_bench (the `release` preset) and runs it: gpc's Linux
# tracker against a bare proc-connector listener under thread, vfork and
# fork storms at the machine's peak rate, one after the other.
#
#   bench/run_tracker_bench.sh [--seconds=S] [--repeat=N] [--kinds=threads,vfork,fork]
#
# Needs root (the proc connector). Prints the table and one line per storm
# kind, then the targets: gpc/bare CPU per event <= 1.5x, lag p99 <= 5 ms,
# no loss, no misplaced task. The script reports; it does not gate: it
# exits 0 when a target is missed, nonzero only when the build or the run
# fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_require_root run_tracker_bench "proc connector"
bench_build tracker_bench
bench_temp_file tracker-bench
out="$bench_out"

build/release/bench/tracker_bench "$@" | tee "$out"

echo
echo "targets: ratio <= 1.5, lag_p99_ms <= 5, lost = 0, misplaced = 0"
missed=0
while read -r line; do
  kind="${line#tracker_bench }"
  kind="${kind%%:*}"
  ratio="$(sed -n 's/.* ratio=\([0-9.]*\).*/\1/p' <<<"$line")"
  lag="$(sed -n 's/.* lag_p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  lost="$(sed -n 's/.* lost=\([0-9]*\).*/\1/p' <<<"$line")"
  misplaced="$(sed -n 's/.* misplaced=\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$line")"
  verdict=""
  awk -v r="$ratio" 'BEGIN { exit !(r <= 1.5) }' || verdict+=" ratio"
  awk -v l="$lag" 'BEGIN { exit !(l <= 5) }' || verdict+=" lag"
  [[ "$lost" == 0 ]] || verdict+=" lost"
  [[ "$misplaced" == 0 ]] || verdict+=" misplaced"
  if [[ -z "$verdict" ]]; then
    printf '%-8s PASS\n' "$kind"
  else
    printf '%-8s MISSED:%s\n' "$kind" "$verdict"
    missed=1
  fi
done < <(grep '^tracker_bench ' "$out")
if [[ "$missed" == 1 ]]; then
  echo "some targets were missed (reported, not gated)"
fi
exit 0
