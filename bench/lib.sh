# Sourced by bench/run_*.sh: what every runner does before its own part.
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Leaves the shell in the checkout's root with `set -euo pipefail`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# bench_take_repeat ARGS...: sets `repeat` from --repeat=N (default 1) and
# `bench_args` to the other arguments, which go to the benchmark binary.
bench_take_repeat() {
  repeat=1
  bench_args=()
  local a
  for a in "$@"; do
    case "$a" in
      --repeat=*) repeat="${a#--repeat=}" ;;
      *) bench_args+=("$a") ;;
    esac
  done
}

# bench_require_root NAME WHY: exits 1 with a message unless run as root.
bench_require_root() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "$1: needs root ($2)" >&2
    exit 1
  fi
}

# bench_build TARGET...: builds the targets with the `release` preset.
bench_build() {
  cmake --preset release >/dev/null
  cmake --build --preset release --target "$@"
}

# bench_temp_file NAME: a temporary file removed when the script exits.
bench_temp_file() {
  bench_out="$(mktemp "${TMPDIR:-/tmp}/gpc-$1.XXXXXX")"
  trap 'rm -f "$bench_out"' EXIT
}

# An awk function: med(a, n) is the median of a[1..n] (sorts a in place).
bench_awk_median='
  function med(a, n,   i, j, t) {
    for (i = 1; i <= n; ++i)
      for (j = i + 1; j <= n; ++j)
        if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }'
