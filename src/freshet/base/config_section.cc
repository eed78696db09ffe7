#include "freshet/base/config_section.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

// 2^63: durations and sizes are stored as int64, which must not overflow.
constexpr double kMaxInt64AsDouble = 9223372036854775808.0;

}  // namespace

ConfigSection::ConfigSection(const ConfigFile* file, YAML::Node node,
                             std::string path)
    : file_(file), node_(std::move(node)), path_(std::move(path)) {}

std::string ConfigSection::PathOf(std::string_view key) const {
  return path_.empty() ? std::string(key)
                       : absl::StrCat(path_, ".", std::string(key));
}

YAML::Node ConfigSection::Value(std::string_view key) const {
  // The const operator[] never inserts the key into the tree.
  const YAML::Node& n = node_;
  if (!is_map()) return YAML::Node(YAML::NodeType::Undefined);
  return n[std::string(key)];
}

bool ConfigSection::Has(std::string_view key) const {
  return Value(key).IsDefined();
}

ConfigSection ConfigSection::Child(std::string_view key) const {
  return ConfigSection(file_, Value(key), PathOf(key));
}

ConfigSection ConfigSection::Element(size_t i) const {
  const YAML::Node& n = node_;
  return ConfigSection(file_, n[i], PathOf(absl::StrCat(i)));
}

std::vector<std::pair<std::string, ConfigSection>> ConfigSection::Entries()
    const {
  std::vector<std::pair<std::string, ConfigSection>> out;
  if (!is_map()) return out;
  for (const auto& kv : node_) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    out.emplace_back(key, ConfigSection(file_, kv.second, PathOf(key)));
  }
  return out;
}

