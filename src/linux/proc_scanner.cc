#include "linux/proc_scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "linux/proc_files.h"

namespace gpc {
namespace {

// Reads a small file whole; empty on failure.
std::string ReadSmallFile(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

bool ParsePidName(const char* name, pid_t* out) {
  if (*name < '1' || *name > '9') return false;
  long v = 0;
  for (const char* p = name; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + (*p - '0');
    if (v > (1L << 30)) return false;
  }
  *out = static_cast<pid_t>(v);
  return true;
}

}  // namespace

bool ProcScanner::RunsNow(const TaskKey& key) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/stat", key.tid);
  auto stat = ParseProcStat(ReadSmallFile(path));
  return stat.ok() && stat->state != 'Z' && stat->state != 'X' &&
         LinuxHost::SameStart(key.start_time, stat->start_ticks);
}

std::vector<ScannedTask> ProcScanner::Scan() {
  std::vector<ScannedTask> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  char path[96];
  while (dirent* d = readdir(proc)) {
    pid_t tgid;
    if (!ParsePidName(d->d_name, &tgid)) continue;
    std::snprintf(path, sizeof path, "/proc/%d/task", tgid);
    DIR* tasks = opendir(path);
    if (tasks == nullptr) continue;  // exited meanwhile
    while (dirent* t = readdir(tasks)) {
      pid_t tid;
      if (!ParsePidName(t->d_name, &tid)) continue;
      std::snprintf(path, sizeof path, "/proc/%d/task/%d/stat", tgid, tid);
      auto stat = ParseProcStat(ReadSmallFile(path));
      if (!stat.ok()) continue;  // exited meanwhile
      // An exited thread (a zombie leader of live threads, say) has had
      // its exit event: it is in no container.
      if (stat->state == 'Z' || stat->state == 'X') continue;
      out.push_back(ScannedTask{tid, tgid, stat->ppid, stat->start_ticks});
    }
    closedir(tasks);
  }
  closedir(proc);
  // Parents start before their children, leaders before their threads.
  std::sort(out.begin(), out.end(), ScanOrder);
  return out;
}

}  // namespace gpc
