#include "control/control_protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace gpc {

bool ValidMountDev(std::string_view dev) {
  size_t colon = dev.find(':');
  auto number = [](std::string_view s) {
    return !s.empty() && s.size() <= 10 &&
           std::all_of(s.begin(), s.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
  };
  return colon != std::string_view::npos && number(dev.substr(0, colon)) &&
         number(dev.substr(colon + 1));
}

Result<ControlRequest> ParseControlRequest(std::string_view line) {
  if (line.size() > kMaxRequestBytes) {
    return Err(E2BIG, "request of ", line.size(), " bytes");
  }
  nlohmann::json j = nlohmann::json::parse(line, nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Err(EINVAL, "request is not a JSON object");
  }
  auto string_field = [&](const char* name, std::string* out,
                          ControlField shape) {
    if (shape == ControlField::kIgnored) return true;
    auto it = j.find(name);
    if (it == j.end()) return shape != ControlField::kRequired;
    if (!it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  std::string op_name;
  if (!string_field("op", &op_name, ControlField::kRequired)) {
    return Err(EINVAL, "request needs \"op\"");
  }
  std::optional<ControlOp> op = ControlOpNamed(op_name);
  if (!op) return Err(EINVAL, "unknown op '", op_name, "'");
  const ControlOpSpec& spec = SpecOf(*op);
  ControlRequest r;
  r.op = *op;
  if (!string_field("dev", &r.dev, ControlField::kOptional)) {
    return Err(EINVAL, "\"dev\" must be a string");
  }
  if (!r.dev.empty() && !ValidMountDev(r.dev)) {
    return Err(EINVAL, "dev must be MAJOR:MINOR, not '", r.dev, "'");
  }
  if (spec.error != ControlField::kIgnored) {
    // The caller's mount(2) failed with this errno (0: it succeeded).
    auto it = j.find("errno");
    if (it != j.end()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
          it->get<int64_t>() > 4095) {
        return Err(EINVAL, spec.name, ": \"errno\" must be 0..4095");
      }
      r.error = static_cast<int>(it->get<int64_t>());
    } else if (spec.error == ControlField::kRequired) {
      return Err(EINVAL, spec.name, " needs \"errno\"");
    }
    // A report names the mount made, or why none was.
    if (r.error == 0 && r.dev.empty()) {
      return Err(EINVAL, spec.name, " needs \"dev\" or a nonzero \"errno\"");
    }
  }
  if (!string_field("dir", &r.dir, spec.dir)) {
    return Err(EINVAL, spec.name, " needs a string \"dir\"");
  }
  if (!string_field("options", &r.options, spec.options)) {
    return Err(EINVAL, spec.name, " needs a string \"options\"");
  }
  if (spec.pid != ControlField::kIgnored) {
    // gate: the supervised task whose fork listener comes with the
    // request; task: the task asked about.
    auto it = j.find("pid");
    if (it != j.end() || spec.pid == ControlField::kRequired) {
      if (it == j.end() || !it->is_number_integer() ||
          it->get<int64_t>() <= 0 ||
          it->get<int64_t>() > std::numeric_limits<pid_t>::max()) {
        return Err(EINVAL, spec.name, " needs a positive integer \"pid\"");
      }
      r.pid = static_cast<pid_t>(it->get<int64_t>());
    }
  }
  if (spec.dir == ControlField::kRequired &&
      (r.dir.empty() || r.dir[0] != '/')) {
    return Err(EINVAL, "dir must be an absolute path");
  }
  return r;
}

std::string FormatControlRequest(const ControlRequest& request) {
  const ControlOpSpec& spec = SpecOf(request.op);
  // nlohmann::json objects keep their keys sorted: the line's bytes depend
  // only on which fields are written, not on the order here.
  nlohmann::json j = {{"op", spec.name}};
  if (!request.dir.empty()) j["dir"] = request.dir;
  if (request.pid != 0) j["pid"] = request.pid;
  if (!request.dev.empty()) j["dev"] = request.dev;
  if (request.error != 0) j["errno"] = request.error;
  if (!request.options.empty() || spec.options == ControlField::kRequired) {
    j["options"] = request.options;
  }
  return j.dump();
}

std::string OkReply() { return OkReply(nlohmann::json::object()); }

std::string OkReply(nlohmann::json fields) {
  fields["ok"] = true;
  return fields.dump();
}

std::string ErrorReply(const Error& error) {
  return nlohmann::json{{"ok", false},
                        {"errno", error.code()},
                        {"error", ErrnoName(error.code())},
                        {"message", error.message()}}
      .dump();
}

Result<int> ConnectToDaemon(const std::string& socket_path) {
  GPC_ASSIGN_OR_RETURN(sockaddr_un addr, UnixSocketAddress(socket_path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err(errno, "socket");
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return Err(err, "connecting to gpcd at ", socket_path);
  }
  return fd;
}

Status SendAll(int fd, std::string_view data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Err(n < 0 ? errno : EPIPE, "writing to gpcd");
    off += static_cast<size_t>(n);
  }
  return OkStatus();
}

Result<std::string> ReadLine(int fd, int timeout_ms) {
  std::string line;
  char buf[4096];
  while (line.find('\n') == std::string::npos) {
    if (timeout_ms >= 0) {
      pollfd p{fd, POLLIN, 0};
      int ready = poll(&p, 1, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return Err(ETIMEDOUT, "gpcd did not answer");
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Err(EPROTO, "gpcd closed the connection");
    line.append(buf, static_cast<size_t>(n));
  }
  line.resize(line.find('\n'));
  return line;
}

Result<std::string> CallDaemon(const std::string& socket_path,
                               const ControlRequest& request) {
  GPC_ASSIGN_OR_RETURN(int fd, ConnectToDaemon(socket_path));
  Result<std::string> reply = [&]() -> Result<std::string> {
    GPC_RETURN_IF_ERROR(SendAll(fd, FormatControlRequest(request) + "\n"));
    return ReadLine(fd);
  }();
  close(fd);
  if (reply.ok() && reply->empty()) return Err(EPROTO, "empty reply from gpcd");
  return reply;
}

}  // namespace gpc
