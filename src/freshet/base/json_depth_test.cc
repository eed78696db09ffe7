#include "freshet/base/json_depth.h"

#include <gtest/gtest.h>

#include <string>

namespace freshet {
namespace {

TEST(JsonDepthTest, CountsNestingOutsideStrings) {
  EXPECT_EQ(JsonDepth("3", 8), 0);
  EXPECT_EQ(JsonDepth("{}", 8), 1);
  EXPECT_EQ(JsonDepth(R"({"a": [1, {"b": [[]]}]})", 8), 5);
  // Brackets in strings, escaped quotes included, do not count.
  EXPECT_EQ(JsonDepth(R"({"a": "[[[{{{", "b": "\"[[[\""})", 8), 1);
  EXPECT_EQ(JsonDepth(R"(["\\", []])", 8), 2);
}

TEST(JsonDepthTest, StopsAtTheLimit) {
  const std::string deep(1000000, '[');
  EXPECT_EQ(JsonDepth(deep, 16), 17);
  EXPECT_EQ(JsonDepth("[[[]]]", 3), 3);
  EXPECT_EQ(JsonDepth("[[[[]]]]", 3), 4);
}

}  // namespace
}  // namespace freshet
