// The Linux task scanner: every live thread from /proc, each read from its
// stat file alone (a storm's resync reads thousands), and LinuxHost's
// conversions between event instants and start ticks (TaskScanner,
// tracking/task_event_source.h).
#pragma once

#include "linux/linux_host.h"
#include "tracking/task_event_source.h"

namespace gpc {

class ProcScanner : public TaskScanner {
 public:
  explicit ProcScanner(LinuxHost& host) : host_(host) {}

  std::vector<ScannedTask> Scan() override;
  uint64_t StartTicksFromMonotonic(MonoNanos t) const override {
    return host_.StartTicksFromMonotonic(t);
  }
  MonoNanos MonotonicFromStartTicks(uint64_t ticks) const override {
    return host_.MonotonicFromStartTicks(ticks);
  }
  bool SameStart(uint64_t known, uint64_t scanned) const override {
    return LinuxHost::SameStart(known, scanned);
  }
  bool RunsNow(const TaskKey& key) override;

 private:
  LinuxHost& host_;
};

}  // namespace gpc
