// Helpers for the data layer's tests: temporary folders, files, schemas.
#ifndef FRESHET_DATA_DATA_TEST_UTIL_H_
#define FRESHET_DATA_DATA_TEST_UTIL_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "freshet/base/config.h"
#include "gtest/gtest.h"

namespace freshet {
namespace testing_util {

// A fresh folder under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::path(::testing::TempDir()) /
            absl::StrCat("freshet_data_", getpid(), "_", counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string File(const std::string& name) const {
    return (path_ / name).string();
  }

 private:
  std::filesystem::path path_;
};

inline void WriteFile(const std::string& path, const std::string& text,
                      bool append = false) {
  std::ofstream out(path, append ? std::ios::binary | std::ios::app
                                 : std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The usual Criteo schema: label, I1..I13 (log), C1..C26.
inline SchemaSpec CriteoSchemaSpec() {
  SchemaSpec spec;
  spec.labels.push_back({"label", "", false, 0.0});
  for (int i = 1; i <= 13; ++i) {
    DenseSpec d;
    d.name = absl::StrCat("I", i);
    d.transform = DenseTransform::kLog;
    spec.dense.push_back(d);
  }
  for (int i = 1; i <= 26; ++i) {
    SlotSpec s;
    s.name = absl::StrCat("C", i);
    spec.slots.push_back(s);
  }
  return spec;
}

inline SlotSpec Slot(const std::string& name, const std::string& column = "") {
  SlotSpec s;
  s.name = name;
  s.column = column;
  return s;
}

inline LabelSpec Label(const std::string& name,
                       const std::string& column = "") {
  LabelSpec l;
  l.name = name;
  l.column = column;
  return l;
}

// A Criteo-shaped record (label, 13 counts, 26 categoricals) that differs
// with `i`.
inline std::string CriteoLine(int i) {
  std::vector<std::string> f = {i % 3 == 0 ? "1" : "0"};
  for (int k = 1; k <= 13; ++k) f.push_back(std::to_string(i + k));
  for (int k = 1; k <= 26; ++k) f.push_back("c" + std::to_string(i * k));
  return absl::StrJoin(f, "\t");
}

}  // namespace testing_util
}  // namespace freshet

#endif  // FRESHET_DATA_DATA_TEST_UTIL_H_
