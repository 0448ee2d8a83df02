#!/bin/sh
# notify_on_release and cgroup.clone_children as flags scripts set and
# read: defaults, inheritance at mkdir, and which emptyings run the agent
# (a task leaving, a task exiting, the last child removed; not a group
# that never had tasks, not one whose flag is 0). Absences are checked
# once a later release has been seen.
. "${0%/*}/lib.sh"

M=$T/m
mkdir "$M"
cat >"$T/agent" <<EOF
#!/bin/sh
echo "\$1" >>'$T/agent.log'
EOF
chmod 755 "$T/agent"
: >"$T/agent.log"
mount -t "$FSTYPE" -o "none,name=$NAME,release_agent=$T/agent" "$FSTYPE" "$M" || exit 1
cd "$M" || exit 1
logged() { grep -qx "$1" "$T/agent.log"; }
released() { say "released.$1" "$(yn "wait_for 10 logged /$1")"; }

say root.notify_on_release "$(cat notify_on_release)"
say root.clone_children "$(cat cgroup.clone_children)"
mkdir plain
say plain.flags "$(cat plain/notify_on_release plain/cgroup.clone_children | paste -sd ' ' -)"

# Inherited from the parent at mkdir, not followed afterwards.
echo 1 >notify_on_release
echo 1 >cgroup.clone_children
mkdir a
say a.flags "$(cat a/notify_on_release a/cgroup.clone_children | paste -sd ' ' -)"
echo 0 >notify_on_release
echo 0 >cgroup.clone_children
say a.flags_after_parent_cleared "$(cat a/notify_on_release a/cgroup.clone_children | paste -sd ' ' -)"
mkdir a/b
echo 0 >a/notify_on_release
mkdir a/c
say a_b.flags "$(cat a/b/notify_on_release a/b/cgroup.clone_children | paste -sd ' ' -)"
say a_c.flags "$(cat a/c/notify_on_release a/c/cgroup.clone_children | paste -sd ' ' -)"
say plain.flags_unchanged "$(cat plain/notify_on_release plain/cgroup.clone_children | paste -sd ' ' -)"

# A task that exits.
mkdir exits
echo 1 >exits/notify_on_release
sh -c "echo \$\$ >exits/tasks"
released exits
# A task moved out.
mkdir left
echo 1 >left/notify_on_release
sleep 1000 &
job=$!
echo $job >left/tasks
echo $job >tasks
released left
# Flag 0: no agent (checked below).
mkdir quiet
sh -c "echo \$\$ >quiet/tasks"
# A group that never had a task, removed: no agent for itself.
mkdir never
echo 1 >never/notify_on_release
rmdir never
# The last child of a flagged, empty parent removed: the parent's agent.
mkdir -p parent/kid
echo 1 >parent/notify_on_release
rmdir parent/kid
released parent
# A flagged group with a child keeps quiet while the child lives.
mkdir -p busy/kid
echo 1 >busy/notify_on_release
sh -c "echo \$\$ >busy/tasks"
# Set after the group emptied: nothing (the kernel looks at the flag when
# the group empties).
mkdir late
sh -c "echo \$\$ >late/tasks"
echo 1 >late/notify_on_release
# A task moved between two flagged siblings: the one it left.
mkdir from to
echo 1 >from/notify_on_release
echo 1 >to/notify_on_release
echo $job >from/tasks
echo $job >to/tasks
released from
kill $job
wait $job 2>/dev/null
released to
# The sentinel: once its release is seen, earlier ones would have been.
mkdir zz_last
echo 1 >zz_last/notify_on_release
sh -c "echo \$\$ >zz_last/tasks"
released zz_last
say log "$(sort "$T/agent.log" | paste -sd ' ' -)"

cd /
find "$M" -mindepth 1 -depth -type d -exec rmdir {} +
umount "$M"
