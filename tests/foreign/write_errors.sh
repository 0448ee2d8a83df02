#!/bin/sh
# `echo > file` the way cgroup test scripts poke at control files (LTP's
# cgroup_fj_*, libcgroup's tests): bad numbers, blanks, values out of range,
# read-only files, files that cannot exist, pids that do not, a group
# removed under an open descriptor. Each write's exit status and message,
# and the value read back.
. "${0%/*}/lib.sh"

mkdir "$T/m"
mount -t "$FSTYPE" -o "none,name=$NAME" "$FSTYPE" "$T/m" || exit 1
cd "$T/m" || exit 1
mkdir g

# Integer flags: kstrtoull(), base 0, one trailing newline allowed.
for f in notify_on_release cgroup.clone_children; do
  wr "$f.one" 1 g/$f
  wr "$f.zero" 0 g/$f
  wr "$f.two" 2 g/$f
  wr "$f.hex" 0x1 g/$f
  wr "$f.octal" 010 g/$f
  echo 0 >g/$f
  wr "$f.word" abc g/$f
  wr "$f.negative" -1 g/$f
  wr "$f.lead_blank" " 1" g/$f
  echo 0 >g/$f
  wr "$f.trail_blank" "1 " g/$f
  echo 0 >g/$f
  wr "$f.overflow" 18446744073709551616 g/$f
  wr "$f.empty" "" g/$f
  check "$f.no_newline" "printf 1 >g/$f"
  say "$f.no_newline.value" "$(cat g/$f)"
  echo 0 >g/$f
done
# The shell's own echo: its status, and dash's message (always "I/O error").
check sh_echo.bad 'echo abc >g/notify_on_release'
check sh_echo.good 'echo 1 >g/notify_on_release'

# Read-only and root-only files.
wr sane_behavior.write 1 cgroup.sane_behavior
check child.release_agent 'echo /bin/true >g/release_agent'
check child.sane_behavior 'echo 0 >g/cgroup.sane_behavior'
# Files a control directory cannot hold.
check create.file 'echo 1 >g/newfile'
check create.touch 'touch g/newfile'
check create.mkdir_over_file 'mkdir g/tasks'
check create.symlink 'ln -s tasks g/link'
check create.hardlink 'ln g/tasks g/link'
check create.mknod 'mknod g/fifo p'
check remove.file 'rm g/tasks'
check remove.file_forced 'rm -f g/notify_on_release'
check truncate.tasks ': >g/tasks'
check touch.existing 'touch g/tasks'
say files.after "$(ls g | paste -sd ' ' -)"

# tasks and cgroup.procs: a pid that does not exist (a child already
# reaped), non-numbers, out of range, blanks, several at once, 0 (the
# writer itself: /bin/echo moves into g and exits), the kthreadd.
true &
dead=$!
wait $dead
for f in tasks cgroup.procs; do
  wr "$f.dead_pid" "$dead" g/$f
  wr "$f.word" abc g/$f
  wr "$f.negative" -1 g/$f
  wr "$f.huge" 99999999999 g/$f
  wr "$f.empty" "" g/$f
  wr "$f.two_pids" "$$ $$" g/$f
  wr "$f.kthreadd" 2 g/$f
  check "$f.zero" "/bin/echo 0 >g/$f"
  check "$f.lead_blank" "/bin/echo ' $$' >g/$f"
  say "$f.lead_blank.member" "$(yn "grep -qx $$ g/tasks")"
  echo $$ >$f
  check "$f.trail_blank" "/bin/echo '$$ ' >g/$f"
  say "$f.trail_blank.member" "$(yn "grep -qx $$ g/tasks")"
  echo $$ >$f
done
say root.kthreadd.member "$(yn 'grep -qx 2 tasks')"
say g.kthreadd.member "$(yn 'grep -qx 2 g/tasks')"
# Whatever the kthreadd writes did, it goes back where it was.
grep -qx 2 g/tasks && echo 2 >tasks

# A descriptor of tasks opened before its group was removed.
mkdir gone
exec 3>gone/tasks
rmdir gone
check removed.sh_echo 'echo $$ >&3'
check removed.echo '/bin/echo $$ >&3'
exec 3>&-
check removed.open 'echo $$ >gone/tasks'
# An open descriptor of notify_on_release, the same.
mkdir gone
exec 3>gone/notify_on_release
rmdir gone
check removed.flag '/bin/echo 1 >&3'
exec 3>&-

# release_agent takes a path of up to PATH_MAX - 1 bytes.
long=$(printf '/%.0s' $(seq 1 4200))
check release_agent.too_long "/bin/echo '$long' >release_agent"
say release_agent.after_too_long "$(wc -c <release_agent)"
wr release_agent.ok /bin/true release_agent
check release_agent.clear ': >release_agent'
say release_agent.cleared "$(wc -c <release_agent)"

# Controllers both can mount: a group of their own, then removed.
for c in $CONTROLLERS; do
  mkdir "$T/$c"
  mount -t "$FSTYPE" -o "$c" "$FSTYPE" "$T/$c" || continue
  G=$T/$c/$NAME
  mkdir "$G"
  case $c in
  pids)
    for v in 10 max 0 -1 abc " 5" "5 " 4194304 4194305 4194306 99999999999999999999 ""; do
      wr "pids.max[$v]" "$v" "$G/pids.max"
    done
    wr pids.current.write 1 "$G/pids.current"
    wr pids.events.write 1 "$G/pids.events"
    ;;
  cpuset)
    for v in 0 0-1 "" abc 0- 1-0 0,,1 " 0" "0 " 99999 4096; do
      wr "cpuset.cpus[$v]" "$v" "$G/cpuset.cpus"
    done
    for v in 0 1 "" 1024; do
      wr "cpuset.mems[$v]" "$v" "$G/cpuset.mems"
    done
    for v in 2 -1 " 1"; do
      wr "cpuset.cpu_exclusive[$v]" "$v" "$G/cpuset.cpu_exclusive"
    done
    echo 0 >"$G/cpuset.cpu_exclusive"
    for v in -2 -1 0 1 2 6 abc; do
      wr "cpuset.sched_relax_domain_level[$v]" "$v" \
        "$G/cpuset.sched_relax_domain_level"
    done
    # An empty cpuset takes no task.
    check cpuset.attach_empty "/bin/echo 0 >'$G/tasks'"
    wr cpuset.effective_cpus.write 0 "$G/cpuset.effective_cpus"
    ;;
  cpuacct)
    for v in 0 1 abc -1 " 0"; do
      wr "cpuacct.usage[$v]" "$v" "$G/cpuacct.usage"
    done
    wr cpuacct.stat.write 0 "$G/cpuacct.stat"
    wr cpuacct.usage_percpu.write 0 "$G/cpuacct.usage_percpu"
    ;;
  esac
  rmdir "$G"
  umount "$T/$c"
done

cd /
rmdir "$T/m/g"
umount "$T/m"
