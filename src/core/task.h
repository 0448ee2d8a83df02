// A task: one thread of the machine, as the framework knows it.
#pragma once

#include <memory>
#include <vector>

#include "host/host.h"

namespace gpc {

class ContainerGroup;

// Where a task was before a move, kept for a short while so that a fork
// event that arrives late can place the child where the parent was at the
// instant of the fork (see Framework::Fork).
struct PastGroup {
  MonoNanos until;        // the task left `group` at this instant
  ContainerGroup* group;  // pinned while recorded
};

// Whether the task's forks reach the fork gate before they happen (its
// process carries gpc's seccomp filter; docs/fork-gate.md).
enum class Supervision : uint8_t {
  kNone,        // not asked for (no limited container has needed it)
  kPending,     // being installed
  kSupervised,  // forks are asked about and can be refused
  kImpossible,  // could not be installed: forks beyond a limit are killed
};
const char* SupervisionName(Supervision s);

struct Task {
  TaskKey key;
  pid_t tgid = 0;
  // The same for every thread of a process; a child inherits its parent's
  // (as it inherits the filter), but kImpossible, which was about the
  // parent's own state (traced, stopped...).
  Supervision supervision = Supervision::kNone;
  // Known not to be a kernel thread (Host::GetKernelThread), which a task
  // never becomes: attach need not ask again.
  bool user_task = false;
  // Where the task is now, in every hierarchy at once. Never null.
  ContainerGroup* group = nullptr;

  // Set during Exit() callbacks when the tracker captured the task's final
  // CPU times (taskstats); null otherwise.
  const CpuTimes* final_times = nullptr;

  // Ascending by `until`; null until the task is first moved.
  std::unique_ptr<std::vector<PastGroup>> history;

  // Links of the intrusive list of the tasks of `group`.
  Task* group_prev = nullptr;
  Task* group_next = nullptr;
  // Links of the ring of the threads of one process.
  Task* thread_prev = this;
  Task* thread_next = this;

  pid_t tid() const { return key.tid; }
};

}  // namespace gpc
