// GpcdProcess: the real gpcd binary for system tests, conformance tests and
// benchmarks (as root), on a private temporary directory: its own control
// socket (DIR/gpcd.sock), mount root (DIR/h), configuration (DIR/gpcd.conf,
// plus the caller's extra lines) and log (DIR/log, gpcd's stderr, appended
// across restarts). Start() waits, with a deadline, until gpcd answers;
// Terminate() is SIGTERM, Kill() is kill -9, and Start() again restarts it.
//
// The destructor stops gpcd (SIGTERM) and its descriptor store (a killed
// gpcd leaves it holding the mounts), detaches whatever is still mounted
// below the directory and removes the directory, so a failing test leaves
// nothing behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "util/result.h"

namespace gpc {

struct GpcdOptions {
  // The gpcd binary (tests get it from CMake as GPCD_PATH).
  std::string gpcd_path;
  // The temporary directory is /tmp/<temp_prefix>.XXXXXX.
  std::string temp_prefix = "gpcd";
  // Mode 0755 for the directory, so other users reach the socket and mounts.
  bool open_to_other_users = false;
  // When >= 0, gpcd inherits a descriptor of /dev/zero at this number
  // without close-on-exec (nothing gpcd starts may see it).
  int inherited_fd = -1;
  // Extra environment ("NOTIFY_SOCKET=...") and arguments ("--on-demand")
  // for gpcd.
  std::vector<std::string> env = {};
  std::vector<std::string> args = {};
};

class GpcdProcess {
 public:
  // Makes the directory; ok() says whether that worked.
  explicit GpcdProcess(GpcdOptions options);
  ~GpcdProcess();
  GpcdProcess(const GpcdProcess&) = delete;
  GpcdProcess& operator=(const GpcdProcess&) = delete;

  bool ok() const { return !dir_.empty(); }

  // Lines written to the configuration after `socket` and `mount_root`
  // ("hierarchy DIR/h/debug debug\n", "state_dir ...\n"); read at Start().
  void set_extra_config(std::string lines) { extra_config_ = std::move(lines); }

  // Writes the configuration and starts gpcd; returns once `ready` holds
  // (by default: the control socket answers a ping), polled every
  // `poll_every`. An error, with the log, when gpcd exits first or does not
  // get ready within 20 s; gpcd is then left running for the destructor.
  Status Start(
      const std::function<bool()>& ready = nullptr,
      std::chrono::microseconds poll_every = std::chrono::milliseconds(5));

  // SIGTERM; returns gpcd's exit status (-1 if it did not exit normally).
  int Terminate();
  // kill -9, then reaped.
  void Kill();
  // Detaches every mount below the directory (after a Kill(), before a
  // restart: the dead mounts would be in the way).
  void UnmountAll();
  // SIGTERM to gpcd's gpc-fdstore (DIR/gpcd-fdstore.sock), if one answers,
  // and waits (with a deadline) until it removed its socket: after a
  // Kill(), the store keeps the mounts alive until then. Returns its pid,
  // or -1 when none answered.
  pid_t StopFdStore();
  std::string fd_store_socket() const { return dir_ + "/gpcd-fdstore.sock"; }

  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  const std::string& socket() const { return socket_; }
  std::string mount_root() const { return dir_ + "/h"; }
  // What gpcd wrote to stderr so far.
  std::string log() const;

 private:
  GpcdOptions options_;
  std::string dir_;
  std::string socket_;
  std::string extra_config_;
  pid_t pid_ = -1;
};

}  // namespace gpc
