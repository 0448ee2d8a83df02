#!/usr/bin/env bash
# The main job: on a fresh Debian 12 machine, as root, installs what is
# missing, builds gpc (release preset), installs gpcd, mount.gpc and gpc, and runs
# gpcd in the foreground with its default hierarchies (one per subsystem
# under /run/gpc). Ctrl-C (SIGINT) or SIGTERM stops it and releases every
# mount.
#
#   scripts/run.sh [gpcd flags...]      e.g. --config /etc/gpc/gpcd.conf
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target gpcd gpc-fdstore gpc-gate mount.gpc gpc
# mount(8) looks for helpers in /sbin: mount -t gpc runs /sbin/mount.gpc,
# which finds gpcd next to itself; gpcd starts gpc-fdstore (which keeps the
# mounts alive across a kill of gpcd) from its own directory too.
install -m 0755 build/release/src/daemon/gpcd /sbin/gpcd
install -m 0755 build/release/src/daemon/gpc-fdstore /sbin/gpc-fdstore
# gpcd starts gpc-gate to make tasks moved into limited containers
# supervised (docs/fork-gate.md).
install -m 0755 build/release/src/daemon/gpc-gate /sbin/gpc-gate
install -m 0755 build/release/src/daemon/mount.gpc /sbin/mount.gpc
# gpc next to them, with its bash completion and man page (both generated
# by gpc itself from its command table).
install -m 0755 build/release/src/cli/gpc /sbin/gpc
mkdir -p /usr/share/bash-completion/completions /usr/local/share/man/man1
/sbin/gpc --completion bash >/usr/share/bash-completion/completions/gpc
/sbin/gpc --man >/usr/local/share/man/man1/gpc.1
# The systemd unit, for those who want the defaults at boot (not enabled
# here: `systemctl enable --now gpcd`).
install -D -m 0644 scripts/gpcd.service /etc/systemd/system/gpcd.service
if [[ -d /run/systemd/system ]]; then systemctl daemon-reload || true; fi

cat <<'TOUR'
gpcd is starting; its hierarchies appear under /run/gpc. In another shell:

  mkdir /run/gpc/debug/demo && echo $$ > /run/gpc/debug/demo/tasks
  cat /run/gpc/debug/demo/tasks /run/gpc/debug/demo/debug.taskcount
  mkdir /mnt/x && mount -t gpc -o none,name=x none /mnt/x && ls /mnt/x

or with gpc (gpc --help, man gpc):

  gpc create -p debug:/jobs/a && gpc attach debug:/jobs/a $$
  gpc ls --populated --depth 2 ; gpc subsystems ; gpc ps $$
  gpc top ; gpc events

Stop gpcd with Ctrl-C.
TOUR
exec /sbin/gpcd "$@"
