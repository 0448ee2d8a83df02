#include "linux/seccomp_gate.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>

namespace gpc {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#else
#error "fork gate: add this architecture's AUDIT_ARCH and clone numbers"
#endif

constexpr long kNativeCreationCalls[] = {
    __NR_clone,
    __NR_clone3,
#ifdef __NR_fork
    __NR_fork,
#endif
#ifdef __NR_vfork
    __NR_vfork,
#endif
};

#if defined(__x86_64__)
// A 64-bit kernel also runs i386 binaries (int 0x80): their numbers differ.
constexpr uint32_t kCompatArch = AUDIT_ARCH_I386;
constexpr long kCompatCreationCalls[] = {120 /*clone*/, 2 /*fork*/,
                                         190 /*vfork*/, 435 /*clone3*/};
// x32 uses the native numbers with this bit set.
constexpr uint32_t kX32Bit = 0x40000000;
#endif

sock_filter Stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return BPF_JUMP(code, k, jt, jf);
}

// "nr in calls -> notify": two instructions per number, then allow.
void AppendNumberChecks(std::vector<sock_filter>& prog,
                        std::span<const long> calls) {
  for (long nr : calls) {
    prog.push_back(
        Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    prog.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  }
  prog.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
}

std::vector<sock_filter> BuildProgram() {
  std::vector<sock_filter> native;
  native.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
#if defined(__x86_64__)
  native.push_back(Stmt(BPF_ALU | BPF_AND | BPF_K, ~kX32Bit));
#endif
  AppendNumberChecks(native, kNativeCreationCalls);

  std::vector<sock_filter> prog;
  prog.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
#if defined(__x86_64__)
  std::vector<sock_filter> compat;
  compat.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  AppendNumberChecks(compat, kCompatCreationCalls);
  // native arch: fall into the native block; else skip it.
  prog.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 0,
                      static_cast<uint8_t>(native.size())));
  prog.insert(prog.end(), native.begin(), native.end());
  prog.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, kCompatArch, 0,
                      static_cast<uint8_t>(compat.size())));
  prog.insert(prog.end(), compat.begin(), compat.end());
#else
  prog.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 0,
                      static_cast<uint8_t>(native.size())));
  prog.insert(prog.end(), native.begin(), native.end());
#endif
  prog.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return prog;
}

long Seccomp(unsigned op, unsigned flags, void* args) {
  return syscall(__NR_seccomp, op, flags, args);
}

// The kernel's sizes of the notification structs, which may be larger than
// the header's (a newer kernel appends fields); never smaller than those.
const seccomp_notif_sizes& NotifSizes() {
  static const seccomp_notif_sizes sizes = [] {
    seccomp_notif_sizes kernel{};
    if (Seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &kernel) != 0) kernel = {};
    kernel.seccomp_notif =
        std::max<uint16_t>(kernel.seccomp_notif, sizeof(seccomp_notif));
    kernel.seccomp_notif_resp = std::max<uint16_t>(kernel.seccomp_notif_resp,
                                                   sizeof(seccomp_notif_resp));
    return kernel;
  }();
  return sizes;
}

// A zeroed buffer of `size` bytes viewed as a T, on the stack unless the
// kernel's struct outgrows kInlineBytes. The kernel wants it zeroed.
template <typename T, size_t kInlineBytes>
class KernelStructBuffer {
 public:
  explicit KernelStructBuffer(size_t size) {
    if (size > kInlineBytes) {
      heap_ = std::make_unique<unsigned char[]>(size);
      data_ = heap_.get();
    }
    std::memset(data_, 0, size);
  }
  // data_ may point into the object itself.
  KernelStructBuffer(const KernelStructBuffer&) = delete;
  KernelStructBuffer& operator=(const KernelStructBuffer&) = delete;
  T* get() { return reinterpret_cast<T*>(data_); }

 private:
  alignas(T) unsigned char inline_[kInlineBytes];
  std::unique_ptr<unsigned char[]> heap_;
  unsigned char* data_ = inline_;
};

}  // namespace

