// pids: the kernel's pids controller (kernel/cgroup/pids.c) for cgroup v1,
// for tools that expect it.
//
//   pids.max      "max" or a count; a fork that would take this container
//                 or any ancestor past its max is refused (EAGAIN)
//   pids.current  tasks (threads) here and in every descendant
//   pids.peak     the highest pids.current seen
//   pids.events   "max N": forks by tasks of this container that a limit
//                 refused (the kernel counts them in the forking cgroup)
//
// No file is on the root, as in the kernel. Migration and lowering pids.max
// may leave a container above its max; a fork never may. Forks of
// supervised tasks (gpc exec) are refused before the task exists; a fork of
// any other task is answered by killing the new task (task_limit.h).
#pragma once

#include <cstdint>
#include <string_view>

#include "subsys/task_limit.h"

namespace gpc {

// PID_MAX_LIMIT + 1: what "max" stands for.
constexpr int64_t kPidsMaxUnlimited = 4'194'305;

// pids_max_write(): "max", or kstrtoll(strstrip(text), 0) in
// [0, kPidsMaxUnlimited). EINVAL bad text or out of range, ERANGE overflow.
Result<int64_t> ParsePidsMax(std::string_view text);

struct PidsState : SubsysState {
  PidsState* parent = nullptr;
  int64_t limit = kPidsMaxUnlimited;
  int64_t counter = 0;  // tasks here and below, plus pending reservations
  int64_t peak = 0;
  uint64_t fork_failures = 0;
};

class PidsSubsystem : public TaskLimitSubsystem {
 public:
  PidsSubsystem() : TaskLimitSubsystem("pids", EAGAIN) {}
  std::string_view description() const override {
    return "process number limits, as the kernel's pids controller";
  }
  Result<std::unique_ptr<SubsysState>> Create(const CreateArgs& args) override;
  std::span<const ControlFile> files() const override;

 protected:
  bool TryCharge(SubsysState& state, std::string* why) override;
  void ForceCharge(SubsysState& state) override;
  void Uncharge(SubsysState& state) override;
  void CountFailure(SubsysState& state) override;
};

}  // namespace gpc
