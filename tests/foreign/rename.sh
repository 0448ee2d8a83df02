#!/bin/sh
# mv(1) on groups, as scripts rename jobs: within a parent, across parents,
# onto existing names, files, a group with a task in it, a group a shell is
# in, out of the file system (mv then copies); and the rmdir/rm errors a
# cleanup script meets.
. "${0%/*}/lib.sh"

mkdir "$T/m"
mount -t "$FSTYPE" -o "none,name=$NAME" "$FSTYPE" "$T/m" || exit 1
cd "$T/m" || exit 1
mkdir a b a/x e

check within 'mv a c'
say listing "$(ls -d */ | paste -sd ' ' -)"
check nested 'mv c/x c/y'
say nested.listing "$(ls c)"
check across_into 'mv c/y b/'
check across_named 'mv c/y b/y'
check across_up 'mv c/y y'
check onto_existing_dir 'mv -T c b'
check onto_existing_empty 'mv -T c e'
check into_existing 'mv c b'
check onto_file 'mv -T c tasks'
check file 'mv tasks tasks2'
check file_into_group 'mv notify_on_release c/'
check same 'mv c c'
check to_dot 'mv c .'
check exchange 'mv --exchange c b'
check no_clobber 'mv -n c b/c'
say after "$(ls -d */ | paste -sd ' ' -)"

# Names: 255 bytes, then 256 (the kernel's kernfs has no NAME_MAX check).
n255=$(printf 'n%.0s' $(seq 1 255))
check name255 "mv c $n255"
check name255.back "mv $n255 c"
check name256 "mv c ${n255}n"
[ -d "${n255}n" ] && mv "${n255}n" c
check name_slash_dir 'mv c e/'
say final "$(ls -d */ | paste -sd ' ' -)"

# A group with a task: the task stays in it under the new name.
echo $$ >c/tasks
check with_task 'mv c d'
say with_task.member "$(yn "grep -qx $$ d/tasks")"
say with_task.old "$(yn 'test -e c')"
echo $$ >tasks
# A shell inside the group it renames: its working directory follows.
check cwd_follows '(cd d && mv ../d ../f && /bin/pwd && ls tasks)'
say cwd.listing "$(ls -d */ | paste -sd ' ' -)"
# Renamed twice in a row, and back.
check twice 'mv f g && mv g h && mv h d'

# Out of the file system: rename(2) says EXDEV, mv copies the files and
# cannot remove them.
check_sorted out_of_fs "mv d '$T/copied'"
say out_of_fs.copied "$(ls "$T/copied" 2>&1 | paste -sd ' ' -)"
say out_of_fs.source "$(yn 'test -d d')"
rm -rf "$T/copied"

# Removal errors.
mkdir -p p/q r
echo $$ >r/tasks
check rmdir.child 'rmdir p'
check rmdir.task 'rmdir r'
echo $$ >tasks
rmdir r
check rmdir.file 'rmdir tasks'
check rmdir.missing 'rmdir nothere'
check_sorted rm.recursive 'rm -r p'
check_sorted rm.recursive_forced 'rm -rf p/q'
say rm.left "$(find p -type d | sort | paste -sd ' ' -)"
check rmdir.parents 'rmdir -p p/q'
check rmdir.root "rmdir '$T/m'"
say left "$(ls -d */ 2>&1 | paste -sd ' ' -)"

rmdir a b d e 2>/dev/null
cd /
umount "$T/m"
