#!/usr/bin/env bash
# Installs, from Debian's archive, whatever gpc's build and tests need and the
# machine lacks. Idempotent: installs nothing when everything is present.
# Needs root (apt-get).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config python3
  libgtest-dev libgmock-dev libbenchmark-dev
  # clang: the TSan and thread-safety builds, and libFuzzer.
  clang libclang-rt-14-dev clang-format
  # FUSE: the container filesystem.
  libfuse3-dev fuse3
  # The control socket protocol (JSON lines).
  nlohmann-json3-dev
  # The gpc command line (CLI11) and the seccomp fork gate of `gpc exec`.
  libcli11-dev libseccomp-dev
  # cpuacct's kernel-side accounting: a BPF program (clang above builds it).
  libbpf-dev bpftool
  # `gpc top` is tested in a real terminal (tmux); `unshare` for ns tests.
  tmux util-linux
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing ${missing[*]}; run as root to install" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
