#!/bin/sh
# mount(8) options the way setup scripts pass them: systemd's old v1 mount
# (nosuid,nodev,noexec,xattr,name=systemd-like), read-only mounts, bad
# options and names, reuse of an existing hierarchy with the same, other or
# fewer options, and umount errors. Exit statuses are compared; messages
# are each tool's own (.msg).
. "${0%/*}/lib.sh"

M=$T/m
mkdir "$M" "$T/m2" "$T/file_parent"
: >"$T/file"

# systemd's mount_setup(): nosuid,nodev,noexec plus xattr for its named
# hierarchy.
# (A name of its own: in the kernel, a hierarchy unmounted right after a
# rmdir in it may linger, and a later mount by that name would reuse it
# with its flags.)
mnt systemd.mount "mount -t '$FSTYPE' -o 'nosuid,nodev,noexec,relatime,xattr,name=${NAME}_sd,none' '$FSTYPE' '$M'"
opts=$(awk -v m="$M" '$2 == m { print $4 }' /proc/self/mounts)
for f in nosuid nodev noexec relatime ro rw; do
  say "systemd.flag.$f" "$(yn "echo ,$opts, | grep -q ,$f,")"
done
say systemd.files "$(ls "$M" | paste -sd ' ' -)"
check systemd.mkdir "mkdir '$M/x' && rmdir '$M/x'"
mnt systemd.umount "umount '$M'"

# Read-only: listed, but nothing changes; remounted rw and ro again. (No
# groups here: the kernel refuses any remount of a hierarchy with children,
# and a removed one counts until the kernel has freed it.)
R="none,name=${NAME}_ro"
mnt ro.mount "mount -t '$FSTYPE' -o 'ro,$R' '$FSTYPE' '$M'"
check ro.mkdir "mkdir '$M/x'"
check ro.write "/bin/echo 1 >'$M/notify_on_release'"
check ro.read "cat '$M/notify_on_release'"
mnt ro.remount_rw "mount -t '$FSTYPE' -o 'remount,rw,$R' '$FSTYPE' '$M'"
check ro.write_after_rw "/bin/echo 1 >'$M/notify_on_release'"
mnt ro.remount_ro "mount -t '$FSTYPE' -o 'remount,ro,$R' '$FSTYPE' '$M'"
check ro.write_after_ro "/bin/echo 0 >'$M/notify_on_release'"
say ro.flag_after_ro "$(yn "awk -v m='$M' '\$2 == m { print \$4 }' /proc/self/mounts | grep -q '^ro,'")"
# A remount that does not say ro makes it writable again.
mnt ro.remount_plain "mount -t '$FSTYPE' -o 'remount,$R' '$FSTYPE' '$M'"
check ro.write_after_plain "/bin/echo 0 >'$M/notify_on_release'"
mnt ro.umount "umount '$M'"

# Options that are wrong wherever they are used.
mnt bad.none_alone "mount -t '$FSTYPE' -o none '$FSTYPE' '$M'"
mnt bad.name_alone "mount -t '$FSTYPE' -o 'name=${NAME}_new' '$FSTYPE' '$M'"
mnt bad.unknown "mount -t '$FSTYPE' -o 'none,name=${NAME}_bad,bogus' '$FSTYPE' '$M'"
mnt bad.slash_in_name "mount -t '$FSTYPE' -o 'none,name=${NAME}/x' '$FSTYPE' '$M'"
mnt bad.empty_name "mount -t '$FSTYPE' -o 'none,name=' '$FSTYPE' '$M'"
long=$(printf 'x%.0s' $(seq 1 70))
mnt bad.long_name "mount -t '$FSTYPE' -o 'none,name=$long' '$FSTYPE' '$M'"
mnt bad.empty_agent "mount -t '$FSTYPE' -o 'none,name=${NAME}_bad,release_agent=' '$FSTYPE' '$M'"
mnt bad.all_and_none "mount -t '$FSTYPE' -o 'all,none,name=${NAME}_bad' '$FSTYPE' '$M'"
mnt bad.no_dir "mount -t '$FSTYPE' -o 'none,name=${NAME}_bad' '$FSTYPE' '$T/nowhere'"
mnt bad.on_file "mount -t '$FSTYPE' -o 'none,name=${NAME}_bad' '$FSTYPE' '$T/file'"
say bad.left_mounted "$(grep -c " $T/" /proc/self/mounts)"

