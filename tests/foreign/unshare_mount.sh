#!/bin/sh
# Mounts made inside `unshare -m`, the way container tools and test
# harnesses set up a hierarchy of their own: used there, invisible outside,
# gone with the namespace while the hierarchy (which has a child) stays;
# an outer mount seen and unmounted from an inner namespace.
. "${0%/*}/lib.sh"

mkdir "$T/m" "$T/n"
unshare -m --propagation private sh -c '
  . "$LIB"
  mount -t "$FSTYPE" -o "none,name=$NAME" "$FSTYPE" "$T/m" || exit 1
  mkdir "$T/m/job" || exit 1
  echo $$ >"$T/m/job/tasks"
  say inner.member "$(yn "grep -qx $$ $T/m/job/tasks")"
  say inner.procs "$(yn "grep -qx $$ $T/m/job/cgroup.procs")"
  say inner.root_member "$(yn "grep -qx $$ $T/m/tasks")"
  say inner.mounted "$(grep -c " $T/m " /proc/self/mounts)"
  say inner.proc_cgroup "$(grep -c ":name=$NAME:/job\$" /proc/self/cgroup)"
  # A child of the shell is born in its group.
  sh -c "grep -qx \$\$ $T/m/job/tasks" && say inner.child_born_there yes
  say inner.listing "$(ls "$T/m/job" | paste -sd " " -)"
'
say inner.status $?
say outer.mounted "$(grep -c " $T/m " /proc/self/mounts)"

# The hierarchy outlived the namespace (it has a child): mounted again
# here, it is the same one, and the job is empty now.
mnt remount.outer "mount -t '$FSTYPE' -o 'none,name=$NAME' '$FSTYPE' '$T/m'"
say job.there "$(yn "test -d '$T/m/job'")"
say job.tasks "$(wc -l <"$T/m/job/tasks")"

# An inner namespace sees the outer mount, and its umount stays inside.
unshare -m --propagation private sh -c '
  . "$LIB"
  say nested.sees_job "$(yn "test -d $T/m/job")"
  mkdir "$T/m/made_inside"
  mnt nested.umount "umount $T/m"
  say nested.mounted_after "$(grep -c " $T/m " /proc/self/mounts)"
  # A second mount of the same hierarchy inside: the same groups.
  mnt nested.mount_again "mount -t $FSTYPE -o none,name=$NAME $FSTYPE $T/n"
  say nested.same_groups "$(ls -d $T/n/*/ | sed "s|$T/n/||" | sort | paste -sd " " -)"
  umount "$T/n"
'
say nested.status $?
say outer.still_mounted "$(grep -c " $T/m " /proc/self/mounts)"
say outer.sees_made_inside "$(yn "test -d '$T/m/made_inside'")"
check outer.works "mkdir '$T/m/after' && rmdir '$T/m/after'"

# A namespace that mounts with options the outer one did not: reuse with
# a different release_agent is allowed and changes nothing.
unshare -m --propagation private sh -c '
  . "$LIB"
  mnt other_agent.mount "mount -t $FSTYPE -o none,name=$NAME,release_agent=/bin/true $FSTYPE $T/n"
  say other_agent.value "$(cat $T/n/release_agent)"
'

rmdir "$T/m/job" "$T/m/made_inside"
mnt umount.outer "umount '$T/m'"
say outer.mounted_end "$(grep -c " $T/m " /proc/self/mounts)"
