// Fuzzes the /proc parsers (linux/proc_files.h): they never crash, fail
// only with EINVAL or ERANGE (ENOENT for a socket not listed) and a
// message, and a successful parse is sane and stable (parsing a rebuilt
// text gives the same fields). Any violation abort()s so libFuzzer (or the
// corpus replay) reports it.
//
// The same input goes to every parser.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "linux/proc_files.h"

namespace {

constexpr size_t kMaxInput = 8192;

[[noreturn]] void Fail(const char* what, std::string_view text) {
  gpc::fuzz::Fail("proc_files_fuzz", what, text);
}

#define CHECK_PROP(cond, text)      \
  do {                              \
    if (!(cond)) Fail(#cond, text); \
  } while (0)

template <typename T>
void CheckFailure(const gpc::Result<T>& r, std::string_view text) {
  if (r.ok()) return;
  CHECK_PROP(r.code() == EINVAL || r.code() == ERANGE, text);
  CHECK_PROP(!r.error().message().empty(), text);
}

void CheckStat(std::string_view text) {
  gpc::Result<gpc::ProcStat> r = gpc::ParseProcStat(text);
  CheckFailure(r, text);
  if (!r.ok()) return;
  const gpc::ProcStat& st = *r;
  CHECK_PROP(st.pid > 0, text);
  CHECK_PROP(st.ppid >= 0, text);
  CHECK_PROP(st.processor >= 0, text);
  CHECK_PROP(st.state != ' ' && st.state != '\n' && st.state != '\t', text);
  // The comm sits between "PID (" and the last ')' of the text.
  CHECK_PROP(st.comm.size() < text.size(), text);
  CHECK_PROP(text.find(st.comm) != std::string_view::npos, text);
  // The comm cannot hide the rest: a line rebuilt from the fields parses
  // back to the same fields, whatever the comm holds.
  std::string again = std::to_string(st.pid) + " (" + st.comm + ") " +
                      st.state + " " + std::to_string(st.ppid);
  for (int f = 5; f <= 39; ++f) {
    again += ' ';
    switch (f) {
      case 9:
        again += std::to_string(st.flags);
        break;
      case 14:
        again += std::to_string(st.utime_ticks);
        break;
      case 15:
        again += std::to_string(st.stime_ticks);
        break;
      case 22:
        again += std::to_string(st.start_ticks);
        break;
      case 39:
        again += std::to_string(st.processor);
        break;
      default:
        again += "-1";
        break;
    }
  }
  again += '\n';
  gpc::Result<gpc::ProcStat> r2 = gpc::ParseProcStat(again);
  CHECK_PROP(r2.ok(), again);
  CHECK_PROP(r2->pid == st.pid && r2->comm == st.comm, again);
  CHECK_PROP(r2->state == st.state && r2->ppid == st.ppid, again);
  CHECK_PROP(r2->utime_ticks == st.utime_ticks, again);
  CHECK_PROP(r2->flags == st.flags, again);
  CHECK_PROP(r2->stime_ticks == st.stime_ticks, again);
  CHECK_PROP(r2->start_ticks == st.start_ticks, again);
  CHECK_PROP(r2->processor == st.processor, again);
}

void CheckStatus(std::string_view text) {
  gpc::Result<gpc::ProcStatus> r = gpc::ParseProcStatus(text);
  CheckFailure(r, text);
  if (!r.ok()) return;
  const gpc::ProcStatus& st = *r;
  CHECK_PROP(st.tgid >= 0 && st.pid >= 0 && st.ppid >= 0, text);
  // Every required key is in the text.
  for (const char* key : {"Tgid:", "Pid:", "PPid:", "Uid:", "Gid:"}) {
    CHECK_PROP(text.find(key) != std::string_view::npos, text);
  }
  // Appending more lines (the kernel adds new ones over time) changes
  // nothing.
  std::string more(text);
  more += "\nNewKey:\tvalue\nTgid:\t0x\n";
  gpc::Result<gpc::ProcStatus> r2 = gpc::ParseProcStatus(more);
  CHECK_PROP(r2.ok(), more);
  CHECK_PROP(r2->tgid == st.tgid && r2->pid == st.pid, more);
  CHECK_PROP(r2->ppid == st.ppid, more);
  for (int i = 0; i < 4; ++i) {
    CHECK_PROP(r2->uid[i] == st.uid[i] && r2->gid[i] == st.gid[i], more);
  }
}

void CheckSchedstat(std::string_view text) {
  gpc::Result<uint64_t> r = gpc::ParseSchedstatRuntime(text);
  CheckFailure(r, text);
  if (!r.ok()) return;
  // The first field is the run time, in decimal (leading zeros allowed).
  std::string_view rest = text;
  auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
  };
  while (!rest.empty() && blank(rest[0])) rest.remove_prefix(1);
  size_t end = 0;
  while (end < rest.size() && !blank(rest[end])) ++end;
  std::string_view first = rest.substr(0, end);
  while (first.size() > 1 && first[0] == '0') first.remove_prefix(1);
  CHECK_PROP(first == std::to_string(*r), text);
}

void CheckNetlinkDrops(std::string_view text) {
  // The inode looked for comes from the input's length, so both a found
  // and a missing socket are reached.
  uint64_t inode = text.size() % 100;
  gpc::Result<uint64_t> r = gpc::ParseNetlinkDrops(text, inode);
  if (!r.ok()) {
    CHECK_PROP(r.code() == EINVAL || r.code() == ERANGE || r.code() == ENOENT,
               text);
    CHECK_PROP(!r.error().message().empty(), text);
    return;
  }
  // A found socket's inode and drop count are both written in the text.
  CHECK_PROP(text.find(std::to_string(inode)) != std::string_view::npos, text);
  CHECK_PROP(text.find(std::to_string(*r)) != std::string_view::npos, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckStat(text);
  CheckStatus(text);
  CheckSchedstat(text);
  CheckNetlinkDrops(text);
  return 0;
}
