#!/bin/sh
# Every file of a fresh group read, as inventory scripts do (libcgroup's
# cgsnapshot, `grep -r . /sys/fs/cgroup/...`): names, modes, owners, sizes
# stat reports, contents; in a named hierarchy (with its root) and in a
# group of each controller both can mount. The directory's own mode too.
. "${0%/*}/lib.sh"

# inventory PREFIX DIR: one line per file.
inventory() {
  say "$1.dir" "$(stat -c '%a %U:%G' "$2")"
  for f in $(ls "$2"); do
    [ -f "$2/$f" ] || continue
    say "$1.$f" "$(stat -c '%a %U:%G size=%s' "$2/$f") [$(paste -sd '|' "$2/$f" 2>&1)]"
  done
}
# The same without contents: the root of a hierarchy the machine uses.
listing() {
  for f in $(ls "$2"); do
    [ -f "$2/$f" ] && say "$1.$f" "$(stat -c '%a %U:%G' "$2/$f")"
  done
}

mkdir "$T/m"
mount -t "$FSTYPE" -o "none,name=$NAME" "$FSTYPE" "$T/m" || exit 1
mkdir "$T/m/fresh"
# The lists of a fresh root hold every task: counted, not shown.
say named.root.tasks_nonempty "$(yn "grep -q . '$T/m/tasks'")"
say named.root.procs_nonempty "$(yn "grep -q . '$T/m/cgroup.procs'")"
for f in cgroup.clone_children cgroup.sane_behavior notify_on_release release_agent; do
  say "named.root.$f" "$(stat -c '%a %U:%G size=%s' "$T/m/$f") [$(cat "$T/m/$f")]"
done
listing named.root.mode "$T/m"
inventory named.fresh "$T/m/fresh"
check named.grep_r "grep -r . '$T/m/fresh' | sed 's|$T/m/||' | sort"
rmdir "$T/m/fresh"
umount "$T/m"

for c in $CONTROLLERS; do
  mkdir "$T/$c"
  mount -t "$FSTYPE" -o "$c" "$FSTYPE" "$T/$c" || continue
  listing "$c.root" "$T/$c"
  mkdir "$T/$c/$NAME"
  inventory "$c.fresh" "$T/$c/$NAME"
  rmdir "$T/$c/$NAME"
  umount "$T/$c"
done
