#include "util/result.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace gpc {
namespace {

TEST(ErrorTest, CodeMessageAndContext) {
  Error e = Err(EINVAL, "bad value ", 42, " in ", std::string("cpus"));
  EXPECT_EQ(e.code(), EINVAL);
  EXPECT_EQ(e.message(), "bad value 42 in cpus");

  Error c = e.WithContext("write /a/cpuset.cpus");
  EXPECT_EQ(c.code(), EINVAL);
  EXPECT_EQ(c.message(), "write /a/cpuset.cpus: bad value 42 in cpus");
  // The original is unchanged.
  EXPECT_EQ(e.message(), "bad value 42 in cpus");
}

TEST(ErrorTest, EqualityComparesOnlyTheErrno) {
  EXPECT_TRUE(Err(EINVAL, "a") == Err(EINVAL, "b"));
  EXPECT_FALSE(Err(EINVAL, "a") == Err(ERANGE, "a"));
}

TEST(ErrorTest, ToString) {
  static const struct {
    int code;
    std::string_view message;
  } kCases[] = {
      {EINVAL, "bad"},
      {ERANGE, "too big"},
      {ENOENT, ""},
  };
  for (const auto& c : kCases) {
    std::string s = Error(c.code, std::string(c.message)).ToString();
    EXPECT_NE(s.find(std::strerror(c.code)), std::string::npos) << s;
    EXPECT_NE(s.find(ErrnoName(c.code)), std::string::npos) << s;
    if (c.message.empty()) {
      EXPECT_EQ(s.rfind(std::strerror(c.code), 0), 0u) << s;
    } else {
      EXPECT_EQ(s.rfind(std::string(c.message) + ": ", 0), 0u) << s;
    }
  }
}

TEST(ErrnoNameTest, Table) {
  static const struct {
    int code;
    std::string_view name;
  } kCases[] = {
      {0, "OK"},
      {EPERM, "EPERM"},
      {ENOENT, "ENOENT"},
      {ESRCH, "ESRCH"},
      {EIO, "EIO"},
      {E2BIG, "E2BIG"},
      {EAGAIN, "EAGAIN"},
      {ENOMEM, "ENOMEM"},
      {EACCES, "EACCES"},
      {EBUSY, "EBUSY"},
      {EEXIST, "EEXIST"},
      {ENODEV, "ENODEV"},
      {ENOTDIR, "ENOTDIR"},
      {EISDIR, "EISDIR"},
      {EINVAL, "EINVAL"},
      {ENFILE, "ENFILE"},
      {EMFILE, "EMFILE"},
      {ENOSPC, "ENOSPC"},
      {ERANGE, "ERANGE"},
      {ENAMETOOLONG, "ENAMETOOLONG"},
      {ENOSYS, "ENOSYS"},
      {ENOTEMPTY, "ENOTEMPTY"},
      {EOPNOTSUPP, "EOPNOTSUPP"},
      {-1, "E?"},
      {99999, "E?"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(ErrnoName(c.code), c.name) << c.code;
  }
}

TEST(ResultTest, Value) {
  Result<int> r = 7;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.code(), 0);
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(r.value(), 7);
  *r = 8;
  EXPECT_EQ(r.value(), 8);

  Result<std::string> s = std::string("abc");
  EXPECT_EQ(s->size(), 3u);
  std::string moved = std::move(s).value();
  EXPECT_EQ(moved, "abc");
}

TEST(ResultTest, Error) {
  Result<int> r = Err(ERANGE, "too big");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ERANGE);
  EXPECT_EQ(r.error().code(), ERANGE);
  EXPECT_EQ(r.error().message(), "too big");
  Error e = std::move(r).error();
  EXPECT_EQ(e.message(), "too big");
}

TEST(ResultTest, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  Result<int> r = Err(EBUSY, "in use");
  EXPECT_DEATH((void)r.value(), "value\\(\\) of a failed Result: in use");
}

TEST(StatusTest, OkAndError) {
  Status ok = OkStatus();
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), 0);
  EXPECT_TRUE(Status().ok());

  Status bad = Err(ENOSPC, "full");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), ENOSPC);
  EXPECT_EQ(bad.error().message(), "full");
}

Status FailIf(bool fail, int* calls) {
  ++*calls;
  if (fail) return Err(EBUSY, "busy");
  return OkStatus();
}

Status TwoSteps(bool fail_first, bool fail_second, int* calls) {
  GPC_RETURN_IF_ERROR(FailIf(fail_first, calls));
  GPC_RETURN_IF_ERROR(FailIf(fail_second, calls));
  return OkStatus();
}

TEST(MacroTest, ReturnIfError) {
  static const struct {
    bool fail_first;
    bool fail_second;
    int want_code;
    int want_calls;
  } kCases[] = {
      {false, false, 0, 2},
      {true, false, EBUSY, 1},
      {false, true, EBUSY, 2},
      {true, true, EBUSY, 1},
  };
  for (const auto& c : kCases) {
    int calls = 0;
    Status s = TwoSteps(c.fail_first, c.fail_second, &calls);
    EXPECT_EQ(s.code(), c.want_code);
    EXPECT_EQ(calls, c.want_calls);
  }
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Err(EINVAL, "odd: ", x);
  return x / 2;
}

Result<int> Quarter(int x) {
  GPC_ASSIGN_OR_RETURN(int half, Half(x));
  GPC_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status StoreQuarter(int x, int* out) {
  GPC_ASSIGN_OR_RETURN(*out, Quarter(x));  // assigns to an existing lvalue
  return OkStatus();
}

Result<std::unique_ptr<int>> MakeBox(bool fail) {
  if (fail) return Err(ENOMEM, "no memory");
  return std::make_unique<int>(9);
}

Result<int> Unbox(bool fail) {
  GPC_ASSIGN_OR_RETURN(std::unique_ptr<int> box, MakeBox(fail));
  return *box;
}

TEST(MacroTest, AssignOrReturn) {
  static const struct {
    int in;
    int want_code;
    int want;
    std::string_view want_message;
  } kCases[] = {
      {8, 0, 2, ""},
      {0, 0, 0, ""},
      {-12, 0, -3, ""},
      {7, EINVAL, 0, "odd: 7"},
      {6, EINVAL, 0, "odd: 3"},  // the second step fails
  };
  for (const auto& c : kCases) {
    Result<int> r = Quarter(c.in);
    EXPECT_EQ(r.code(), c.want_code) << c.in;
    if (r.ok()) {
      EXPECT_EQ(*r, c.want);
    } else {
      EXPECT_EQ(r.error().message(), c.want_message);
    }
    int out = 1234;
    Status s = StoreQuarter(c.in, &out);
    EXPECT_EQ(s.code(), c.want_code);
    EXPECT_EQ(out, c.want_code == 0 ? c.want : 1234);
  }
  EXPECT_EQ(*Unbox(false), 9);
  EXPECT_EQ(Unbox(true).code(), ENOMEM);
}

TEST(CheckDeathTest, AbortsWithContext) {
  EXPECT_DEATH(GPC_CHECK(1 + 1 == 3, "math is ", "broken"),
               "INTERNAL ERROR.*1 \\+ 1 == 3 math is broken");
  EXPECT_DEATH(GPC_CHECK(false), "INTERNAL ERROR");
  GPC_CHECK(true, "never printed");
}

}  // namespace
}  // namespace gpc
