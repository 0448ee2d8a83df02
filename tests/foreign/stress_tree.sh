#!/bin/sh
# Trees of thousands of groups, built and removed the ways stress scripts
# do (LTP's cgroup_fj_stress: breadth and depth): one mkdir per group in a
# shell loop, one mkdir for a thousand names, mkdir -p of deep chains and of
# a wide and deep tree, rmdir -p, find -depth -exec rmdir. Counts are
# compared; each phase's time is reported.
. "${0%/*}/lib.sh"

mkdir "$T/m"
mount -t "$FSTYPE" -o "none,name=$NAME" "$FSTYPE" "$T/m" || exit 1
cd "$T/m" || exit 1
count() { find "$1" -mindepth 1 -type d | wc -l; }

# Breadth, one process per group.
t0=$(now_ns)
i=0
while [ $i -lt 1000 ]; do
  mkdir "b$i" || break
  i=$((i + 1))
done
t1=$(now_ns)
timing breadth_loop_mkdir_1000 "$t0" "$t1"
say breadth_loop.count "$(ls -d b* | wc -l)"
say breadth_loop.tasks_files "$(ls b*/tasks | wc -l)"
t0=$(now_ns)
i=0
while [ $i -lt 1000 ]; do
  rmdir "b$i" || break
  i=$((i + 1))
done
t1=$(now_ns)
timing breadth_loop_rmdir_1000 "$t0" "$t1"
say breadth_loop.left "$(count .)"

# Breadth, one process for 2,000 names.
t0=$(now_ns)
mkdir $(seq -f 'w%g' 1 2000)
say breadth_one.status $?
t1=$(now_ns)
timing breadth_one_mkdir_2000 "$t0" "$t1"
say breadth_one.count "$(count .)"
t0=$(now_ns)
rmdir w*
say breadth_one.rmdir_status $?
t1=$(now_ns)
timing breadth_one_rmdir_2000 "$t0" "$t1"

# Depth: ten chains of 100 levels, then one of 1,000 (a 2,000-byte path).
p=
for i in $(seq 1 100); do p=$p/d; done
t0=$(now_ns)
for c in 0 1 2 3 4 5 6 7 8 9; do mkdir -p "c$c$p" || break; done
t1=$(now_ns)
timing depth_mkdir_p_10x100 "$t0" "$t1"
say depth.count "$(count .)"
say depth.deepest_files "$(ls "c9$p" | wc -l)"
t0=$(now_ns)
for c in 0 1 2 3 4 5 6 7 8 9; do rmdir -p "c$c$p" || break; done
t1=$(now_ns)
timing depth_rmdir_p_10x100 "$t0" "$t1"
say depth.left "$(count .)"
p=
for i in $(seq 1 1000); do p=$p/d; done
t0=$(now_ns)
mkdir -p "deep$p"
say deep.status $?
t1=$(now_ns)
timing deep_mkdir_p_1000 "$t0" "$t1"
say deep.count "$(count deep)"
check deep.write "echo 1 >'deep$p/notify_on_release' && cat 'deep$p/notify_on_release'"
t0=$(now_ns)
find deep -depth -type d -exec rmdir {} +
say deep.rmdir_status $?
t1=$(now_ns)
timing deep_find_rmdir_1000 "$t0" "$t1"
say deep.left "$(yn 'test -e deep')"

# A wide and deep tree: 10 x 10 x 10 x 2 leaves, 3,111 groups, in one
# mkdir -p; listed; removed by find.
paths=
for a in 0 1 2 3 4 5 6 7 8 9; do
  for b in 0 1 2 3 4 5 6 7 8 9; do
    for c in 0 1 2 3 4 5 6 7 8 9; do
      paths="$paths t/$a/$b/$c/x t/$a/$b/$c/y"
    done
  done
done
t0=$(now_ns)
mkdir -p $paths
say tree.status $?
t1=$(now_ns)
timing tree_mkdir_p_3111 "$t0" "$t1"
t0=$(now_ns)
say tree.count "$(find t -type d | wc -l)"
t1=$(now_ns)
timing tree_find_3111 "$t0" "$t1"
say tree.files "$(find t -name tasks | wc -l)"
t0=$(now_ns)
find t -depth -type d -exec rmdir {} +
say tree.rmdir_status $?
t1=$(now_ns)
timing tree_find_rmdir_3111 "$t0" "$t1"
say tree.left "$(count .)"

cd /
umount "$T/m"
