#!/usr/bin/env bash
# Builds supervise_bench (the `release` preset) and runs it: a write to
# `tasks` that makes a process supervised (gpc-gate's ptrace injection of
# the fork gate) beside an attach without limits and the kernel's own, on
# one real gpcd in one run.
#
#   bench/run_supervise_bench.sh [--repeat=N] [--rounds=N]
#
# Needs root. Target: supervision adds <= 2 ms per process. Reports, does
# not gate: exits nonzero only when the build or a run fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_take_repeat "$@"
bench_require_root run_supervise_bench "ptrace and mounts"
bench_build supervise_bench
for ((i = 1; i <= repeat; i++)); do
  echo "== run $i of $repeat"
  build/release/bench/supervise_bench "${bench_args[@]}"
done
