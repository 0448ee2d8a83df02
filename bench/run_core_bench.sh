#!/usr/bin/env bash
# Builds the core benchmarks (the `release` preset), runs them and prints the
# figures of the issue against their targets:
#
#   bench/run_core_bench.sh [extra core_bench flags...]
#
# e.g. --benchmark_min_time=0.1 for a quicker run. Medians of CPU time are
# taken over 5 repetitions (CPU time, because the benchmarks are
# single-threaded and a shared machine's preemption should not count). The script reports; it does not gate: it exits 0 when a target
# is missed, and nonzero only when the build or a run fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
  echo "run_core_bench: python3 is needed to read the benchmark JSON" >&2
  exit 1
fi
bench_build core_bench core_memory

bin="build/release/bench"
work="$(mktemp -d "${TMPDIR:-/tmp}/gpc-core-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Console output for the reader, JSON for the summary.
"$bin/core_bench" \
  --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$work/core_bench.json" \
  --benchmark_out_format=json \
  "$@"

"$bin/core_memory" | tee "$work/core_memory.txt"

python3 - "$work/core_bench.json" "$work/core_memory.txt" <<'EOF'
import json
import re
import sys

bench_path, memory_path = sys.argv[1], sys.argv[2]
with open(bench_path) as f:
    data = json.load(f)

TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
medians = {}
for b in data.get("benchmarks", []):
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median":
        if b.get("error_occurred"):
            continue
        medians[b["run_name"]] = b["cpu_time"] * TO_NS[b.get("time_unit", "ns")]

def ns(name):
    return medians.get(name)

def fmt_ns(v):
    return "missing" if v is None else f"{v:,.0f} ns"

def verdict(ok):
    if ok is None:
        return "n/a"
    return "PASS" if ok else "FAIL"

rows = []
attach = ns("BM_Attach")
rows.append(("attach (median)", fmt_ns(attach), "", ""))

fork_exit = ns("BM_ForkExit")
rows.append(("fork+exit (median)", fmt_ns(fork_exit), "<= 1,000 ns",
             verdict(None if fork_exit is None else fork_exit <= 1000.0)))

g10, g10k = ns("BM_GroupLookup/10"), ns("BM_GroupLookup/10000")
ratio = None if g10 is None or g10k is None or g10 == 0 else g10k / g10
rows.append(("group lookup, 10 groups", fmt_ns(g10), "", ""))
rows.append(("group lookup, 10,000 groups", fmt_ns(g10k), "", ""))
rows.append(("  ratio 10,000 / 10",
             "missing" if ratio is None else f"{ratio:.2f}x", "<= 2.00x",
             verdict(None if ratio is None else ratio <= 2.0)))
h10, h10k = ns("BM_GroupLookupHot/10"), ns("BM_GroupLookupHot/10000")
hot = None if h10 is None or h10k is None or h10 == 0 else h10k / h10
rows.append(("  hot working set (10 visited): 10,000 / 10",
             "missing" if hot is None else f"{hot:.2f}x", "(diagnostic)", ""))

for arg, label in (("1", "1 group"), ("100", "100 groups")):
    v = ns(f"BM_TasksRead/{arg}")
    rows.append((f"tasks read, 10k tasks, {label}",
                 "missing" if v is None else f"{v / 1e3:,.1f} us", "", ""))

mem = {}
with open(memory_path) as f:
    for line in f:
        if line.startswith("core_memory:") and "rss_delta_mib=" in line:
            mem = dict(re.findall(r"(\w+)=([0-9.]+)", line))
            break
delta = float(mem["rss_delta_mib"]) if "rss_delta_mib" in mem else None
total = mem.get("rss_total_mib", "?")
rows.append((f"memory, {mem.get('containers', '?')} containers + "
             f"{mem.get('tasks', '?')} tasks",
             "missing" if delta is None else f"{delta:.1f} MiB (total {total})",
             "<= 64 MiB", verdict(None if delta is None else delta <= 64.0)))

w0 = max(len(r[0]) for r in rows)
w1 = max(len(r[1]) for r in rows)
w2 = max(len(r[2]) for r in rows)
print()
print("core benchmark summary (medians of 5 repetitions, CPU time per operation)")
print("-" * (w0 + w1 + w2 + 12))
for name, value, target, result in rows:
    print(f"{name:<{w0}}  {value:>{w1}}  {target:<{w2}}  {result}")
missed = [r[0].strip() for r in rows if r[3] == "FAIL"]
if missed:
    print(f"\ntargets missed: {', '.join(missed)} (reported, not gated)")
EOF
