#!/bin/sh
# The release agent the way libcgroup's cgrulesengd setups and LTP's
# cgroup_fj tests use it: given at mount, changed by remount and by writing
# release_agent, run with the released group's path when a group with
# notify_on_release empties. The agent logs its argument, working directory
# and PATH; the script waits for each line with a deadline.
. "${0%/*}/lib.sh"

M=$T/m
mkdir "$M"
for a in agent1 agent2 agent3; do
  cat >"$T/$a" <<EOF
#!/bin/sh
echo "$a \$1 cwd=\$(pwd) args=\$# PATH=\$PATH" >>'$T/agent.log'
EOF
  chmod 755 "$T/$a"
done
: >"$T/agent.log"
# Empties group $1 by running a short-lived shell in it.
run_in() { sh -c "echo \$\$ >'$M/$1/tasks' && exit 0"; }
logged() { grep -qx "$1" "$T/agent.log"; }

mnt mount "mount -t '$FSTYPE' -o 'none,name=$NAME,release_agent=$T/agent1' '$FSTYPE' '$M'"
say agent.at_mount "$(cat "$M/release_agent")"
mnt remount.childless "mount -t '$FSTYPE' -o 'remount,none,name=$NAME,release_agent=$T/agent2' '$FSTYPE' '$M'"
say agent.after_remount "$(cat "$M/release_agent")"
mnt remount.without_agent "mount -t '$FSTYPE' -o 'remount,none,name=$NAME' '$FSTYPE' '$M'"
say agent.after_remount_without "$(cat "$M/release_agent")"

mkdir "$M/g"
echo 1 >"$M/g/notify_on_release"
run_in g
say released.g "$(yn "wait_for 10 logged \"'agent2 /g cwd=/ args=1 PATH=/sbin:/bin:/usr/sbin:/usr/bin'\"")"

# With a child, the kernel refuses any remount (gpc: only a change of
# subsystems); the same agent again, so what follows is the same either way.
mnt remount.with_child "mount -t '$FSTYPE' -o 'remount,none,name=$NAME,release_agent=$T/agent2' '$FSTYPE' '$M'"

# Written to the file: used by the next release.
echo "$T/agent3" >"$M/release_agent"
say agent.written "$(cat "$M/release_agent")"
mkdir -p "$M/g/h"
echo 1 >"$M/g/h/notify_on_release"
run_in g/h
say released.g_h "$(yn "wait_for 10 grep -q \"'^agent3 /g/h '\" '$T/agent.log'")"

# Several groups emptied at once: one run each.
for i in 1 2 3 4 5; do
  mkdir "$M/many$i"
  echo 1 >"$M/many$i/notify_on_release"
  run_in many$i &
done
wait
say released.many "$(yn "wait_for 10 test \\\$\\(grep -c \"'^agent3 /many'\" '$T/agent.log'\\) -ge 5")"
say released.many_lines "$(grep '^agent3 /many' "$T/agent.log" | cut -d' ' -f2 | sort | paste -sd ' ' -)"

# An agent that does not exist: the release is attempted, nothing breaks.
echo "$T/missing_agent" >"$M/release_agent"
mkdir "$M/lost"
echo 1 >"$M/lost/notify_on_release"
run_in lost
check after_missing.mkdir "mkdir '$M/after' && rmdir '$M/after'"

# The log, without what depends on timing: every line, sorted.
say log "$(cut -d' ' -f1,2 "$T/agent.log" | sort | paste -sd ' ' -)"
rmdir "$M/g/h" "$M/g" "$M"/many* "$M/lost"
umount "$M"
