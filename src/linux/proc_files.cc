#include "linux/proc_files.h"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

namespace gpc {

namespace {

// proc(5) separates fields with single spaces and ends the file with '\n';
// any ASCII blank is accepted as a separator.
bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

// Splits off the next blank-separated token of `rest` (empty at the end).
std::string_view NextToken(std::string_view& rest) {
  size_t begin = 0;
  while (begin < rest.size() && IsBlank(rest[begin])) ++begin;
  size_t end = begin;
  while (end < rest.size() && !IsBlank(rest[end])) ++end;
  std::string_view token = rest.substr(begin, end - begin);
  rest.remove_prefix(end);
  return token;
}

// A decimal number in [0, max]: digits only (no sign, no base prefix, no
// whitespace), so the result never depends on the locale.
Result<uint64_t> ParseDecimal(std::string_view token, uint64_t max,
                              std::string_view what) {
  if (token.empty()) return Err(EINVAL, "missing ", what);
  for (char c : token) {
    if (c < '0' || c > '9') {
      return Err(EINVAL, "bad ", what, " \"", token, "\"");
    }
  }
  uint64_t value = 0;
  auto [ptr, ec] =
      std::from_chars(token.data(), token.data() + token.size(), value, 10);
  if (ec == std::errc::result_out_of_range || value > max) {
    return Err(ERANGE, what, " out of range: ", token);
  }
  if (ec != std::errc() || ptr != token.data() + token.size()) {
    return Err(EINVAL, "bad ", what, " \"", token, "\"");
  }
  return value;
}

constexpr uint64_t kPidMax =
    static_cast<uint64_t>(std::numeric_limits<pid_t>::max());
constexpr uint64_t kIdMax =
    static_cast<uint64_t>(std::numeric_limits<uid_t>::max());
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kIntMax =
    static_cast<uint64_t>(std::numeric_limits<int>::max());

// Parses the four ids of a "Uid:" or "Gid:" line (real, effective, saved,
// filesystem); exactly four are required.
template <typename Id>
Status ParseIdQuad(std::string_view value, Id (&out)[4],
                   std::string_view what) {
  for (int i = 0; i < 4; ++i) {
    std::string_view token = NextToken(value);
    if (token.empty()) {
      return Err(EINVAL, what, " has ", i, " ids, want 4");
    }
    GPC_ASSIGN_OR_RETURN(uint64_t id, ParseDecimal(token, kIdMax, what));
    out[i] = static_cast<Id>(id);
  }
  if (!NextToken(value).empty()) {
    return Err(EINVAL, what, " has more than 4 ids");
  }
  return OkStatus();
}

}  // namespace

Result<ProcStat> ParseProcStat(std::string_view text) {
  ProcStat st;
  // "PID (COMM) STATE ...": comm may hold anything, ')' and newlines
  // included, so it ends at the LAST ')' of the text.
  size_t open = text.find(" (");
  if (open == std::string_view::npos) {
    return Err(EINVAL, "stat: no \" (\" after the pid");
  }
  size_t close = text.rfind(')');
  if (close == std::string_view::npos || close < open + 2) {
    return Err(EINVAL, "stat: no ')' closing the comm");
  }
  GPC_ASSIGN_OR_RETURN(uint64_t pid,
                       ParseDecimal(text.substr(0, open), kPidMax, "stat pid"));
  if (pid == 0) return Err(EINVAL, "stat: pid 0");
  st.pid = static_cast<pid_t>(pid);
  st.comm = std::string(text.substr(open + 2, close - (open + 2)));

  std::string_view rest = text.substr(close + 1);
  if (rest.empty() || rest[0] != ' ') {
    return Err(EINVAL, "stat: no space after the comm");
  }
  // Field 3 onwards; fields[i] is field i + 3.
  constexpr int kFirst = 3;
  constexpr int kLast = 39;  // processor, the last field gpc reads
  std::string_view fields[kLast - kFirst + 1];
  for (int f = kFirst; f <= kLast; ++f) {
    fields[f - kFirst] = NextToken(rest);
    if (fields[f - kFirst].empty()) {
      return Err(EINVAL, "stat: missing field ", f, " (have ", f - 1, ")");
    }
  }
  auto field = [&](int f) { return fields[f - kFirst]; };

  std::string_view state = field(3);
  if (state.size() != 1) {
    return Err(EINVAL, "stat: bad state \"", state, "\"");
  }
  st.state = state[0];
  GPC_ASSIGN_OR_RETURN(uint64_t ppid,
                       ParseDecimal(field(4), kPidMax, "stat ppid"));
  st.ppid = static_cast<pid_t>(ppid);
  GPC_ASSIGN_OR_RETURN(st.flags, ParseDecimal(field(9), kU64Max, "stat flags"));
  GPC_ASSIGN_OR_RETURN(st.utime_ticks,
                       ParseDecimal(field(14), kU64Max, "stat utime"));
  GPC_ASSIGN_OR_RETURN(st.stime_ticks,
                       ParseDecimal(field(15), kU64Max, "stat stime"));
  GPC_ASSIGN_OR_RETURN(st.start_ticks,
                       ParseDecimal(field(22), kU64Max, "stat starttime"));
  GPC_ASSIGN_OR_RETURN(uint64_t cpu,
                       ParseDecimal(field(39), kIntMax, "stat processor"));
  st.processor = static_cast<int>(cpu);
  return st;
}

Result<ProcStatus> ParseProcStatus(std::string_view text) {
  ProcStatus st;
  enum : unsigned {
    kTgid = 1,
    kPid = 2,
    kPPid = 4,
    kUid = 8,
    kGid = 16,
    kAll = 31,
  };
  unsigned seen = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);

    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    // The first occurrence of a key counts; the kernel prints each once.
    if (key == "Tgid" && !(seen & kTgid)) {
      std::string_view v = NextToken(value);
      GPC_ASSIGN_OR_RETURN(uint64_t n, ParseDecimal(v, kPidMax, "status Tgid"));
      if (!NextToken(value).empty()) return Err(EINVAL, "status: junk Tgid");
      st.tgid = static_cast<pid_t>(n);
      seen |= kTgid;
    } else if (key == "Pid" && !(seen & kPid)) {
      std::string_view v = NextToken(value);
      GPC_ASSIGN_OR_RETURN(uint64_t n, ParseDecimal(v, kPidMax, "status Pid"));
      if (!NextToken(value).empty()) return Err(EINVAL, "status: junk Pid");
      st.pid = static_cast<pid_t>(n);
      seen |= kPid;
    } else if (key == "PPid" && !(seen & kPPid)) {
      std::string_view v = NextToken(value);
      GPC_ASSIGN_OR_RETURN(uint64_t n, ParseDecimal(v, kPidMax, "status PPid"));
      if (!NextToken(value).empty()) return Err(EINVAL, "status: junk PPid");
      st.ppid = static_cast<pid_t>(n);
      seen |= kPPid;
    } else if (key == "Uid" && !(seen & kUid)) {
      GPC_RETURN_IF_ERROR(ParseIdQuad(value, st.uid, "status Uid"));
      seen |= kUid;
    } else if (key == "Gid" && !(seen & kGid)) {
      GPC_RETURN_IF_ERROR(ParseIdQuad(value, st.gid, "status Gid"));
      seen |= kGid;
    }
  }
  if (seen != kAll) {
    const char* missing = !(seen & kTgid)   ? "Tgid"
                          : !(seen & kPid)  ? "Pid"
                          : !(seen & kPPid) ? "PPid"
                          : !(seen & kUid)  ? "Uid"
                                            : "Gid";
    return Err(EINVAL, "status: missing ", missing, ": line");
  }
  return st;
}

