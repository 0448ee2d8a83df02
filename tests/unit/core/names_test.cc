#include "core/names.h"

#include <gtest/gtest.h>

#include <string>

namespace gpc {
namespace {

TEST(ContainerNames, Table) {
  static const struct {
    std::string name;
    int err;
  } kCases[] = {
      {"a", 0},
      {"node_42", 0},
      {"with space", 0},
      {"...", 0},
      {".hidden", 0},
      {std::string(255, 'x'), 0},
      // Linux: no NAME_MAX; only a path's PATH_MAX limits a name.
      {std::string(256, 'x'), 0},
      {std::string(1024, 'x'), 0},
      {std::string(1025, 'x'), 0},
      {std::string(4095, 'x'), 0},
      {"", EINVAL},
      {".", EINVAL},
      {"..", EINVAL},
      {"a/b", EINVAL},
      {"/", EINVAL},
      {"a\nb", EINVAL},
      {std::string("a\0b", 3), EINVAL},
      {std::string(4096, 'x'), ENAMETOOLONG},
      {std::string(4096, '/'), ENAMETOOLONG},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(ValidateContainerName(c.name).code(), c.err) << c.name;
  }
}

}  // namespace
}  // namespace gpc
