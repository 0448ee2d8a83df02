// What task_events.bpf.c and gpcd's reader (linux/bpf_event_source.cc)
// agree on: one record of the ring buffer.
#pragma once

#include <linux/types.h>

enum gpc_task_event_kind {
  GPC_TASK_FORK = 1,
  GPC_TASK_EXEC = 2,
  GPC_TASK_EXIT = 3,
};

struct gpc_task_event {
  __u64 timestamp_ns;  // bpf_ktime_get_ns(): CLOCK_MONOTONIC
  // Exit: the thread's final CPU times.
  __u64 runtime_ns;  // se.sum_exec_runtime
  __u64 utime_ns;
  __u64 stime_ns;
  __s32 pid;  // the task (fork: the child)
  __s32 tgid;
  __s32 parent_pid;  // fork: the creating thread and its process
  __s32 parent_tgid;
  __u32 cpu;
  __u32 kind;  // enum gpc_task_event_kind
};

// Per CPU: records the ring buffer had no room for.
#define GPC_TASK_EVENTS_LOST_SLOTS 1
