#include "freshet/base/config_tree.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTreeTest, AWellFormedTreePasses) {
  YAML::Node root = YAML::Load("a: {b: [1, {c: 2}], d: x}\ne: [[], {}]\n");
  EXPECT_TRUE(CheckConfigTree(root, "job.yaml", "", true).ok());
}

TEST(ConfigTreeTest, DuplicateKeyNamesBothLines) {
  YAML::Node root = YAML::Load("a:\n  b: 1\n  c: 2\n  b: 3\n");
  absl::Status st = CheckConfigTree(root, "job.yaml", "", true);
  EXPECT_EQ(st.message(),
            "job.yaml:4: a.b: duplicate key; first given on line 2");
  // Without lines (the value of a --set), under the override's path.
  st = CheckConfigTree(YAML::Load("{x: 1, x: 2}"), "--set m={x: 1, x: 2}", "m",
                       false);
  EXPECT_EQ(st.message(), "--set m={x: 1, x: 2}: m.x: duplicate key");
}

// Aliases that share a node without a cycle (each level refers to the one
// before ten times: 10^8 paths) are checked once per node, at once.
TEST(ConfigTreeTest, SharedAliasesAreCheckedOncePerNode) {
  std::string text = "l0: &l0 [{a: 1}]\n";
  for (int i = 1; i <= 8; ++i) {
    absl::StrAppend(&text, "l", i, ": &l", i, " [");
    for (int j = 0; j < 10; ++j) {
      absl::StrAppend(&text, j ? ", " : "", "*l", i - 1);
    }
    absl::StrAppend(&text, "]\n");
  }
  EXPECT_TRUE(CheckConfigTree(YAML::Load(text), "job.yaml", "", true).ok());
  // The same key twice deep inside a shared node is still found.
  text.replace(text.find("{a: 1}"), 6, "{a: 1, a: 2}");
  absl::Status st = CheckConfigTree(YAML::Load(text), "job.yaml", "", true);
  EXPECT_THAT(st.message(), HasSubstr("l0.0.a: duplicate key"));
}

TEST(ConfigTreeTest, CyclesAndNonScalarKeysAreErrors) {
  absl::Status st =
      CheckConfigTree(YAML::Load("a: &x {b: [*x]}\n"), "job.yaml", "", true);
  EXPECT_THAT(st.message(), HasSubstr("a.b.0: an alias refers to a map or "
                                      "list that contains it"));
  st = CheckConfigTree(YAML::Load("a:\n  ? {k: v}\n  : 1\n"), "job.yaml", "",
                       true);
  EXPECT_THAT(st.message(),
              HasSubstr("job.yaml:2: a: a key must be a name, not a list or a "
                        "map"));
}

TEST(ConfigTreeTest, TooManyNodesIsAnError) {
  std::string text = "a: [";
  for (int i = 0; i < kMaxConfigTreeNodes; ++i) text += i ? ", {}" : "{}";
  text += "]\n";
  absl::Status st = CheckConfigTree(YAML::Load(text), "job.yaml", "", true);
  EXPECT_THAT(st.message(), HasSubstr("more than 10000 maps and lists"));
}

}  // namespace
}  // namespace freshet
