#!/bin/sh
# Mount/umount loops, as test suites set up and tear down a hierarchy per
# case: 200 rounds over three hierarchies (two named, one controller when
# there is one both can mount), each used and unmounted by the script's own
# umount, with a second mount of one of them held the whole time.
. "${0%/*}/lib.sh"

ctrl=
for c in $CONTROLLERS; do
  ctrl=$c
  break
done
mkdir "$T/a" "$T/b" "$T/c" "$T/held"
mount -t "$FSTYPE" -o "none,name=${NAME}_a" "$FSTYPE" "$T/held" || exit 1
mkdir "$T/held/kept"

fails=0
fail() {
  fails=$((fails + 1))
  [ $fails -le 5 ] && say "fail.$fails" "round $i: $*"
}
t0=$(now_ns)
i=0
while [ $i -lt 200 ]; do
  mount -t "$FSTYPE" -o "none,name=${NAME}_a" "$FSTYPE" "$T/a" || fail mount a
  mount -t "$FSTYPE" -o "none,name=${NAME}_b" "$FSTYPE" "$T/b" || fail mount b
  if [ -n "$ctrl" ]; then
    mount -t "$FSTYPE" -o "$ctrl" "$FSTYPE" "$T/c" || fail mount c
  fi
  [ -d "$T/a/kept" ] || fail a lacks kept
  [ -f "$T/b/tasks" ] || fail b lacks tasks
  mkdir "$T/b/r$i" || fail mkdir
  echo 1 >"$T/b/r$i/notify_on_release" || fail write
  rmdir "$T/b/r$i" || fail rmdir
  umount "$T/a" || fail umount a
  umount "$T/b" || fail umount b
  if [ -n "$ctrl" ]; then
    umount "$T/c" || fail umount c
  fi
  i=$((i + 1))
done
t1=$(now_ns)
timing loop_200 "$t0" "$t1"
say loop.fails $fails
say loop.left_mounted "$(grep -c " $T/[abc] " /proc/self/mounts)"
say held.kept "$(yn "test -d '$T/held/kept'")"

# umount while busy, lazy umount, then at once a mount at the same place.
mount -t "$FSTYPE" -o "none,name=${NAME}_b" "$FSTYPE" "$T/b"
mnt busy.umount "cd '$T/b' && umount '$T/b'"
mnt lazy.umount "umount -l '$T/b'"
mnt lazy.mount_again "mount -t '$FSTYPE' -o 'none,name=${NAME}_b' '$FSTYPE' '$T/b'"
say lazy.works "$(yn "mkdir '$T/b/x' && rmdir '$T/b/x'")"
umount "$T/b"
# Stacked mounts: the same hierarchy twice on one point is refused (the
# kernel will not put a superblock on itself), another one goes on top and
# comes off first.
mount -t "$FSTYPE" -o "none,name=${NAME}_b" "$FSTYPE" "$T/b"
mkdir "$T/b/marker"
mnt stacked.same "mount -t '$FSTYPE' -o 'none,name=${NAME}_b' '$FSTYPE' '$T/b'"
mnt stacked.other "mount -t '$FSTYPE' -o 'none,name=${NAME}_c' '$FSTYPE' '$T/b'"
say stacked.count "$(grep -c " $T/b " /proc/self/mounts)"
mnt stacked.umount1 "umount '$T/b'"
say stacked.still "$(yn "test -f '$T/b/tasks'")"
say stacked.is_b "$(yn "test -d '$T/b/marker'")"
mnt stacked.umount2 "umount '$T/b'"
mnt stacked.umount3 "umount '$T/b'"
mount -t "$FSTYPE" -o "none,name=${NAME}_b" "$FSTYPE" "$T/b"
rmdir "$T/b/marker"
umount "$T/b"

rmdir "$T/held/kept"
umount "$T/held"
say end.mounted "$(grep -c " $T/" /proc/self/mounts)"