absl::Status ConfigSection::ErrorAt(const YAML::Node& node,
                                    const std::string& path,
                                    std::string_view message) const {
  std::string where = file_->name;
  auto it = file_->overridden.find(path);
  if (it != file_->overridden.end()) {
    where += absl::StrCat(" (--set ", it->second, ")");
  } else if (node.IsDefined() && !node.Mark().is_null()) {
    where += absl::StrCat(":", node.Mark().line + 1);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", path, ": ", std::string(message)));
}

absl::Status ConfigSection::Error(std::string_view message) const {
  return ErrorAt(node_, path_, message);
}

absl::Status ConfigSection::Error(std::string_view key,
                                  std::string_view message) const {
  YAML::Node value = Value(key);
  return ErrorAt(value.IsDefined() ? value : node_, PathOf(key), message);
}

absl::Status ConfigSection::CheckKeys(
    absl::Span<const std::string> allowed) const {
  if (!is_map()) return Error("expected a map of keys");
  for (const auto& kv : node_) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    bool known = false;
    for (const std::string& a : allowed) known |= key == a;
    if (!known) {
      return ErrorAt(kv.first, PathOf(key),
                     absl::StrCat("unknown key; expected one of ",
                                  absl::StrJoin(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::Status ConfigSection::CheckKeys(
    std::initializer_list<const char*> allowed) const {
  std::vector<std::string> keys(allowed.begin(), allowed.end());
  return CheckKeys(keys);
}

std::string ConfigSection::Show(const YAML::Node& v) {
  if (v.IsScalar()) return v.Scalar();
  std::stringstream ss;
  ss << v;
  return ss.str();
}

absl::Status ConfigSection::Get(std::string_view key, std::string* out) const {
  YAML::Node v = Value(key);
  if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
  if (!v.IsScalar()) return Error(key, "expected a string");
  *out = v.Scalar();
  return absl::OkStatus();
}

absl::Status ConfigSection::Get(std::string_view key, bool* out) const {
  YAML::Node v = Value(key);
  if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
  std::string s = v.IsScalar() ? absl::AsciiStrToLower(v.Scalar()) : "";
  if (s == "true" || s == "yes" || s == "on") {
    *out = true;
  } else if (s == "false" || s == "no" || s == "off") {
    *out = false;
  } else {
    return Error(key, "expected true or false");
  }
  return absl::OkStatus();
}

absl::Status ConfigSection::Get(std::string_view key, double* out) const {
  YAML::Node v = Value(key);
  if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
  double d;
  if (!v.IsScalar() || !absl::SimpleAtod(v.Scalar(), &d) || !std::isfinite(d)) {
    return Error(key, absl::StrCat("expected a number, got '", Show(v), "'"));
  }
  *out = d;
  return absl::OkStatus();
}

absl::Status ConfigSection::Get(std::string_view key, float* out) const {
  double d = *out;
  RETURN_IF_ERROR(Get(key, &d));
  if (std::fabs(d) > std::numeric_limits<float>::max()) {
    return Error(key, absl::StrCat("out of range of a 32-bit float, got ", d));
  }
  *out = static_cast<float>(d);
  return absl::OkStatus();
}

absl::Status ConfigSection::Get(std::string_view key, int64_t* out) const {
  YAML::Node v = Value(key);
  if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
  int64_t i;
  if (!v.IsScalar() || !absl::SimpleAtoi(v.Scalar(), &i)) {
    return Error(key, absl::StrCat("expected an integer, got '", Show(v), "'"));
  }
  *out = i;
  return absl::OkStatus();
}

absl::Status ConfigSection::Get(std::string_view key, int* out) const {
  int64_t i = *out;
  RETURN_IF_ERROR(Get(key, &i));
  if (i < std::numeric_limits<int>::min() ||
      i > std::numeric_limits<int>::max()) {
    return Error(key, "integer out of range");
  }
  *out = static_cast<int>(i);
  return absl::OkStatus();
}

absl::Status ConfigSection::Get(std::string_view key, uint64_t* out) const {
  int64_t i = static_cast<int64_t>(*out);
  RETURN_IF_ERROR(Get(key, &i));
  if (i < 0) return Error(key, "must be >= 0");
  *out = static_cast<uint64_t>(i);
  return absl::OkStatus();
}

absl::Status ConfigSection::Get(std::string_view key,
                                std::vector<std::string>* out) const {
  YAML::Node v = Value(key);
  if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
  if (!v.IsSequence()) return Error(key, "expected a list of strings");
  out->clear();
  for (const auto& e : v) {
    if (!e.IsScalar()) {
      return ErrorAt(e, PathOf(key), "expected a list of strings");
    }
    out->push_back(e.Scalar());
  }
  return absl::OkStatus();
}

absl::Status ConfigSection::Get(std::string_view key,
                                std::vector<int>* out) const {
  YAML::Node v = Value(key);
  if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
  if (!v.IsSequence()) return Error(key, "expected a list of integers");
  out->clear();
  for (const auto& e : v) {
    int i;
    if (!e.IsScalar() || !absl::SimpleAtoi(e.Scalar(), &i)) {
      return ErrorAt(e, PathOf(key), "expected a list of integers");
    }
    out->push_back(i);
  }
  return absl::OkStatus();
}

absl::Status ConfigSection::GetDurationMs(std::string_view key,
                                          int64_t* out) const {
  YAML::Node v = Value(key);
  if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
  std::string s =
      v.IsScalar() ? std::string(absl::StripAsciiWhitespace(v.Scalar())) : "";
  static const std::pair<const char*, double> kUnits[] = {
      {"ms", 1.0}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}};
  double scale = 1e3;
  for (const auto& [suffix, ms] : kUnits) {
    const size_t n = strlen(suffix);
    if (absl::EndsWith(s, suffix) && s.size() > n &&
        (std::isdigit(static_cast<unsigned char>(s[s.size() - n - 1])) ||
         s[s.size() - n - 1] == '.')) {
      scale = ms;
      s.resize(s.size() - n);
      break;
    }
  }
  double d;
  if (!absl::SimpleAtod(s, &d) || d < 0 || !std::isfinite(d)) {
    return Error(key,
                 absl::StrCat("expected a duration such as 500ms, 30s, 12h "
                              "or 7d, got '",
                              Show(v), "'"));
  }
  if (d * scale >= kMaxInt64AsDouble) {
    return Error(key, absl::StrCat("duration too long, got '", Show(v), "'"));
  }
  *out = static_cast<int64_t>(std::llround(d * scale));
  return absl::OkStatus();
}

absl::Status ConfigSection::GetBytes(std::string_view key, int64_t* out) const {
  YAML::Node v = Value(key);
  if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
  std::string s =
      v.IsScalar() ? std::string(absl::StripAsciiWhitespace(v.Scalar())) : "";
  static const std::pair<const char*, double> kUnits[] = {
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
      {"KB", 1e3},     {"MB", 1e6},        {"GB", 1e9},
      {"B", 1.0}};
  double scale = 1;
  for (const auto& [suffix, bytes] : kUnits) {
    if (absl::EndsWith(s, suffix)) {
      scale = bytes;
      s = std::string(
          absl::StripAsciiWhitespace(s.substr(0, s.size() - strlen(suffix))));
      break;
    }
  }
  double d;
  if (!absl::SimpleAtod(s, &d) || d < 0 || !std::isfinite(d)) {
    return Error(key,
                 absl::StrCat("expected a size such as 512MiB or 2GB, got '",
                              Show(v), "'"));
  }
  if (d * scale >= kMaxInt64AsDouble) {
    return Error(key, absl::StrCat("size too large, got '", Show(v), "'"));
  }
  *out = static_cast<int64_t>(std::llround(d * scale));
  return absl::OkStatus();
}

std::string ConfigSection::ResolvePath(const std::string& p) const {
  if (p.empty() || p[0] == '/' || file_->dir.empty()) return p;
  return (std::filesystem::path(file_->dir) / p).lexically_normal().string();
}

}  // namespace freshet
