// cpuacct's kernel side: the kernel's cpuacct_charge(), as a BPF program.
//
// gpcd names each task's accounting group (one per cpuacct container) in
// `task_group`, through a pidfd. sched_stat_runtime fires where the kernel
// itself charges a task's runtime (update_curr, at every tick and context
// switch); this adds that runtime, and the user and system time that grew
// since the task was last seen, to the group's per-CPU counters. A child
// made by fork or clone joins its creator's group at the fork instant
// (sched_process_fork), before it first runs: no event for gpcd to wait
// for, no time charged to the wrong group. A read is one map lookup per
// group.
//
// Built with clang -target bpf against libbpf's headers only: the two
// task_struct fields read are relocated by libbpf (CO-RE) against the
// running kernel's BTF, so no vmlinux.h is needed.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "cpuacct_shared.h"

// The fields read, at the offsets of the running kernel (CO-RE).
struct task_struct {
  __u64 utime;
  __u64 stime;
} __attribute__((preserve_access_index));

// A task's group, written by gpcd (0: in none; unset: the root's).
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, __u32);
} task_group SEC(".maps");

// What the program last saw of a task's user and system time.
struct seen_times {
  __u64 utime;
  __u64 stime;
};
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct seen_times);
} task_seen SEC(".maps");

// Per group, per CPU: what its tasks ran (struct gpc_cpu_charge).
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, GPC_CPUACCT_MAX_GROUPS);
  __type(key, __u32);
  __type(value, struct gpc_cpu_charge);
} group_charge SEC(".maps");

// Per CPU: events that could not be charged (enum gpc_cpuacct_miss).
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, GPC_CPUACCT_MISS_KINDS);
  __type(key, __u32);
  __type(value, __u64);
} missed SEC(".maps");

static void count_miss(__u32 kind) {
  __u64* n = bpf_map_lookup_elem(&missed, &kind);
  if (n) *n += 1;
}

SEC("tp_btf/sched_stat_runtime")
int BPF_PROG(gpc_charge, struct task_struct* task, __u64 runtime) {
  __u32 root = GPC_CPUACCT_ROOT_GROUP;
  __u32* group = bpf_task_storage_get(&task_group, task, 0, 0);
  if (!group) group = &root;  // never named: in the root container
  if (*group == 0) return 0;
  struct gpc_cpu_charge* charge = bpf_map_lookup_elem(&group_charge, group);
  if (!charge) {
    count_miss(GPC_CPUACCT_MISS_GROUP);
    return 0;
  }
  charge->runtime_ns += runtime;
  const __u64 utime = BPF_CORE_READ(task, utime);
  const __u64 stime = BPF_CORE_READ(task, stime);
  struct seen_times* seen = bpf_task_storage_get(&task_seen, task, 0, 0);
  if (!seen) {
    // First sight: what it used before was not in a group of ours.
    seen = bpf_task_storage_get(&task_seen, task, 0,
                                BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!seen) {
      count_miss(GPC_CPUACCT_MISS_STORAGE);
      return 0;
    }
    seen->utime = utime;
    seen->stime = stime;
    return 0;
  }
  if (utime > seen->utime) charge->user_ns += utime - seen->utime;
  if (stime > seen->stime) charge->system_ns += stime - seen->stime;
  seen->utime = utime;
  seen->stime = stime;
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(gpc_inherit, struct task_struct* parent, struct task_struct* child) {
  __u32* group = bpf_task_storage_get(&task_group, parent, 0, 0);
  if (!group) return 0;
  __u32* mine = bpf_task_storage_get(&task_group, child, 0,
                                     BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!mine) {
    count_miss(GPC_CPUACCT_MISS_STORAGE);
    return 0;
  }
  *mine = *group;
  // A new task has used no time yet: it is seen from zero, so its very
  // first tick is charged too.
  if (!bpf_task_storage_get(&task_seen, child, 0,
                            BPF_LOCAL_STORAGE_GET_F_CREATE)) {
    count_miss(GPC_CPUACCT_MISS_STORAGE);
  }
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
