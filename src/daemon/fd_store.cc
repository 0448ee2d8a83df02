#include "daemon/fd_store.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <span>
#include <thread>

#include "control/fd_passing.h"

namespace gpc {
namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "gpc-fdstore: %s\n", line.c_str());
}

void PutU16(std::string& out, uint16_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void PutU32(std::string& out, uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T Get(std::string_view bytes, size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

bool NeedsName(FdStoreOp op) {
  return op == FdStoreOp::kPut || op == FdStoreOp::kDrop ||
         op == FdStoreOp::kEntry;
}

// One message with at most one descriptor; 0 or the errno (EPIPE for a
// peer that went away).
int SendMessage(int sock, const std::string& bytes, int fd) {
  std::span<const int> fds;
  if (fd >= 0) fds = std::span<const int>(&fd, 1);
  Status s = SendWithFds(sock, bytes, fds);
  return s.ok() ? 0 : s.code();
}

// Receives one message and the descriptors that came with it (all
// close-on-exec). 0 bytes with no error = the peer hung up. A message cut
// short or descriptors lost are EMSGSIZE.
int ReceiveMessage(int sock, std::string* bytes, std::vector<UniqueFd>* fds) {
  bytes->resize(kFdStoreMaxMessage + 1);
  std::vector<int> received;
  auto n = ReceiveWithFds(sock, bytes->data(), bytes->size(), &received);
  for (int fd : received) fds->emplace_back(fd);
  if (!n.ok()) return n.code();
  bytes->resize(*n);
  return 0;
}

Result<pid_t> CheckPeer(int sock, uid_t self) {
  ucred cred{};
  socklen_t len = sizeof cred;
  // Without the peer's credentials nothing is allowed: a zeroed ucred
  // would read as root.
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      len != sizeof cred) {
    return Err(EACCES, "no peer credentials");
  }
  if (!FdStorePeerAllowed(cred.uid, self)) {
    return Err(EACCES, "peer uid ", cred.uid, " refused");
  }
  return cred.pid;
}

}  // namespace

// ---- wire format ------------------------------------------------------------

Result<FdStoreMessage> ParseFdStoreMessage(std::string_view bytes) {
  if (bytes.size() > kFdStoreMaxMessage) {
    return Err(EMSGSIZE, "message of ", bytes.size(), " bytes");
  }
  if (bytes.size() < kFdStoreHeaderBytes) {
    return Err(EINVAL, "short message (", bytes.size(), " bytes)");
  }
  if (Get<uint32_t>(bytes, 0) != kFdStoreMagic) return Err(EINVAL, "bad magic");
  auto op_byte = Get<uint8_t>(bytes, 4);
  if (op_byte < static_cast<uint8_t>(FdStoreOp::kPut) ||
      op_byte > static_cast<uint8_t>(FdStoreOp::kEnd)) {
    return Err(EINVAL, "unknown op ", static_cast<int>(op_byte));
  }
  if (Get<uint8_t>(bytes, 5) != 0) return Err(EINVAL, "reserved byte set");
  size_t name_len = Get<uint16_t>(bytes, 6);
  size_t payload_len = Get<uint32_t>(bytes, 8);
  if (name_len > kFdStoreMaxName || payload_len > kFdStoreMaxPayload) {
    return Err(EMSGSIZE, "name or payload too long");
  }
  if (kFdStoreHeaderBytes + name_len + payload_len != bytes.size()) {
    return Err(EINVAL, "lengths do not add up");
  }
  FdStoreMessage m;
  m.op = static_cast<FdStoreOp>(op_byte);
  m.name = std::string(bytes.substr(kFdStoreHeaderBytes, name_len));
  m.payload =
      std::string(bytes.substr(kFdStoreHeaderBytes + name_len, payload_len));
  m.status = Get<uint32_t>(bytes, 12);
  if (NeedsName(m.op)) {
    if (m.name.empty() || m.name.find('\0') != std::string::npos) {
      return Err(EINVAL, "bad entry name");
    }
  } else if (!m.name.empty() || !m.payload.empty()) {
    return Err(EINVAL, "unexpected name or payload");
  }
  if (m.op == FdStoreOp::kDrop && !m.payload.empty()) {
    return Err(EINVAL, "DROP with a payload");
  }
  if (m.op != FdStoreOp::kReply && m.status != 0) {
    return Err(EINVAL, "status outside a reply");
  }
  return m;
}

std::string EncodeFdStoreMessage(const FdStoreMessage& m) {
  std::string out;
  out.reserve(kFdStoreHeaderBytes + m.name.size() + m.payload.size());
  PutU32(out, kFdStoreMagic);
  out += static_cast<char>(m.op);
  out += '\0';
  PutU16(out, static_cast<uint16_t>(m.name.size()));
  PutU32(out, static_cast<uint32_t>(m.payload.size()));
  PutU32(out, m.status);
  out += m.name;
  out += m.payload;
  return out;
}

bool FdStorePeerAllowed(uid_t peer, uid_t self) {
  return peer == 0 || peer == self;
}

std::string FdStoreSocketFor(const std::string& control_socket) {
  size_t slash = control_socket.rfind('/');
  std::string dir = slash == std::string::npos ? "."
                    : slash == 0               ? "/"
                                 : control_socket.substr(0, slash);
  return dir == "/" ? "/gpcd-fdstore.sock" : dir + "/gpcd-fdstore.sock";
}

// ---- client -----------------------------------------------------------------

Result<std::unique_ptr<FdStoreClient>> FdStoreClient::Connect(
    const std::string& socket_path) {
  GPC_ASSIGN_OR_RETURN(sockaddr_un addr, UnixSocketAddress(socket_path));
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err(errno, "socket");
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return Err(err, "connect to ", socket_path);
  }
  // Never wait for a stopped or wedged store for ever.
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  auto pid = CheckPeer(fd, geteuid());
  if (!pid.ok()) {
    close(fd);
    return std::move(pid).error();
  }
  return std::unique_ptr<FdStoreClient>(new FdStoreClient(fd, *pid));
}

