#!/usr/bin/env bash
# Builds cpuacct_bench (the `release` preset) and runs it: the cost of
# reading cpuacct.usage of a container holding a process of 1,000 threads,
# gpc through its FUSE mount beside the kernel's cgroup v1 cpuacct (the
# mounted hierarchy, or a temporary mount if the controller is free), as a
# ratio; and gpc's CPU at rest, with cpuacct's host reads over the idle
# interval (0: no polling).
#
#   bench/run_cpuacct_bench.sh [--repeat=N] [cpuacct_bench options...]
#     options: --threads=N --reads=N --rounds=R --idle-seconds=S
#
# Needs root (FUSE mount, proc connector, cgroup v1). Prints each run, then
# the medians over runs. Reports only: exits nonzero when the build or a
# run fails, or when cpuacct read the machine while nobody read a file.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

repeat=1
args=()
for a in "$@"; do
  case "$a" in
    --repeat=*) repeat="${a#--repeat=}" ;;
    *) args+=("$a") ;;
  esac
done

if [[ "$(id -u)" != 0 ]]; then
  echo "run_cpuacct_bench: needs root (FUSE and cgroup mounts, tracker)" >&2
  exit 1
fi

cmake --preset release >/dev/null
cmake --build --preset release --target cpuacct_bench

out="$(mktemp "${TMPDIR:-/tmp}/gpc-cpuacct-bench.XXXXXX")"
trap 'rm -f "$out"' EXIT

for ((i = 1; i <= repeat; ++i)); do
  echo "== run $i of $repeat"
  build/release/bench/cpuacct_bench "${args[@]}" | tee -a "$out"
done

echo
echo "median over $repeat run(s):"
for what in usage_read at_rest; do
  grep "^cpuacct_bench $what:" "$out" | awk -v what="$what" '
    function med(a, n,   i, j, t) {
      for (i = 1; i <= n; ++i)
        for (j = i + 1; j <= n; ++j)
          if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
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