bool IsTaskCreationSyscall(long nr) {
  for (long n : kNativeCreationCalls) {
    if (n == nr) return true;
  }
  return false;
}

std::vector<uint64_t> ForkFilterProgram() {
  static_assert(sizeof(sock_filter) == sizeof(uint64_t));
  std::vector<sock_filter> prog = BuildProgram();
  std::vector<uint64_t> out(prog.size());
  std::memcpy(out.data(), prog.data(), prog.size() * sizeof(sock_filter));
  return out;
}

Result<int> InstallForkFilter() {
  std::vector<sock_filter> prog = BuildProgram();
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  // No TSYNC: the caller is single-threaded (gpc exec before exec), and
  // only the task tree it starts is to be supervised.
  long fd = -1;
  if (geteuid() == 0) {
    fd = Seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                 &fprog);
  }
  if (fd < 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      return Err(errno, "prctl(PR_SET_NO_NEW_PRIVS)");
    }
    fd = Seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                 &fprog);
  }
  if (fd < 0) return Err(errno, "installing the seccomp fork filter");
  return static_cast<int>(fd);
}

bool IsSeccompListener(int fd) {
  char link[64];
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
  if (n < 0) return false;
  link[n] = '\0';
  return std::strcmp(link, "anon_inode:seccomp notify") == 0;
}

Result<ForkNotification> ReceiveNotification(int listener) {
  KernelStructBuffer<seccomp_notif, 256> buf(NotifSizes().seccomp_notif);
  seccomp_notif* n = buf.get();
  for (;;) {
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, n) == 0) break;
    if (errno == EINTR) continue;
    return Err(errno, "SECCOMP_IOCTL_NOTIF_RECV");
  }
  return ForkNotification{n->id, static_cast<pid_t>(n->pid), n->data.nr};
}

Status AnswerNotification(int listener, uint64_t id, int error) {
  KernelStructBuffer<seccomp_notif_resp, 128> buf(
      NotifSizes().seccomp_notif_resp);
  seccomp_notif_resp* r = buf.get();
  r->id = id;
  if (error == 0) {
    r->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else {
    r->error = -error;
  }
  for (;;) {
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, r) == 0) return OkStatus();
    if (errno == EINTR) continue;
    return Err(errno, "SECCOMP_IOCTL_NOTIF_SEND");
  }
}

bool NotificationPending(int listener, uint64_t id) {
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

Result<int> CreateJournalFd() {
  int fd = memfd_create("gpc-gate-journal", MFD_CLOEXEC);
  if (fd < 0) return Err(errno, "memfd_create");
  if (ftruncate(fd, kGateJournalBytes) != 0) {
    int err = errno;
    close(fd);
    return Err(err, "ftruncate journal");
  }
  auto j = MapJournal(fd);
  if (!j.ok()) {
    close(fd);
    return std::move(j).error();
  }
  UnmapJournal(*j);
  return fd;
}

Result<GateJournal*> MapJournal(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Err(errno, "journal fstat");
  if (!S_ISREG(st.st_mode) ||
      st.st_size < static_cast<off_t>(kGateJournalBytes)) {
    return Err(EINVAL, "journal fd is not a ", kGateJournalBytes, "-byte file");
  }
  void* p = mmap(nullptr, kGateJournalBytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                 fd, 0);
  if (p == MAP_FAILED) return Err(errno, "mapping the journal");
  // A fresh memfd reads as zeros: initialise it; a used one keeps its state.
  auto* j = static_cast<GateJournal*>(p);
  uint64_t zero = 0;
  j->magic.compare_exchange_strong(zero, GateJournal::kMagic);
  if (j->magic.load() != GateJournal::kMagic) {
    munmap(p, kGateJournalBytes);
    return Err(EINVAL, "journal fd holds no gate journal");
  }
  return j;
}

void UnmapJournal(GateJournal* journal) {
  if (journal != nullptr) munmap(journal, kGateJournalBytes);
}

}  // namespace gpc
