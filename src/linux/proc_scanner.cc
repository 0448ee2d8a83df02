#include "linux/proc_scanner.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "linux/proc_files.h"
#include "util/pid_dir.h"
#include "util/read_file.h"

namespace gpc {
namespace {

// A /proc/.../stat file: its text, or "" once the task is gone.
std::string ReadStat(const char* path) {
  char buf[1024];
  ssize_t n = ReadSmallFile(path, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

bool ProcScanner::RunsNow(const TaskKey& key) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/stat", key.tid);
  auto stat = ParseProcStat(ReadStat(path));
  return stat.ok() && stat->state != 'Z' && stat->state != 'X' &&
         LinuxHost::SameStart(key.start_time, stat->start_ticks);
}

std::vector<ScannedTask> ProcScanner::Scan() {
  std::vector<ScannedTask> out;
  char path[96];
  for (pid_t tgid : ListPidEntries("/proc")) {
    std::snprintf(path, sizeof path, "/proc/%d/task", tgid);
    // A process that exited meanwhile lists no threads.
    for (pid_t tid : ListPidEntries(path)) {
      std::snprintf(path, sizeof path, "/proc/%d/task/%d/stat", tgid, tid);
      auto stat = ParseProcStat(ReadStat(path));
      if (!stat.ok()) continue;  // exited meanwhile
      // An exited thread (a zombie leader of live threads, say) has had
      // its exit event: it is in no container.
      if (stat->state == 'Z' || stat->state == 'X') continue;
      out.push_back(ScannedTask{tid, tgid, stat->ppid, stat->start_ticks});
    }
  }
  // Parents start before their children, leaders before their threads.
  std::sort(out.begin(), out.end(), ScanOrder);
  return out;
}

}  // namespace gpc
