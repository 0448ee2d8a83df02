#!/usr/bin/env bash
# Builds ctxswitch_bench (the `release` preset) and runs it: the cost of
# cpuacct's kernel-side accounting (a BPF program on sched_stat_runtime) to
# a context switch, against no program, in one run.
#
#   bench/run_ctxswitch_bench.sh [--trips=N] [--rounds=R]
#
# Needs root (bpf()). Reports only: exits nonzero when the build fails or
# the program cannot be loaded here.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_require_root run_ctxswitch_bench "bpf()"
bench_build ctxswitch_bench
build/release/bench/ctxswitch_bench "$@"
