// The Linux task event source: the proc connector's events, and taskstats'
// exit records when available (TaskEventSource, tracking/
// task_event_source.h).
#pragma once

#include <memory>

#include "linux/proc_connector.h"
#include "linux/taskstats_listener.h"
#include "tracking/task_event_source.h"

namespace gpc {

class ConnectorEventSource : public TaskEventSource {
 public:
  // Unsubscribed until Open(); nothing else may be called before.
  ConnectorEventSource() = default;
  // Subscribes to the connector with a `rcvbuf_bytes` receive buffer and,
  // with `exit_accounting`, to taskstats for CPUs 0..cpus-1 (without it if
  // taskstats is unavailable: exit times then come from the last sample).
  Status Open(size_t rcvbuf_bytes, bool exit_accounting, size_t cpus);

  // Readable when events wait (for epoll). The taskstats socket is not
  // offered: its records precede the exit events they belong to, so it is
  // read when exits arrive, which saves a wakeup per exiting thread.
  int fd() const { return connector_->fd(); }
  size_t rcvbuf_bytes() const { return connector_->rcvbuf_bytes(); }

  Result<bool> Read(std::vector<ProcEvent>* out, size_t max) override {
    return connector_->Read(out, max);
  }
  Result<bool> CheckDrops() override { return connector_->CheckDrops(); }
  TaskEventCounters counters() const override;
  bool has_exit_records() const override { return taskstats_ != nullptr; }
  void ReadExitRecords(std::vector<TaskExitStats>* out) override;

 private:
  std::unique_ptr<ProcConnector> connector_;
  std::unique_ptr<TaskstatsListener> taskstats_;
};

}  // namespace gpc
