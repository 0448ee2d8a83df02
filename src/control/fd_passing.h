// Unix sockets: addresses, and descriptors passed over them (SCM_RIGHTS):
// `gpc exec` hands its seccomp listener to the gate holder and gpcd, gpcd
// hands FUSE connections to gpc-fdstore and gets them back after a restart.
#pragma once

#include <sys/un.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace gpc {

// The address of the AF_UNIX socket at `path`: EINVAL for an empty path,
// ENAMETOOLONG when it does not fit sun_path.
Result<sockaddr_un> UnixSocketAddress(const std::string& path);

// sendmsg of `data` with at most 8 `fds` attached (MSG_NOSIGNAL: a peer
// that went away is EPIPE, not SIGPIPE). On a stream socket the rest of a
// partial send follows as plain data.
Status SendWithFds(int sock, std::string_view data, std::span<const int> fds);
// recvmsg into `buf`; received fds (close-on-exec) are appended to `fds`.
// Returns the byte count (0 at end of stream). EMSGSIZE, with no fds kept,
// when the kernel dropped descriptors or cut a datagram short.
Result<size_t> ReceiveWithFds(int sock, char* buf, size_t len,
                              std::vector<int>* fds);

}  // namespace gpc