Result<std::unique_ptr<FdStoreClient>> FdStoreClient::ConnectOrStart(
    const std::string& socket_path, const std::string& binary,
    std::chrono::milliseconds deadline) {
  auto c = Connect(socket_path);
  if (c.ok() || (c.code() != ENOENT && c.code() != ECONNREFUSED)) return c;
  // Nobody listens: what is there is a dead store's socket file.
  if (c.code() == ECONNREFUSED) unlink(socket_path.c_str());
  if (access(binary.c_str(), X_OK) != 0) return Err(errno, binary);
  // Everything the children use is made before fork(): a multi-threaded
  // parent's child may only make async-signal-safe calls.
  std::vector<std::string> args = {binary, "--socket", socket_path};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  struct stat err_st;
  bool stderr_is_pipe = fstat(2, &err_st) == 0 && S_ISFIFO(err_st.st_mode);
  pid_t child = fork();
  if (child < 0) return Err(errno, "fork");
  if (child == 0) {
    // Its own session, then a grandchild reparented to init: a kill of
    // gpcd (or of its process group) never reaches the store.
    setsid();
    if (fork() != 0) _exit(0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    // No stdin/stdout of gpcd's caller (a test runner waits for its pipes
    // to close); stderr (gpcd's log) unless it is a pipe too.
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      if (stderr_is_pipe) dup2(null, 2);
    }
    syscall(SYS_close_range, 3U, ~0U, 0U);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    c = Connect(socket_path);
    if (c.ok() || (c.code() != ENOENT && c.code() != ECONNREFUSED)) return c;
    if (std::chrono::steady_clock::now() > until) {
      return Err(ETIMEDOUT, binary, " did not answer at ", socket_path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

FdStoreClient::~FdStoreClient() { close(fd_); }

Status FdStoreClient::Send(const FdStoreMessage& m, int fd) {
  if (int err = SendMessage(fd_, EncodeFdStoreMessage(m), fd)) {
    return Err(err, "send to gpc-fdstore");
  }
  return OkStatus();
}

Result<FdStoreMessage> FdStoreClient::Receive(UniqueFd* fd) {
  std::string bytes;
  std::vector<UniqueFd> fds;
  if (int err = ReceiveMessage(fd_, &bytes, &fds)) {
    return Err(err == EAGAIN ? ETIMEDOUT : err, "receive from gpc-fdstore");
  }
  if (bytes.empty()) return Err(EPIPE, "gpc-fdstore hung up");
  GPC_ASSIGN_OR_RETURN(FdStoreMessage m, ParseFdStoreMessage(bytes));
  size_t want = m.op == FdStoreOp::kEntry ? 1 : 0;
  if (fds.size() != want) {
    return Err(EPROTO, "gpc-fdstore sent ", fds.size(), " descriptors");
  }
  if (want == 1 && fd != nullptr) *fd = std::move(fds[0]);
  return m;
}

Status FdStoreClient::Call(const FdStoreMessage& m, int fd) {
  GPC_RETURN_IF_ERROR(Send(m, fd));
  GPC_ASSIGN_OR_RETURN(FdStoreMessage reply, Receive(nullptr));
  if (reply.op != FdStoreOp::kReply) {
    return Err(EPROTO, "gpc-fdstore answered op ", static_cast<int>(reply.op));
  }
  if (reply.status != 0) {
    return Err(static_cast<int>(reply.status), "gpc-fdstore refused");
  }
  return OkStatus();
}

Status FdStoreClient::Put(std::string_view name, std::string_view payload,
                          int fd) {
  MutexLock l(mu_);
  return Call({FdStoreOp::kPut, std::string(name), std::string(payload), 0},
              fd);
}

Status FdStoreClient::Drop(std::string_view name) {
  MutexLock l(mu_);
  return Call({FdStoreOp::kDrop, std::string(name), {}, 0}, -1);
}

Status FdStoreClient::Bye() {
  MutexLock l(mu_);
  return Call({FdStoreOp::kBye, {}, {}, 0}, -1);
}

Result<std::vector<FdStoreEntry>> FdStoreClient::List() {
  MutexLock l(mu_);
  GPC_RETURN_IF_ERROR(Send({FdStoreOp::kList, {}, {}, 0}, -1));
  std::vector<FdStoreEntry> out;
  for (;;) {
    UniqueFd fd;
    GPC_ASSIGN_OR_RETURN(FdStoreMessage m, Receive(&fd));
    if (m.op == FdStoreOp::kEnd) return out;
    if (m.op != FdStoreOp::kEntry) {
      return Err(EPROTO, "gpc-fdstore answered op ", static_cast<int>(m.op));
    }
    out.push_back({std::move(m.name), std::move(m.payload), std::move(fd)});
  }
}

// ---- server -----------------------------------------------------------------

Result<int> BindFdStoreSocket(const std::string& socket_path) {
  GPC_ASSIGN_OR_RETURN(sockaddr_un addr, UnixSocketAddress(socket_path));
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err(errno, "socket");
  // Only a store that answers owns the path; a file no one listens on is
  // a dead store's.
  int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    bool answers =
        connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(probe);
    if (answers) {
      close(fd);
      return Err(EADDRINUSE, "a store answers at ", socket_path);
    }
  }
  unlink(socket_path.c_str());
  // 0600 from the start: no window in which another user could connect.
  mode_t old = umask(077);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  umask(old);
  if (rc != 0 || listen(fd, 16) != 0) {
    if (rc == 0) err = errno;
    close(fd);
    return Err(err, "bind ", socket_path);
  }
  chmod(socket_path.c_str(), 0600);
  return fd;
}

void ServeFdStore(int listen_fd, int stop_fd,
                  const FdStoreServeOptions& options) {
  struct stat bound {};
  bool have_bound = !options.socket_path.empty() &&
                    stat(options.socket_path.c_str(), &bound) == 0;
  struct Held {
    std::string payload;
    UniqueFd fd;
  };
  std::map<std::string, Held, std::less<>> held;
  std::vector<int> clients;
  bool ever_connected = false;
  bool bye = false;
  const auto start = std::chrono::steady_clock::now();

  auto reply = [](int c, uint32_t status) {
    return SendMessage(
               c, EncodeFdStoreMessage({FdStoreOp::kReply, {}, {}, status}),
               -1) == 0;
  };
  // Handles one message of client `c`; false = drop the client.
  auto handle = [&](int c) {
    std::string bytes;
    std::vector<UniqueFd> fds;
    int err = ReceiveMessage(c, &bytes, &fds);
    if (err == EAGAIN) return true;
    if (err == 0 && bytes.empty()) return false;  // hung up
    if (err != 0) return reply(c, static_cast<uint32_t>(err));
    auto m = ParseFdStoreMessage(bytes);
    if (!m.ok()) return reply(c, static_cast<uint32_t>(m.code()));
    bool wants_fd = m->op == FdStoreOp::kPut;
    if (fds.size() != (wants_fd ? 1u : 0u)) return reply(c, EBADF);
    switch (m->op) {
      case FdStoreOp::kPut: {
        // Replaces an entry of that name; the old descriptor closes.
        held[m->name] = Held{std::move(m->payload), std::move(fds[0])};
        return reply(c, 0);
      }
      case FdStoreOp::kDrop: {
        auto it = held.find(m->name);
        if (it == held.end()) return reply(c, ENOENT);
        held.erase(it);
        return reply(c, 0);
      }
      case FdStoreOp::kList: {
        for (const auto& [name, h] : held) {
          std::string e =
              EncodeFdStoreMessage({FdStoreOp::kEntry, name, h.payload, 0});
          if (SendMessage(c, e, h.fd.get()) != 0) return false;
        }
        return SendMessage(c,
                           EncodeFdStoreMessage({FdStoreOp::kEnd, {}, {}, 0}),
                           -1) == 0;
      }
      case FdStoreOp::kBye:
        bye = true;
        return reply(c, 0);
      default:
        return reply(c, EINVAL);  // a store's own op from a client
    }
  };

  for (;;) {
    if (held.empty() && (bye || (ever_connected && clients.empty()))) break;
    int timeout_ms = -1;
    if (!ever_connected) {
      auto left = options.first_client_within -
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start);
      if (left.count() <= 0) {
        Log("no client came: exiting");
        break;
      }
      timeout_ms = static_cast<int>(left.count());
    }
    std::vector<pollfd> pfds = {{listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    for (int c : clients) pfds.push_back({c, POLLIN, 0});
    int n = poll(pfds.data(), pfds.size(), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(StrCat("poll: ", ErrnoName(errno)));
      break;
    }
    if (pfds[1].revents & POLLIN) {
      if (!held.empty()) {
        Log(StrCat("stopped: closing ", held.size(), " descriptor(s)"));
      }
      break;
    }
    std::vector<int> gone;
    for (size_t i = 2; i < pfds.size(); ++i) {
      if (pfds[i].revents == 0) continue;
      if (!handle(pfds[i].fd)) gone.push_back(pfds[i].fd);
    }
    for (int c : gone) {
      close(c);
      std::erase(clients, c);
    }
    if (pfds[0].revents & POLLIN) {
      int c = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        auto peer = CheckPeer(c, options.self_uid);
        if (!peer.ok()) {
          Log(peer.error().ToString());
          close(c);
        } else {
          timeval tv{1, 0};
          setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
          clients.push_back(c);
          ever_connected = true;
        }
      }
    }
  }
  for (int c : clients) close(c);
  held.clear();
  close(listen_fd);
  // Remove the socket file only if it is still ours (not a newer store's).
  struct stat now {};
  if (have_bound && stat(options.socket_path.c_str(), &now) == 0 &&
      now.st_ino == bound.st_ino && now.st_dev == bound.st_dev) {
    unlink(options.socket_path.c_str());
  }
}

}  // namespace gpc
