#include "testing/scripted_event_source.h"

#include <algorithm>

namespace gpc {

void ScriptedEventSource::PushFork(pid_t parent, const TaskKey& child,
                                   MonoNanos when) {
  std::optional<FakeHost::FakeTask> p = host_.Task(parent);
  std::optional<FakeHost::FakeTask> c = host_.Task(child.tid);
  ProcEvent e;
  e.kind = ProcEvent::Kind::kFork;
  e.timestamp = when;
  e.pid = child.tid;
  e.tgid = c ? c->info.tgid : child.tid;
  e.parent_pid = parent;
  e.parent_tgid = p ? p->info.tgid : parent;
  queue_.push_back(e);
}

void ScriptedEventSource::PushExit(pid_t tid, pid_t tgid, MonoNanos when) {
  ProcEvent e;
  e.kind = ProcEvent::Kind::kExit;
  e.timestamp = when;
  e.pid = tid;
  e.tgid = tgid;
  queue_.push_back(e);
}

Result<bool> ScriptedEventSource::Read(std::vector<ProcEvent>* out,
                                       size_t max) {
  for (size_t i = 0; i < max && !queue_.empty(); ++i) {
    out->push_back(queue_.front());
    queue_.pop_front();
  }
  bool lost = lost_;
  if (lost) ++counters_.overflows;
  lost_ = false;
  return lost;
}

Result<bool> ScriptedEventSource::CheckDrops() {
  bool dropped = dropped_;
  if (dropped) ++counters_.socket_drops;
  dropped_ = false;
  return dropped;
}

void ScriptedEventSource::ReadExitRecords(std::vector<TaskExitStats>* out) {
  out->insert(out->end(), records_.begin(), records_.end());
  records_.clear();
}

FakeTaskScanner::FakeTaskScanner(FakeHost& host, MonoNanos tick_ns)
    : host_(host), tick_ns_(tick_ns) {
  host_.SetStartTimeTick(tick_ns);
}

bool FakeTaskScanner::RunsNow(const TaskKey& key) {
  auto info = host_.GetTaskInfo(key.tid);
  return info.ok() && SameStart(key.start_time, info->key.start_time);
}

std::vector<ScannedTask> FakeTaskScanner::Scan() {
  ++scans_;
  std::vector<ScannedTask> out;
  auto procs = host_.ListProcesses();
  if (!procs.ok()) return out;
  for (pid_t tgid : *procs) {
    auto threads = host_.ListThreads(tgid);
    if (!threads.ok()) continue;
    for (pid_t tid : *threads) {
      auto info = host_.GetTaskInfo(tid);
      if (!info.ok()) continue;
      out.push_back({tid, info->tgid, info->ppid, info->key.start_time});
    }
  }
  std::sort(out.begin(), out.end(), ScanOrder);
  return out;
}

}  // namespace gpc
