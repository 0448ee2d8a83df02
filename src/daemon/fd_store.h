// gpc-fdstore: a tiny root-only process that holds descriptors for gpcd, so
// that a kill -9 of gpcd does not close them.
//
// What it is for: a FUSE connection lives as long as one descriptor of its
// /dev/fuse file is open. gpcd hands the store each mount's descriptor (and
// the bytes a restarted gpcd needs to adopt it); when gpcd dies, the store's
// copy keeps the mounts alive -- requests made meanwhile wait in the kernel
// -- and the restarted gpcd takes the descriptors back (LIST) and serves the
// same mounts again (daemon.cc, docs/architecture.md "Surviving a restart").
//
// The store knows nothing of FUSE: an entry is a name, opaque payload bytes
// and one descriptor. Its socket is SOCK_SEQPACKET, one message per request
// or reply (the wire format below), mode 0600, and every peer is checked
// with SO_PEERCRED: uid 0, or the store's own uid (tests run it
// unprivileged). One thread, one poll loop. It exits
//   - when it holds nothing and either its last client hung up or a client
//     said BYE (gpcd's clean shutdown: drop every entry, then BYE);
//   - on SIGTERM, closing everything: the held mounts' connections then end
//     and their mount points answer ENOTCONN until detached;
//   - when no client connected within `first_client_within` of its start.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"
#include "util/thread_annotations.h"
#include "util/unique_fd.h"

namespace gpc {

// ---- wire format ----------------------------------------------------------
//
// Every message: a 16-byte header (little-endian, host order on one machine)
//   u32 magic "GPFD" | u8 op | u8 zero | u16 name bytes | u32 payload bytes |
//   u32 status (an errno, replies only)
// then the name, then the payload. PUT and ENTRY carry exactly one
// descriptor (SCM_RIGHTS); no other message carries any.
enum class FdStoreOp : uint8_t {
  kPut = 1,    // client: keep `fd` under `name` (replaces one of that name)
  kDrop = 2,   // client: close and forget the entry `name`
  kList = 3,   // client: send every entry (ENTRY...) then END
  kBye = 4,    // client: clean shutdown; exit once nothing is held
  kReply = 5,  // store: the answer to PUT, DROP, BYE (status 0 or an errno)
  kEntry = 6,  // store: one entry of a LIST, with its descriptor
  kEnd = 7,    // store: the end of a LIST
};

constexpr uint32_t kFdStoreMagic = 0x44465047;  // "GPFD"
constexpr size_t kFdStoreHeaderBytes = 16;
constexpr size_t kFdStoreMaxName = 4096;
constexpr size_t kFdStoreMaxPayload = 56 * 1024;
constexpr size_t kFdStoreMaxMessage =
    kFdStoreHeaderBytes + kFdStoreMaxName + kFdStoreMaxPayload;

struct FdStoreMessage {
  FdStoreOp op = FdStoreOp::kReply;
  std::string name;
  std::string payload;
  uint32_t status = 0;
  friend bool operator==(const FdStoreMessage&,
                         const FdStoreMessage&) = default;
};

// EINVAL for a short or inconsistent message, a wrong magic, an unknown op,
// a name or payload a message of that op must not have (PUT, DROP and ENTRY
// need a name without NUL bytes; LIST, BYE, END and REPLY have none);
// EMSGSIZE past the limits above.
Result<FdStoreMessage> ParseFdStoreMessage(std::string_view bytes);
// The bytes of `m` (which must be valid: what Parse accepts).
std::string EncodeFdStoreMessage(const FdStoreMessage& m);

// Whether a peer of uid `peer` may talk to a store running as `self`.
bool FdStorePeerAllowed(uid_t peer, uid_t self);

// The store's socket beside gpcd's control socket: a private test daemon
// gets a private store.
std::string FdStoreSocketFor(const std::string& control_socket);

// ---- client -----------------------------------------------------------------

struct FdStoreEntry {
  std::string name;
  std::string payload;
  UniqueFd fd;  // this process's own copy (close-on-exec)
};

// gpcd's connection to the store. Thread-safe (one request at a time).
class FdStoreClient {
 public:
  // ENOENT / ECONNREFUSED when no store answers at `socket_path`; EACCES
  // when the peer is not root (nor this process's uid).
  static Result<std::unique_ptr<FdStoreClient>> Connect(
      const std::string& socket_path);
  // Connect(), or when no store answers: removes a stale socket file,
  // starts `binary --socket socket_path` detached from this process (its
  // own session, reparented to init, no descriptor but 0-2 inherited) and
  // connects within `deadline`.
  static Result<std::unique_ptr<FdStoreClient>> ConnectOrStart(
      const std::string& socket_path, const std::string& binary,
      std::chrono::milliseconds deadline);
  ~FdStoreClient();
  FdStoreClient(const FdStoreClient&) = delete;
  FdStoreClient& operator=(const FdStoreClient&) = delete;

  // The store's errno, or the connection's (EPIPE, ETIMEDOUT...).
  Status Put(std::string_view name, std::string_view payload, int fd)
      GPC_EXCLUDES(mu_);
  Status Drop(std::string_view name) GPC_EXCLUDES(mu_);
  Result<std::vector<FdStoreEntry>> List() GPC_EXCLUDES(mu_);
  Status Bye() GPC_EXCLUDES(mu_);

  pid_t store_pid() const { return store_pid_; }

 private:
  FdStoreClient(int fd, pid_t pid) : fd_(fd), store_pid_(pid) {}
  Status Send(const FdStoreMessage& m, int fd) GPC_REQUIRES(mu_);
  Result<FdStoreMessage> Receive(UniqueFd* fd) GPC_REQUIRES(mu_);
  Status Call(const FdStoreMessage& m, int fd) GPC_REQUIRES(mu_);

  Mutex mu_;
  const int fd_;
  const pid_t store_pid_;
};

// ---- server -----------------------------------------------------------------

// Binds the store's listening socket at `socket_path` (mode 0600,
// close-on-exec). EADDRINUSE when a store answers there already; a stale
// socket file is replaced.
Result<int> BindFdStoreSocket(const std::string& socket_path);

struct FdStoreServeOptions {
  // Exit when no client connected within this long of the start.
  std::chrono::milliseconds first_client_within{10'000};
  // Peers must be root or this uid.
  uid_t self_uid = 0;
  // Removed at exit (if it is still the socket bound here); may be empty.
  std::string socket_path;
};

// The store's loop on `listen_fd` (closed on return). Returns when one of
// the exit conditions above holds; `stop_fd` readable (a signalfd for
// SIGTERM, an eventfd in tests) is the SIGTERM one. Every held descriptor is
// closed on return.
void ServeFdStore(int listen_fd, int stop_fd,
                  const FdStoreServeOptions& options);

}  // namespace gpc