# Reuse: the same hierarchy by name, with the same options, with a
# release_agent of its own (ignored), with fewer (just the name), and with
# other subsystems (refused).
mount -t "$FSTYPE" -o "none,name=$NAME,release_agent=/bin/true" "$FSTYPE" "$M" || exit 1
mkdir "$M/child"
mnt reuse.same "mount -t '$FSTYPE' -o 'none,name=$NAME,release_agent=/bin/true' '$FSTYPE' '$T/m2'"
say reuse.same.child "$(yn "test -d '$T/m2/child'")"
umount "$T/m2"
mnt reuse.other_agent "mount -t '$FSTYPE' -o 'none,name=$NAME,release_agent=/bin/false' '$FSTYPE' '$T/m2'"
say reuse.other_agent.value "$(cat "$T/m2/release_agent")"
umount "$T/m2"
mnt reuse.name_only "mount -t '$FSTYPE' -o 'name=$NAME' '$FSTYPE' '$T/m2'"
say reuse.name_only.child "$(yn "test -d '$T/m2/child'")"
umount "$T/m2"
mnt reuse.noprefix "mount -t '$FSTYPE' -o 'none,name=$NAME,noprefix' '$FSTYPE' '$T/m2'"
umount "$T/m2" 2>/dev/null
# The same hierarchy twice on one mount point: the kernel refuses the same
# superblock stacked on itself.
mnt reuse.same_point "mount -t '$FSTYPE' -o 'none,name=$NAME' '$FSTYPE' '$M'"
say reuse.same_point.count "$(grep -c " $M " /proc/self/mounts)"
# Another hierarchy on top of it is fine, and comes off first.
mnt stack.other "mount -t '$FSTYPE' -o 'none,name=${NAME}_b' '$FSTYPE' '$M'"
say stack.other.sees_child "$(yn "test -d '$M/child'")"
mnt stack.umount_top "umount '$M'"
say stack.after_umount.sees_child "$(yn "test -d '$M/child'")"

# Remount: name and flags cannot change; the agent can, but (in the
# kernel) not while the hierarchy has children.
mnt remount.other_name "mount -t '$FSTYPE' -o 'remount,none,name=${NAME}_c' '$FSTYPE' '$M'"
mnt remount.empty_agent "mount -t '$FSTYPE' -o 'remount,none,name=$NAME,release_agent=' '$FSTYPE' '$M'"
mnt remount.same_agent_with_child "mount -t '$FSTYPE' -o 'remount,none,name=$NAME,release_agent=/bin/true' '$FSTYPE' '$M'"
mnt remount.not_mounted "mount -t '$FSTYPE' -o 'remount,none,name=$NAME' '$FSTYPE' '$T/m2'"
rmdir "$M/child"
# The kernel frees a removed group's place among its parent's children a
# moment after rmdir returns (RCU): until then a remount is still EBUSY.
say remount.agent.within_5s "$(yn "wait_for 5 mount -t '$FSTYPE' -o 'remount,none,name=$NAME,release_agent=/bin/echo' '$FSTYPE' '$M'")"
mnt remount.agent "mount -t '$FSTYPE' -o 'remount,none,name=$NAME,release_agent=/bin/echo' '$FSTYPE' '$M'"
say remount.agent.value "$(cat "$M/release_agent")"
mnt remount.noprefix "mount -t '$FSTYPE' -o 'remount,none,name=$NAME,noprefix' '$FSTYPE' '$M'"

# umount errors.
mnt umount.ok "umount '$M'"
mnt umount.again "umount '$M'"
mnt umount.not_a_mount "umount '$T/file_parent'"
say end.mounted "$(grep -c " $T/" /proc/self/mounts)"
