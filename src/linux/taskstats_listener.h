// Exit accounting through taskstats (generic netlink, family "TASKSTATS"):
// the kernel sends the final statistics of every exiting thread, on CPUs we
// register for, just before it sends the proc connector's exit event. That
// gives the exact final CPU time of threads that /proc can no longer show.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "host/host.h"
#include "tracking/task_event_source.h"
#include "util/result.h"

namespace gpc {

class TaskstatsListener {
 public:
  // Resolves the family and registers for CPUs 0..cpus-1.
  static Result<std::unique_ptr<TaskstatsListener>> Open(size_t cpus,
                                                         size_t rcvbuf_bytes);
  ~TaskstatsListener();
  TaskstatsListener(const TaskstatsListener&) = delete;
  TaskstatsListener& operator=(const TaskstatsListener&) = delete;

  int fd() const { return fd_; }
  // Appends the per-thread exit records waiting now, without blocking.
  // Returns true if the socket overflowed since the last call.
  Result<bool> Read(std::vector<TaskExitStats>* out);

  uint64_t overflows() const { return overflows_; }

 private:
  TaskstatsListener(int fd, uint16_t family) : fd_(fd), family_(family) {}
  Status SendCpumask(int attr, size_t cpus);

  // Receive buffers, kReadBatch datagrams of kDatagramBytes. On the heap:
  // as static thread_local they would grow every thread's TLS.
  static constexpr unsigned kReadBatch = 32;
  static constexpr size_t kDatagramBytes = 4096;  // a record is < 1 KiB
  std::unique_ptr<char[]> buffer_{new char[kReadBatch * kDatagramBytes]};

  int fd_;
  uint16_t family_;
  size_t cpus_ = 0;
  uint64_t overflows_ = 0;
};

}  // namespace gpc
