#!/usr/bin/env bash
# The test command: on a fresh Debian 12 machine, as root, installs what is
# missing, builds gpc (release preset) and runs every test.
#
#   scripts/test.sh            all tests
#   scripts/test.sh -L unit    only some labels (ctest -L syntax)
#
# Labels: unit, scenario, model, concurrent, fuzz (corpus replay), system
# (root: real processes, the proc connector, FUSE mounts, the kernel's own
# cgroup v1 as ground truth).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
jobs="$(nproc)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs" "$@"
