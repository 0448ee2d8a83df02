// The kernel's process events connector (NETLINK_CONNECTOR, CN_IDX_PROC):
// fork, exec, exit and credential events of every task on the machine.
//
// Losses. The kernel drops events for a listener whose socket buffer is
// full; the next recv() then fails with ENOBUFS. Each event also carries a
// per-CPU sequence number (cn_msg.seq, incremented for every event sent from
// that CPU), so a gap shows a loss too — including one the kernel could not
// even allocate. Both are counted; the caller resynchronises.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "host/host.h"
#include "tracking/task_event_source.h"
#include "util/result.h"

namespace gpc {

const char* ProcEventKindName(ProcEvent::Kind kind);

struct ConnectorCounters {
  uint64_t datagrams = 0;
  uint64_t overflows = 0;     // recv() answered ENOBUFS
  uint64_t seq_missing = 0;   // events missing from per-CPU sequences
  uint64_t socket_drops = 0;  // the kernel's count for the socket
};

class ProcConnector {
 public:
  // Opens the socket, sets its receive buffer (SO_RCVBUFFORCE, falling back
  // to SO_RCVBUF) to `rcvbuf_bytes`, and subscribes. Needs CAP_NET_ADMIN.
  static Result<std::unique_ptr<ProcConnector>> Open(size_t rcvbuf_bytes);
  ~ProcConnector();
  ProcConnector(const ProcConnector&) = delete;
  ProcConnector& operator=(const ProcConnector&) = delete;

  // Non-blocking; readable when events wait (for epoll).
  int fd() const { return fd_; }
  // The receive buffer the kernel actually granted.
  size_t rcvbuf_bytes() const { return rcvbuf_; }

  // Appends the events waiting now, up to `max` of them, without blocking.
  // Returns true when a loss was detected since the last call (ENOBUFS or a
  // sequence gap); the counters say how many.
  Result<bool> Read(std::vector<ProcEvent>* out, size_t max);

  const ConnectorCounters& counters() const { return counters_; }

  // Whether the kernel dropped events for this socket since the last call
  // (its Drops count in /proc/net/netlink). Unlike Read()'s checks this
  // also sees the last events lost in a burst: ENOBUFS is reported once per
  // congestion, and a sequence gap only shows when the CPU sends again.
  Result<bool> CheckDrops();

 private:
  explicit ProcConnector(int fd) : fd_(fd) {}
  Status SendControl(uint32_t op);
  // Per-CPU sequence check of one event; true when events were skipped.
  bool TrackSequence(uint16_t cpu, uint32_t seq);

  // Receive buffers for one recvmmsg(): on the heap, not thread_local (that
  // would grow every thread's TLS in the process).
  static constexpr size_t kReadBatch = 64;
  static constexpr size_t kDatagramBytes = 256;  // an event is ~100 bytes
  std::unique_ptr<char[]> buffer_{new char[kReadBatch * kDatagramBytes]};

  int fd_;
  uint64_t inode_ = 0;
  size_t rcvbuf_ = 0;
  ConnectorCounters counters_;
  // Next expected sequence number per CPU; -1 = none seen yet.
  std::vector<int64_t> next_seq_;
};

}  // namespace gpc
