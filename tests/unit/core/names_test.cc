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
      {"", EINVAL},
      {".", EINVAL},
      {"..", EINVAL},
      {"a/b", EINVAL},
      {"/", EINVAL},
      {"a\nb", EINVAL},
      {std::string("a\0b", 3), EINVAL},
      {std::string(256, 'x'), EINVAL},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(ValidateContainerName(c.name).code(), c.err) << c.name;
  }
}

}  // namespace
}  // namespace gpc
