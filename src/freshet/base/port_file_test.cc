#include "freshet/base/port_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace freshet {
namespace {

namespace fs = std::filesystem;

class PortFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "port_file_XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  fs::path dir_;
};

TEST_F(PortFileTest, WritesThePortAndANewlineAndLeavesNoTmpFile) {
  const fs::path path = dir_ / "port";
  ASSERT_TRUE(WritePortFile(path.string(), 43125).ok());
  EXPECT_EQ(Read(path), "43125\n");
  EXPECT_FALSE(fs::exists(dir_ / "port.tmp"));
  // A second write replaces the first.
  ASSERT_TRUE(WritePortFile(path.string(), 8080).ok());
  EXPECT_EQ(Read(path), "8080\n");
}

TEST_F(PortFileTest, AnEmptyPathWritesNothing) {
  EXPECT_TRUE(WritePortFile("", 8080).ok());
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(PortFileTest, AFolderThatDoesNotExistIsAnError) {
  const fs::path path = dir_ / "missing" / "port";
  absl::Status st = WritePortFile(path.string(), 8080);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_NE(st.message().find("cannot write"), std::string::npos) << st;
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(PortFileTest, ARenameOntoAFolderFailsAndRemovesTheTmpFile) {
  const fs::path path = dir_ / "taken";
  fs::create_directories(path / "inside");
  absl::Status st = WritePortFile(path.string(), 8080);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_NE(st.message().find("cannot rename"), std::string::npos) << st;
  EXPECT_FALSE(fs::exists(dir_ / "taken.tmp"));
  EXPECT_TRUE(fs::is_directory(path));
}

}  // namespace
}  // namespace freshet
