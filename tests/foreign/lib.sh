# Sourced by every foreign script (. "${0%/*}/lib.sh"). The driver,
# foreign_script_test.cc, runs each script twice, as root, each time in a
# session and a mount namespace of its own, with the same text and the same
# environment but for:
#
#   FSTYPE       cgroup (the kernel's cgroup v1) or gpc (mount -t gpc: a
#                private gpcd, through /sbin/mount.gpc)
#
# and, the same for both runs:
#
#   NAME         a hierarchy name, fresh on this machine; a script that
#                needs several uses NAME_<suffix>; a group a script makes
#                in a hierarchy it reuses is named $NAME too
#   T            an empty scratch directory (the same path in both runs)
#   CONTROLLERS  controllers both can mount: on the kernel, those that
#                already have a v1 hierarchy of their own, which a mount
#                with the same options reuses (so only $NAME groups are
#                made in them, and removed)
#
# A script prints "ID: value" lines; the driver compares them by ID.
# "@time ID MS" lines are timings: reported side by side, never compared.
# Pids and timings must not show in values: the two runs differ in both.

export LC_ALL=C
LIB=${LIB:-${0%/*}/lib.sh}
export LIB FSTYPE NAME T CONTROLLERS

say() { printf '%s: %s\n' "$1" "$2"; }

# check ID COMMAND...: COMMAND (eval'd in a subshell) with its stdout and
# stderr, as one line: "ID: exit N[: output, lines joined by ' | ']".
check() {
  _id=$1
  shift
  _out=$( (eval "$*") 2>&1)
  _st=$?
  if [ -n "$_out" ]; then
    say "$_id" "exit $_st: $(printf '%s\n' "$_out" | paste -sd '|' - | sed 's/|/ | /g')"
  else
    say "$_id" "exit $_st"
  fi
}

# The same with the output's lines sorted, for listings whose order is the
# file system's (readdir) and not part of the contract.
check_sorted() {
  _id=$1
  shift
  _out=$( (eval "$*") 2>&1)
  _st=$?
  say "$_id" "exit $_st: $(printf '%s\n' "$_out" | sort | paste -sd '|' - | sed 's/|/ | /g')"
}

# mnt ID COMMAND...: for mount(8) and umount(8), whose messages are the
# tool's own (mount(8) words the kernel's errno; mount.gpc prints gpcd's
# reason): "ID: exit N", and the message apart as "ID.msg: ...".
mnt() {
  _id=$1
  shift
  _out=$( (eval "$*") 2>&1)
  _st=$?
  say "$_id" "exit $_st"
  [ -z "$_out" ] || say "$_id.msg" "$(printf '%s\n' "$_out" | paste -sd '|' -)"
}

# wr ID VALUE FILE: VALUE and a newline written to FILE by echo(1) — the
# coreutils one, whose message names the errno — then FILE read back.
wr() {
  _out=$( (/bin/echo "$2" >"$3") 2>&1)
  _st=$?
  say "$1" "exit $_st${_out:+: $_out} -> $(paste -sd '|' "$3" 2>&1)"
}

now_ns() { date +%s%N; }
# timing ID START_NS END_NS
timing() { printf '@time %s %s\n' "$1" $((($3 - $2) / 1000000)); }

# wait_for SECONDS COMMAND...: polls COMMAND (eval'd) every 10 ms until it
# succeeds (status 0) or SECONDS pass (status 1).
wait_for() {
  _limit=$(($(now_ns) + $1 * 1000000000))
  shift
  until (eval "$*") >/dev/null 2>&1; do
    [ "$(now_ns)" -lt "$_limit" ] || return 1
    sleep 0.01
  done
}

# yes/no of a test, for checks whose detail would name pids.
yn() { if (eval "$*") >/dev/null 2>&1; then echo yes; else echo no; fi; }
