#include "testing/gpcd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "control/control_protocol.h"
#include "daemon/fd_store.h"
#include "testing/sys_files.h"

namespace gpc {

GpcdProcess::GpcdProcess(GpcdOptions options) : options_(std::move(options)) {
  std::string tmpl = "/tmp/" + options_.temp_prefix + ".XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return;
  dir_ = tmpl;
  if (options_.open_to_other_users) chmod(dir_.c_str(), 0755);
  socket_ = dir_ + "/gpcd.sock";
}

GpcdProcess::~GpcdProcess() {
  if (pid_ > 0) Terminate();
  if (dir_.empty()) return;
  StopFdStore();
  // Whatever gpcd left behind is the test's failure, but is cleaned up.
  UnmountAll();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status GpcdProcess::Start(const std::function<bool()>& ready,
                          std::chrono::microseconds poll_every) {
  if (dir_.empty()) return Err(EIO, "no temporary directory for gpcd");
  const std::string config = dir_ + "/gpcd.conf";
  std::ofstream(config) << "socket " << socket_ << "\nmount_root " << dir_
                        << "/h\n"
                        << extra_config_;
  const std::string log_path = dir_ + "/log";
  const auto start = std::chrono::steady_clock::now();
  pid_ = fork();
  if (pid_ < 0) return Err(errno, "fork");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, 2);
    if (options_.inherited_fd >= 0) {
      int leak = open("/dev/zero", O_RDONLY);
      dup2(leak, options_.inherited_fd);
    }
    for (const std::string& e : options_.env) putenv(strdup(e.c_str()));
    std::vector<char*> argv = {options_.gpcd_path.data(),
                               const_cast<char*>("--config"),
                               const_cast<char*>(config.c_str())};
    for (std::string& a : options_.args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  auto answers = [&] {
    return ready ? ready()
                 : CallDaemon(socket_, {ControlOp::kPing, "", ""}).ok();
  };
  const auto deadline = start + std::chrono::seconds(20);
  while (!answers()) {
    if (waitpid(pid_, nullptr, WNOHANG) != 0) {
      pid_ = -1;
      return Err(ECHILD, "gpcd exited: ", log());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Err(ETIMEDOUT, "gpcd did not come up: ", log());
    }
    std::this_thread::sleep_for(poll_every);
  }
  return OkStatus();
}

int GpcdProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void GpcdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void GpcdProcess::UnmountAll() {
  // Mounts may be stacked on one point: repeat, deepest (latest) first.
  for (int round = 0; round < 16; ++round) {
    std::vector<std::string> mounts = MountsBelow(dir_);
    if (mounts.empty()) return;
    std::reverse(mounts.begin(), mounts.end());
    for (const std::string& m : mounts) umount2(m.c_str(), MNT_DETACH);
  }
}

pid_t GpcdProcess::StopFdStore() {
  auto store = FdStoreClient::Connect(fd_store_socket());
  if (!store.ok()) return -1;
  pid_t pid = (*store)->store_pid();
  store->reset();
  kill(pid, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (access(fd_store_socket().c_str(), F_OK) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pid;
}

std::string GpcdProcess::log() const { return ReadFile(dir_ + "/log"); }

}  // namespace gpc
