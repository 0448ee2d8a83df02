#!/usr/bin/env bash
# Builds fs_bench (the `release` preset) and runs it: gpc's container file
# system (FUSE) side by side with the kernel's own cgroup v1 in one run,
# alternating in rounds: attach through `tasks`, mkdir+rmdir, and reading
# the `tasks` file of a container holding 10,000 threads.
#
#   bench/run_fs_bench.sh [--repeat=N] [fs_bench options...]
#
# Needs root (mounts, proc connector). Prints each run's table and FUSE
# requests per operation, then the median over runs of each ratio against
# its target (attach <= 2.5x, mkdir_rmdir <= 3x, tasks_read <= 1x). The
# script reports; it does not gate: it exits 0 when a target is missed,
# nonzero only when the build or a run fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_take_repeat "$@"
bench_require_root run_fs_bench "cgroup and FUSE mounts, tracker"
bench_build fs_bench
bench_temp_file fs-bench
out="$bench_out"

for ((i = 1; i <= repeat; ++i)); do
  echo "== run $i of $repeat"
  build/release/bench/fs_bench "${bench_args[@]}" | tee -a "$out"
done

echo
echo "median over $repeat run(s):"
for op in attach mkdir_rmdir tasks_read; do
  grep "^fs_bench $op:" "$out" | awk -v op="$op" "$bench_awk_median"'
    {
      for (f = 1; f <= NF; ++f) {
        split($f, kv, "=")
        if (kv[1] == "kernel_us") k[NR] = kv[2]
        if (kv[1] == "gpc_us") g[NR] = kv[2]
        if (kv[1] == "ratio") r[NR] = kv[2]
        if (kv[1] == "target") t = kv[2]
        if (kv[1] == "requests_per_op") q[NR] = kv[2]
      }
    }
    END {
      if (NR == 0) exit
      ratio = med(r, NR)
      printf "%-12s kernel_us=%.1f gpc_us=%.1f ratio=%.2f target=%s %s requests_per_op=%.3f\n",
        op, med(k, NR), med(g, NR), ratio, t, ratio <= t ? "PASS" : "MISS", med(q, NR)
    }'
done
for op in attach mkdir_rmdir; do
  grep "^fs_bench ${op}_vs_floor:" "$out" | awk -v op="$op" "$bench_awk_median"'
    {
      for (f = 1; f <= NF; ++f) {
        split($f, kv, "=")
        if (kv[1] == "floor_us") fl[NR] = kv[2]
        if (kv[1] == "gpc_us") g[NR] = kv[2]
        if (kv[1] == "ratio") r[NR] = kv[2]
      }
    }
    END {
      if (NR == 0) exit
      ratio = med(r, NR)
      printf "%-12s vs the FUSE floor: floor_us=%.1f gpc_us=%.1f ratio=%.2f target=1.25 %s\n",
        op, med(fl, NR), med(g, NR), ratio, ratio <= 1.25 ? "PASS" : "MISS"
    }'
done
if grep -q " MISS" "$out"; then
  echo "some targets were missed in some run (reported, not gated)"
fi
exit 0
