#!/usr/bin/env bash
# Checks the layering rules of docs/architecture.md on every #include of
# src/: which folders each folder may include, and that the framework and
# the subsystems reach no FUSE, netlink or /proc headers. The CMake targets
# make most violations link errors; this also catches a header-only use.
# Exits 1 and lists each violation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# folder -> the src/ folders its files may include (itself always).
declare -A allowed=(
  [util]=""
  [host]="util"
  [control]="util"
  [core]="host util"
  [subsys]="core host util"
  [tracking]="core host util"
  [fs]="core host util"
  [cli]="control daemon linux util"
)
# System headers the framework side must not see.
forbidden_system='<fuse|<linux/netlink|<linux/connector|<linux/cn_proc|<sys/mount'

bad=0
for dir in "${!allowed[@]}"; do
  [[ -d "src/$dir" ]] || continue
  while IFS= read -r line; do
    file="${line%%:*}"
    inc="$(sed -n 's/.*#include "\([a-z_]*\)\/.*/\1/p' <<<"$line")"
    [[ -z "$inc" || "$inc" == "$dir" ]] && continue
    if [[ " ${allowed[$dir]} " != *" $inc "* ]]; then
      echo "check_deps: $file includes $inc/ (src/$dir may include: ${allowed[$dir]:-nothing})"
      bad=1
    fi
  done < <(grep -rn '^#include "' "src/$dir" --include='*.h' --include='*.cc')
done
# cli talks to gpcd over its socket: no header it takes from daemon/ or
# linux/ may bring the framework along.
while IFS= read -r header; do
  if grep -qE '^#include "(core|subsys|fs|tracking)/' "src/$header"; then
    echo "check_deps: src/cli includes $header, which reaches the framework"
    bad=1
  fi
done < <(grep -rhoE '^#include "(daemon|linux)/[^"]+"' src/cli |
  sed 's/#include "\(.*\)"/\1/' | sort -u)
for dir in core subsys tracking; do
  if hits=$(grep -rnE "^#include ($forbidden_system)" "src/$dir"); then
    echo "check_deps: src/$dir reaches FUSE, netlink or mounts:"
    echo "$hits"
    bad=1
  fi
done
if [[ $bad -ne 0 ]]; then exit 1; fi
echo "check_deps: the layering of docs/architecture.md holds"
