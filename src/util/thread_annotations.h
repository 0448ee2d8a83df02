// Clang thread-safety annotations, and a Mutex that carries them.
//
// libstdc++'s std::mutex is not annotated, so GPC_GUARDED_BY on a member
// guarded by a bare std::mutex checks nothing. gpc::Mutex wraps std::mutex as
// a "capability" so clang's -Wthread-safety (on in the clang presets, an
// error there) proves that every guarded member is touched under its lock.
// Under gcc the macros expand to nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#if defined(__clang__)
#define GPC_TSA_(x) __attribute__((x))
#else
#define GPC_TSA_(x)
#endif

#define GPC_CAPABILITY(x) GPC_TSA_(capability(x))
#define GPC_SCOPED_CAPABILITY GPC_TSA_(scoped_lockable)
#define GPC_GUARDED_BY(x) GPC_TSA_(guarded_by(x))
#define GPC_PT_GUARDED_BY(x) GPC_TSA_(pt_guarded_by(x))
#define GPC_REQUIRES(...) GPC_TSA_(requires_capability(__VA_ARGS__))
#define GPC_EXCLUDES(...) GPC_TSA_(locks_excluded(__VA_ARGS__))
#define GPC_ACQUIRE(...) GPC_TSA_(acquire_capability(__VA_ARGS__))
#define GPC_RELEASE(...) GPC_TSA_(release_capability(__VA_ARGS__))
#define GPC_NO_THREAD_SAFETY_ANALYSIS GPC_TSA_(no_thread_safety_analysis)

namespace gpc {

class GPC_CAPABILITY("mutex") Mutex {
 public:
  void Lock() GPC_ACQUIRE() { mu_.lock(); }
  void Unlock() GPC_RELEASE() { mu_.unlock(); }
  // Tells the analysis the lock is held (by the caller's caller): for
  // callbacks that the lock holder invokes through function pointers.
  void AssertHeld() const GPC_TSA_(assert_capability(this)) {}

 private:
  std::mutex mu_;
};

// A condition variable for gpc::Mutex. Predicates run with the mutex held
// but are lambdas, which clang's analysis reads afresh: they start with
// mu.AssertHeld() when they read guarded members.
class CondVar {
 public:
  // Waits until `done()` or `timeout`; the result of done(). mu is held
  // on return, as on entry.
  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(Mutex& mu, std::chrono::duration<Rep, Period> timeout, Pred done)
      GPC_REQUIRES(mu) {
    Unlocker u{mu};
    return cv_.wait_for(u, timeout, std::move(done));
  }
  void NotifyAll() { cv_.notify_all(); }

 private:
  // What std::condition_variable_any releases and retakes while waiting.
  struct Unlocker {
    Mutex& mu;
    void lock() GPC_NO_THREAD_SAFETY_ANALYSIS { mu.Lock(); }
    void unlock() GPC_NO_THREAD_SAFETY_ANALYSIS { mu.Unlock(); }
  };
  std::condition_variable_any cv_;
};

class GPC_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) GPC_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() GPC_RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace gpc