Result<uint64_t> ParseSchedstatRuntime(std::string_view text) {
  std::string_view rest = text;
  uint64_t values[3];
  static const char* const kNames[3] = {
      "schedstat run time", "schedstat wait time", "schedstat timeslices"};
  for (int i = 0; i < 3; ++i) {
    std::string_view token = NextToken(rest);
    GPC_ASSIGN_OR_RETURN(values[i], ParseDecimal(token, kU64Max, kNames[i]));
  }
  if (!NextToken(rest).empty()) {
    return Err(EINVAL, "schedstat: more than 3 fields");
  }
  return values[0];
}

Result<uint64_t> ParseNetlinkDrops(std::string_view text, uint64_t inode) {
  size_t eol = text.find('\n');
  std::string_view header = text.substr(0, eol);
  std::string_view rest =
      eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
  int drops_col = -1;
  int inode_col = -1;
  int col = 0;
  for (std::string_view name = NextToken(header); !name.empty();
       name = NextToken(header), ++col) {
    if (name == "Drops") drops_col = col;
    if (name == "Inode") inode_col = col;
  }
  if (drops_col < 0 || inode_col < 0) {
    return Err(EINVAL, "netlink: no Drops or Inode column in the header");
  }
  while (!rest.empty()) {
    eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view()
                                         : rest.substr(eol + 1);
    std::string_view drops;
    std::string_view ino;
    col = 0;
    for (std::string_view tok = NextToken(line); !tok.empty();
         tok = NextToken(line), ++col) {
      if (col == drops_col) drops = tok;
      if (col == inode_col) ino = tok;
    }
    if (ino.empty() || drops.empty()) continue;
    auto parsed_inode = ParseDecimal(ino, kU64Max, "netlink inode");
    if (!parsed_inode.ok() || *parsed_inode != inode) continue;
    return ParseDecimal(drops, kU64Max, "netlink drops");
  }
  return Err(ENOENT, "netlink: no socket with inode ", inode);
}

}  // namespace gpc
