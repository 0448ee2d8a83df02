#include "daemon/fork_gate.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace gpc {
namespace {

// epoll data: the gate key shifted left, the low bit says which fd.
constexpr uint64_t kWakeTag = 0;
constexpr uint64_t kConnBit = 1;
uint64_t ListenerTag(uint64_t key) { return key << 1; }
uint64_t ConnTag(uint64_t key) { return (key << 1) | kConnBit; }

}  // namespace

ForkGate::ForkGate(Framework& fw) : fw_(fw) {}

ForkGate::~ForkGate() { Stop(); }

Status ForkGate::Start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Err(errno, "epoll_create1");
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Err(errno, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return Err(errno, "epoll_ctl");
  }
  thread_ = std::thread([this] { Loop(); });
  return OkStatus();
}

void ForkGate::Stop() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  std::map<uint64_t, std::unique_ptr<Gate>> gates;
  {
    MutexLock l(mu_);
    gates.swap(gates_);
  }
  for (auto& [key, gate] : gates) Release(*gate);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  epoll_fd_ = wake_fd_ = -1;
}

void ForkGate::Release(Gate& gate) {
  // The listener first: once the holder sees its connection close, it may
  // start receiving, and gpcd must no longer be doing so.
  if (gate.listener >= 0) close(gate.listener);
  UnmapJournal(gate.journal);
  if (gate.conn >= 0) close(gate.conn);
  gate.listener = gate.conn = -1;
  gate.journal = nullptr;
}

Status ForkGate::Adopt(int listener, int journal_fd, int conn, uid_t peer_uid,
                       pid_t root, std::string_view ack) {
  auto gate = std::make_unique<Gate>();
  gate->listener = listener;
  gate->root = root;
  auto fail = [&](Error e) {
    if (journal_fd >= 0) close(journal_fd);
    Release(*gate);  // not conn: the caller still answers on it
    return e;
  };
  if (stopping_ || epoll_fd_ < 0) return fail(Err(ESHUTDOWN, "gpcd stops"));
  if (listener < 0 || !IsSeccompListener(listener)) {
    return fail(Err(EBADF, "the fd passed is not a seccomp listener"));
  }
  if (peer_uid != 0) {
    auto info = fw_.host().GetTaskInfo(root);
    if (!info.ok()) return fail(Err(ESRCH, "no task ", root));
    if (info->uid != peer_uid) {
      return fail(Err(EPERM, "task ", root, " belongs to uid ", info->uid,
                      ", not to the caller (uid ", peer_uid, ")"));
    }
  }
  auto journal = MapJournal(journal_fd);
  close(journal_fd);
  journal_fd = -1;
  if (!journal.ok()) return fail(std::move(journal).error());
  gate->journal = *journal;

  MutexLock l(mu_);
  uint64_t key = next_key_++;
  gate->key = key;
  // Registered before the ack; the loop cannot serve the gate before it is
  // in gates_ (it looks gates up under mu_, held here).
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = ListenerTag(key);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listener, &ev) != 0) {
    return fail(Err(errno, "epoll_ctl listener"));
  }
  if (conn >= 0) {
    // Only its end matters (the holder sends nothing more).
    ev.events = EPOLLRDHUP;
    ev.data.u64 = ConnTag(key);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, conn, &ev) != 0) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listener, nullptr);
      return fail(Err(errno, "epoll_ctl connection"));
    }
    if (!ack.empty() && send(conn, ack.data(), ack.size(), MSG_NOSIGNAL) !=
                            static_cast<ssize_t>(ack.size())) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn, nullptr);
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listener, nullptr);
      return fail(Err(EPIPE, "the holder went away"));
    }
  }
  gate->conn = conn;
  gates_[key] = std::move(gate);
  return OkStatus();
}

ForkGateStats ForkGate::stats() const {
  ForkGateStats s;
  {
    MutexLock l(mu_);
    s.gates = gates_.size();
  }
  s.notifications = notifications_;
  s.approved = approved_;
  s.refused = refused_;
  s.unknown_task = unknown_task_;
  s.unlimited = unlimited_;
  s.service_ns = service_ns_;
  return s;
}

void ForkGate::Loop() {
  epoll_event events[32];
  while (!stopping_) {
    int n = epoll_wait(epoll_fd_, events, 32, -1);
    if (n < 0) continue;  // EINTR
    for (int i = 0; i < n && !stopping_; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) continue;
      uint64_t key = tag >> 1;
      Gate* gate;
      {
        MutexLock l(mu_);
        auto it = gates_.find(key);
        if (it == gates_.end()) continue;  // closed earlier in this batch
        gate = it->second.get();
      }
      if (tag & kConnBit) {
        // The holder is gone. Keep serving; only a later gpcd exit would
        // now leave the tree without anyone to answer.
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, gate->conn, nullptr);
        close(gate->conn);
        gate->conn = -1;
        continue;
      }
      if (events[i].events & (EPOLLHUP | EPOLLERR)) {
        // Every task of the tree has exited (filter unused): nothing can
        // be pending any more.
        CloseGate(key);
        continue;
      }
      if (events[i].events & EPOLLIN) Serve(*gate);
    }
  }
}

void ForkGate::Serve(Gate& gate) {
  GateJournal& j = *gate.journal;
  j.receiving.store(1);
  auto n = ReceiveNotification(gate.listener);
  if (!n.ok()) {
    j.receiving.store(0);
    return;  // ENOENT: the asking task died before we received it
  }
  MonoNanos received = fw_.host().MonotonicNow();
  j.pending_id.store(n->id);
  j.receiving.store(0);
  ++notifications_;
  // The tid names the asker only while it still waits: a task killed since
  // (its tid free for reuse) must not have a fork decided, and reserved,
  // in its name.
  if (!NotificationPending(gate.listener, n->id)) {
    j.pending_id.store(0);
    return;
  }
  int error = Decide(n->tid);
  // ENOENT: the task died meanwhile; a reservation CanFork made is dropped
  // by its subsystem when no fork follows.
  (void)AnswerNotification(gate.listener, n->id, error);
  j.pending_id.store(0);
  service_ns_ += static_cast<uint64_t>(fw_.host().MonotonicNow() - received);
}

int ForkGate::Decide(pid_t tid) {
  // A supervised task in no limited container (it left them, or never
  // was in one): allowed without the framework's lock.
  if (fw_.ForkIsUnlimited(tid)) {
    ++approved_;
    ++unlimited_;
    return 0;
  }
  // Asked again after catching up with the tracker, and only that answer
  // counts: an ESRCH may be a task created a moment ago that forks at
  // once, and a refusal may come from a count still holding tasks that
  // have exited (threads created and joined in a tight loop).
  Status s = fw_.CanFork(tid, /*count_refusal=*/false);
  if (!s.ok()) {
    fw_.Sync();
    s = fw_.CanFork(tid);
  }
  if (s.ok()) {
    ++approved_;
    return 0;
  }
  if (s.error().code() == ESRCH) {
    // Still unknown (the tracker lost it, or it is being rescanned): no
    // limit can be applied to a task we cannot place, so let it run.
    ++unknown_task_;
    return 0;
  }
  ++refused_;
  return s.error().code();
}

void ForkGate::CloseGate(uint64_t key) {
  std::unique_ptr<Gate> gate;
  {
    MutexLock l(mu_);
    auto it = gates_.find(key);
    if (it == gates_.end()) return;
    gate = std::move(it->second);
    gates_.erase(it);
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, gate->listener, nullptr);
  if (gate->conn >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, gate->conn, nullptr);
  Release(*gate);
}

}  // namespace gpc
