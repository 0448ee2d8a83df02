#!/bin/sh
# cat of tasks and cgroup.procs while processes are attached, the way
# monitoring loops and test scripts read them: after each attach, during a
# stream of attaches from another shell, through a descriptor opened
# before an attach, and while members exit. What is compared is what the
# lists look like (sorted, unique, counts), never the pids themselves.
. "${0%/*}/lib.sh"

M=$T/m
mkdir "$M"
mount -t "$FSTYPE" -o "none,name=$NAME" "$FSTYPE" "$M" || exit 1
mkdir "$M/g" "$M/h"
: >"$T/pids"
i=0
while [ $i -lt 20 ]; do
  sleep 1000 &
  echo $! >>"$T/pids"
  i=$((i + 1))
done
sorted_unique() { sort -n "$1" | uniq | cmp -s - "$1"; }
all_known() { sort "$1" | comm -23 - "$T/pids.sorted" | grep -q . && return 1 || return 0; }
sort "$T/pids" >"$T/pids.sorted"

# One by one: each read lists exactly what was attached so far, sorted.
n=0
bad=0
for p in $(cat "$T/pids"); do
  echo "$p" >"$M/g/tasks"
  n=$((n + 1))
  cat "$M/g/tasks" >"$T/read"
  [ "$(wc -l <"$T/read")" -eq $n ] || bad=$((bad + 1))
  sorted_unique "$T/read" || bad=$((bad + 1))
  # (Through cat: cmp trusts the size stat gives, 0 for control files.)
  cat "$M/g/cgroup.procs" | cmp -s "$T/read" - || bad=$((bad + 1))
done
say one_by_one.bad $bad
say one_by_one.count "$(wc -l <"$M/g/tasks")"
say one_by_one.same_as_pids "$(yn "sort '$M/g/tasks' | cmp -s - '$T/pids.sorted'")"

# Another shell moves them back and forth between g and h while this one
# reads both lists: every read is sorted, unique, and of known pids.
(
  for round in 1 2 3 4 5; do
    for p in $(cat "$T/pids"); do echo "$p" >"$M/h/tasks"; done
    for p in $(cat "$T/pids"); do echo "$p" >"$M/g/cgroup.procs"; done
  done
  : >"$T/mover.done"
) &
mover=$!
reads=0
unsorted=0
unknown=0
until [ -e "$T/mover.done" ]; do
  cat "$M/g/tasks" >"$T/rg"
  cat "$M/h/cgroup.procs" >"$T/rh"
  sorted_unique "$T/rg" || unsorted=$((unsorted + 1))
  sorted_unique "$T/rh" || unsorted=$((unsorted + 1))
  all_known "$T/rg" || unknown=$((unknown + 1))
  all_known "$T/rh" || unknown=$((unknown + 1))
  reads=$((reads + 1))
done
wait $mover
say concurrent.unsorted $unsorted
say concurrent.unknown $unknown
say concurrent.read_at_least_once "$(yn "test $reads -ge 1")"
say concurrent.final_g "$(wc -l <"$M/g/tasks")"
say concurrent.final_h "$(wc -l <"$M/h/tasks")"

# A descriptor opened before an attach, read after it: the list is made at
# the first read, not at open.
first=$(head -n 1 "$T/pids")
echo "$first" >"$M/h/tasks"
exec 3<"$M/g/tasks"
echo "$first" >"$M/g/tasks"
say open_then_attach.count "$(wc -l <&3)"
exec 3<&-
exec 3<"$M/g/cgroup.procs"
echo "$first" >"$M/h/cgroup.procs"
say open_then_detach.count "$(wc -l <&3)"
exec 3<&-
echo "$first" >"$M/g/tasks"
# Members exit: once reaped, gone from both lists of both groups.
kill $(cat "$T/pids")
wait 2>/dev/null
say exited.g "$(yn "wait_for 10 ! grep -q . '$M/g/tasks'")"
say exited.h "$(yn "wait_for 10 ! grep -q . '$M/h/cgroup.procs'")"
say exited.root_has_none "$(yn "sort '$M/tasks' | comm -12 - '$T/pids.sorted' | grep -q . && exit 1 || exit 0")"

rmdir "$M/g" "$M/h"
umount "$M"
