// The tracker's lossless event source: fork, exec and exit of every task,
// from the scheduler's tracepoints into one ring buffer that gpcd drains.
// A record the buffer has no room for is counted (per CPU), so a loss is
// always known and repaired by a /proc rescan; with the buffer sized for
// the machine (16 MiB: about 200,000 records) a starved gpcd loses none.
// Exits carry the thread's final CPU times, read where the kernel has
// them: no taskstats socket to keep in step.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "task_events_shared.h"

// The fields read, relocated against the running kernel's BTF (CO-RE).
struct sched_entity {
  __u64 sum_exec_runtime;
} __attribute__((preserve_access_index));
struct task_struct {
  int pid;
  int tgid;
  __u64 utime;
  __u64 stime;
  struct sched_entity se;
} __attribute__((preserve_access_index));

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 << 20);  // gpcd may set another size before load
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, GPC_TASK_EVENTS_LOST_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

static struct gpc_task_event* reserve(__u32 kind, struct task_struct* task) {
  struct gpc_task_event* e = bpf_ringbuf_reserve(&events, sizeof *e, 0);
  if (!e) {
    __u32 slot = 0;
    __u64* n = bpf_map_lookup_elem(&lost, &slot);
    if (n) *n += 1;
    return 0;
  }
  e->timestamp_ns = bpf_ktime_get_ns();
  e->runtime_ns = 0;
  e->utime_ns = 0;
  e->stime_ns = 0;
  e->pid = BPF_CORE_READ(task, pid);
  e->tgid = BPF_CORE_READ(task, tgid);
  e->parent_pid = 0;
  e->parent_tgid = 0;
  e->cpu = bpf_get_smp_processor_id();
  e->kind = kind;
  return e;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(gpc_fork, struct task_struct* parent, struct task_struct* child) {
  struct gpc_task_event* e = reserve(GPC_TASK_FORK, child);
  if (!e) return 0;
  e->parent_pid = BPF_CORE_READ(parent, pid);
  e->parent_tgid = BPF_CORE_READ(parent, tgid);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(gpc_exec, struct task_struct* task) {
  struct gpc_task_event* e = reserve(GPC_TASK_EXEC, task);
  if (e) bpf_ringbuf_submit(e, 0);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(gpc_exit, struct task_struct* task) {
  struct gpc_task_event* e = reserve(GPC_TASK_EXIT, task);
  if (!e) return 0;
  e->runtime_ns = BPF_CORE_READ(task, se.sum_exec_runtime);
  e->utime_ns = BPF_CORE_READ(task, utime);
  e->stime_ns = BPF_CORE_READ(task, stime);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
