#include "daemon/fd_store_payload.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <vector>

namespace gpc {
namespace {

constexpr uint32_t kFuseInitOpcode = 26;   // FUSE_INIT in <linux/fuse.h>
constexpr size_t kFuseInHeaderBytes = 40;  // sizeof(struct fuse_in_header)

// The next "key value\n" line of `in`, consumed.
std::optional<std::string_view> TakeLine(std::string_view& in,
                                         std::string_view key) {
  size_t nl = in.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view line = in.substr(0, nl);
  if (!line.starts_with(key) || line.size() <= key.size() ||
      line[key.size()] != ' ') {
    return std::nullopt;
  }
  in.remove_prefix(nl + 1);
  return line.substr(key.size() + 1);
}

std::optional<uint64_t> Number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

bool ValidDev(std::string_view dev) {
  size_t colon = dev.find(':');
  return colon != std::string_view::npos && Number(dev.substr(0, colon)) &&
         Number(dev.substr(colon + 1));
}

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' &&
        s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
        s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                               (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Result<MountHandover> ParseMountHandover(std::string_view in) {
  size_t nl = in.find('\n');
  std::string_view first = nl == std::string_view::npos ? in : in.substr(0, nl);
  if (nl == std::string_view::npos ||
      (first != "gpc-mount 1" && first != "gpc-mount 2")) {
    return Err(EINVAL, "not a gpc-mount 1 or 2 record");
  }
  const bool v2 = first == "gpc-mount 2";
  in.remove_prefix(nl + 1);
  MountHandover h;
  auto epoch = TakeLine(in, "epoch");
  if (!epoch || !Number(*epoch)) return Err(EINVAL, "bad epoch line");
  h.epoch = *Number(*epoch);
  auto dev = TakeLine(in, "dev");
  if (!dev || !ValidDev(*dev)) return Err(EINVAL, "bad dev line");
  h.dev = std::string(*dev);
  auto options = TakeLine(in, "options");
  if (!options) return Err(EINVAL, "bad options line");
  h.options = std::string(*options);
  if (v2) {
    auto dir = TakeLine(in, "dir");
    if (!dir || !dir->starts_with('/')) return Err(EINVAL, "bad dir line");
    h.dir = std::string(*dir);
    auto mntns = TakeLine(in, "mntns");
    if (!mntns || !Number(*mntns)) return Err(EINVAL, "bad mntns line");
    h.mntns = *Number(*mntns);
  }
  auto init_len = TakeLine(in, "init");
  if (!init_len || !Number(*init_len)) return Err(EINVAL, "bad init line");
  if (*Number(*init_len) != in.size()) {
    return Err(EINVAL, "init is not ", *init_len, " bytes");
  }
  if (in.size() < kFuseInHeaderBytes) return Err(EINVAL, "init too short");
  uint32_t len, opcode;
  std::memcpy(&len, in.data(), sizeof len);
  std::memcpy(&opcode, in.data() + 4, sizeof opcode);
  if (len != in.size() || opcode != kFuseInitOpcode) {
    return Err(EINVAL, "init is not a FUSE_INIT request");
  }
  h.init_request = std::string(in);
  return h;
}

std::string EncodeMountHandover(const MountHandover& h) {
  // A record that came as version 1 (no dir) goes out as one, so that
  // every parsed record re-encodes to what was parsed.
  if (h.dir.empty()) {
    return StrCat("gpc-mount 1\nepoch ", h.epoch, "\ndev ", h.dev, "\noptions ",
                  h.options, "\ninit ", h.init_request.size(), "\n",
                  h.init_request);
  }
  return StrCat("gpc-mount 2\nepoch ", h.epoch, "\ndev ", h.dev, "\noptions ",
                h.options, "\ndir ", h.dir, "\nmntns ", h.mntns, "\ninit ",
                h.init_request.size(), "\n", h.init_request);
}

std::optional<MountInfoLine> ParseMountInfoLine(std::string_view line) {
  // id parent maj:min root mountpoint options [optional...] - fstype source
  std::vector<std::string_view> f;
  size_t at = 0;
  while (at < line.size()) {
    size_t sp = line.find(' ', at);
    if (sp == std::string_view::npos) sp = line.size();
    if (sp > at) f.push_back(line.substr(at, sp - at));
    at = sp + 1;
  }
  if (f.size() < 8 || !ValidDev(f[2])) return std::nullopt;
  size_t dash = 6;
  while (dash < f.size() && f[dash] != "-") ++dash;
  if (dash + 1 >= f.size()) return std::nullopt;
  return MountInfoLine{std::string(f[2]), Unescape(f[4]),
                       std::string(f[dash + 1])};
}

std::map<std::string, std::string> GpcMountsIn(std::string_view mountinfo) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at < mountinfo.size()) {
    size_t nl = mountinfo.find('\n', at);
    if (nl == std::string_view::npos) nl = mountinfo.size();
    auto m = ParseMountInfoLine(mountinfo.substr(at, nl - at));
    if (m && m->fstype == "fuse.gpc") out[m->dev] = m->mountpoint;
    at = nl + 1;
  }
  return out;
}

std::optional<std::string> TopFuseMountDev(const std::string& dir,
                                           std::string_view fstype) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::optional<std::string> top;
  // Later lines are mounted later: the last one at `dir` is on top.
  while (std::getline(in, line)) {
    auto m = ParseMountInfoLine(line);
    if (!m || m->mountpoint != dir) continue;
    bool wanted =
        fstype.empty() ? m->fstype.starts_with("fuse") : m->fstype == fstype;
    top = wanted ? std::optional(m->dev) : std::nullopt;
  }
  return top;
}

Result<uint64_t> MountNamespaceOf(pid_t pid) {
  std::string path = pid == 0 ? std::string("/proc/self/ns/mnt")
                              : StrCat("/proc/", pid, "/ns/mnt");
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Err(errno, path);
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace gpc
