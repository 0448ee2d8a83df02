// Result<T> and Status: the one error type of gpc.
//
// Every failure a user can see carries a Linux errno, because users compare
// gpc against real cgroup v1 and the kernel can only ever hand one errno back
// from write(2). The message adds context (which file, which rule) for logs
// and the CLI; it never changes which errno is returned.
//
// Broken internal invariants are not Errors: they abort with GPC_CHECK.
//
//   Result<int> r = ParseThing(text);
//   if (!r.ok()) return r.error();
//   use(*r);
//
// GPC_RETURN_IF_ERROR(expr) and GPC_ASSIGN_OR_RETURN(lhs, expr) keep call
// sites short. No exceptions cross a module boundary.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "util/str_cat.h"

namespace gpc {

class Error {
 public:
  Error(int code, std::string message)
      : code_(code), message_(std::move(message)) {}

  // The errno a system call would return for this failure (positive).
  int code() const { return code_; }
  const std::string& message() const { return message_; }

  // "message: strerror" for logs and the CLI.
  std::string ToString() const;

  // Prepends context: "mkdir /a/b: " + message. The errno is unchanged.
  Error WithContext(std::string_view context) const& {
    return Error(code_, StrCat(context, ": ", message_));
  }

  friend bool operator==(const Error& a, const Error& b) {
    return a.code_ == b.code_;
  }

 private:
  int code_;
  std::string message_;
};

// Builds an Error from an errno and message pieces: Err(EINVAL, "bad ", x).
template <typename... Args>
Error Err(int code, const Args&... pieces) {
  return Error(code, StrCat(pieces...));
}

// The name of an errno ("EINVAL"), for messages and test output.
const char* ErrnoName(int code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  const T& value() const& { return *std::get_if<0>(&CheckOk()); }
  T& value() & { return *std::get_if<0>(&CheckOk()); }
  // By value, so `for (auto& x : *F())` over a temporary is safe.
  T value() && { return std::move(*std::get_if<0>(&CheckOk())); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error& error() const& { return *std::get_if<1>(&v_); }
  Error&& error() && { return std::move(*std::get_if<1>(&v_)); }
  // errno of the failure, 0 when ok().
  int code() const { return ok() ? 0 : error().code(); }

 private:
  std::variant<T, Error>& CheckOk() {
    if (!ok()) Die();
    return v_;
  }
  const std::variant<T, Error>& CheckOk() const {
    if (!ok()) Die();
    return v_;
  }
  [[noreturn]] void Die() const {
    std::fprintf(stderr, "gpc: value() of a failed Result: %s\n",
                 std::get_if<1>(&v_)->ToString().c_str());
    std::abort();
  }

  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return !error_.has_value(); }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }
  int code() const { return ok() ? 0 : error_->code(); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status OkStatus() { return Status(); }

}  // namespace gpc

#define GPC_CONCAT_INNER_(a, b) a##b
#define GPC_CONCAT_(a, b) GPC_CONCAT_INNER_(a, b)

#define GPC_RETURN_IF_ERROR(expr)                                 \
  do {                                                            \
    auto gpc_status_ = (expr);                                    \
    if (!gpc_status_.ok()) return std::move(gpc_status_).error(); \
  } while (0)

#define GPC_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).error();    \
  lhs = std::move(tmp).value()

#define GPC_ASSIGN_OR_RETURN(lhs, expr) \
  GPC_ASSIGN_OR_RETURN_IMPL_(GPC_CONCAT_(gpc_result_, __LINE__), lhs, expr)

// Aborts with context when an internal invariant is broken. Never used for
// anything a user can cause.
#define GPC_CHECK(cond, ...)                                                  \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "gpc: INTERNAL ERROR at %s:%d: %s %s\n", __FILE__, \
                   __LINE__, #cond,                                           \
                   ::gpc::StrCat("" __VA_OPT__(, ) __VA_ARGS__).c_str());     \
      std::abort();                                                           \
    }                                                                         \
  } while (0)
