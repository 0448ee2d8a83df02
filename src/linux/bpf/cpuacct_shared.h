// What cpuacct.bpf.c and gpcd's loader (linux/bpf_cpu_accounting.cc)
// agree on: the group table's size, its value and the miss counters.
#pragma once

#include <linux/types.h>

// Groups the kernel side can hold: one per cpuacct container, root
// included. A mkdir beyond it fails with ENOSPC.
#define GPC_CPUACCT_MAX_GROUPS 131072

// The group of every task never named (nor born of a named one): the root
// container's, where gpc has every task it was not told to move. Naming
// only the tasks outside the root keeps gpcd's start cheap.
#define GPC_CPUACCT_ROOT_GROUP 1

// One group's charges on one CPU, in nanoseconds.
struct gpc_cpu_charge {
  __u64 runtime_ns;  // sched_stat_runtime: what cpuacct.usage counts
  __u64 user_ns;     // task->utime growth (cpuacct.stat user)
  __u64 system_ns;   // task->stime growth (cpuacct.stat system)
};

enum gpc_cpuacct_miss {
  GPC_CPUACCT_MISS_GROUP = 0,    // a task's group has no counters
  GPC_CPUACCT_MISS_STORAGE = 1,  // task storage could not be made
  GPC_CPUACCT_MISS_KINDS = 2,
};
