#!/usr/bin/env bash
# Builds bc_bench (the `release` preset) and runs it: the cost of one
# periodic rebalance of the bc open-file budgets for several layouts
# (processes x containers), on FakeHost (the computation alone) and on the
# real machine (each process's /proc/PID/fd listed, its RLIMIT_NOFILE read
# and, when it changes, set), per process and per container.
#
#   bench/run_bc_bench.sh [--rounds=R] [--fake-only]
#
# The real part needs root (prlimit of other processes); it starts up to
# 500 exec'd /bin/sleep and kills them by pid. Reports only: exits nonzero
# when the build or a run fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_build bc_bench
build/release/bench/bc_bench "$@"
