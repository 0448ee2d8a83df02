#!/usr/bin/env bash
# Builds fork_gate_bench (the `release` preset) and runs it: the cost of a
# supervised fork (gpc exec's seccomp gate answered by gpcd's ForkGate over
# the real framework and tracker) next to an unsupervised one, alternating
# rounds in one run.
#
#   bench/run_fork_gate_bench.sh [--repeat=N] [--forks=N] [--rounds=R]
#
# Needs root (proc connector). Prints each run's table; the target is a
# ratio <= 1.3x. Reports, does not gate: exits nonzero only when the build
# or a run fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_take_repeat "$@"
bench_require_root run_fork_gate_bench "proc connector"
bench_build fork_gate_bench
for ((i = 1; i <= repeat; i++)); do
  echo "== run $i of $repeat"
  build/release/bench/fork_gate_bench "${bench_args[@]}"
done
