#include "control/fd_passing.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gpc {

Result<sockaddr_un> UnixSocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return Err(EINVAL, "empty socket path");
  if (path.size() >= sizeof addr.sun_path) {
    return Err(ENAMETOOLONG, "socket path too long: ", path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

Status SendWithFds(int sock, std::string_view data, std::span<const int> fds) {
  msghdr msg{};
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  if (fds.size() > 8) return Err(EINVAL, "at most 8 fds");
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(errno, "sendmsg");
    if (static_cast<size_t>(n) != data.size()) {
      // The fds went with the first part; the rest is plain data.
      size_t off = static_cast<size_t>(n);
      while (off < data.size()) {
        ssize_t m =
            send(sock, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) return Err(errno, "send");
        off += static_cast<size_t>(m);
      }
    }
    return OkStatus();
  }
}

Result<size_t> ReceiveWithFds(int sock, char* buf, size_t len,
                              std::vector<int>* fds) {
  msghdr msg{};
  iovec iov{buf, len};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Err(errno, "recvmsg");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds->push_back(fd);
    }
  }
  if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
    // Descriptors dropped by the kernel, or a datagram cut short: refuse
    // the whole message.
    for (int fd : *fds) close(fd);
    fds->clear();
    return Err(EMSGSIZE, "message or its descriptors cut short");
  }
  return static_cast<size_t>(n);
}

}  // namespace gpc
