#!/usr/bin/env bash
# Builds cpuacct_bench (the `release` preset) and runs it: the cost of
# reading cpuacct.usage of a container holding a process of 1,000 threads,
# gpc through its FUSE mount beside the kernel's cgroup v1 cpuacct (the
# mounted hierarchy, or a temporary mount if the controller is free), as a
# ratio; and gpc's CPU at rest, with cpuacct's host reads over the idle
# interval (0: no polling).
#
#   bench/run_cpuacct_bench.sh [--repeat=N] [cpuacct_bench options...]
#     options: --threads=N --reads=N --rounds=R --idle-seconds=S --attach-seconds=S
#
# Needs root (FUSE mount, proc connector, cgroup v1). Prints each run, then
# the medians over runs. Reports only: exits nonzero when the build or a
# run fails, or when cpuacct read the machine while nobody read a file.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_take_repeat "$@"
bench_require_root run_cpuacct_bench "FUSE and cgroup mounts, tracker"
bench_build cpuacct_bench
bench_temp_file cpuacct-bench
out="$bench_out"

for ((i = 1; i <= repeat; ++i)); do
  echo "== run $i of $repeat"
  build/release/bench/cpuacct_bench "${bench_args[@]}" | tee -a "$out"
done

echo
echo "median over $repeat run(s):"
for what in usage_read attach_under_reads at_rest; do
  grep "^cpuacct_bench $what:" "$out" | awk -v what="$what" "$bench_awk_median"'
    {
      for (f = 3; f <= NF; ++f) {
        split($f, kv, "=")
        keys[kv[1]] = 1
        v[kv[1], NR] = kv[2]
      }
    }
    END {
      if (NR == 0) exit
      line = what ":"
      for (k in keys) {
        n = 0
        for (r = 1; r <= NR; ++r) a[++n] = v[k, r]
        line = line " " k "=" med(a, n)
      }
      print line
    }'
done
