#include "freshet/base/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

constexpr std::initializer_list<const char*> kSparseOptimizers = {
    "sgd", "adagrad", "rowwise_adagrad", "ftrl", "adam", "radagrad"};
constexpr std::initializer_list<const char*> kDenseOptimizers = {
    "sgd", "momentum", "adagrad", "adam", "adamw"};
constexpr std::initializer_list<const char*> kModelTypes = {
    "lr", "fm", "deepfm", "wide_deep", "dcn_v2", "mlp"};
constexpr std::initializer_list<const char*> kFormats = {
    "criteo", "csv", "tsv", "jsonl", "libsvm", "libffm"};

bool OneOf(const std::string& v, std::initializer_list<const char*> options) {
  for (const char* o : options) {
    if (v == o) return true;
  }
  return false;
}

std::string ListOf(std::initializer_list<const char*> options) {
  return absl::StrJoin(options, ", ");
}

// Reads typed values out of a YAML tree and turns every problem into an error
// that names the file, the line and the field.
class ConfigReader {
 public:
  ConfigReader(std::string file, std::map<std::string, std::string> overridden)
      : file_(std::move(file)), overridden_(std::move(overridden)) {}

  absl::Status Error(const YAML::Node& node, const std::string& path,
                     const std::string& message) const {
    std::string where = file_;
    auto it = overridden_.find(path);
    if (it != overridden_.end()) {
      where += absl::StrCat(" (--set ", it->second, ")");
    } else if (node.IsDefined() && !node.Mark().is_null()) {
      where += absl::StrCat(":", node.Mark().line + 1);
    }
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", path, ": ", message));
  }

  // Fails if `node` holds keys other than `allowed`.
  absl::Status CheckKeys(const YAML::Node& node, const std::string& path,
                         std::initializer_list<const char*> allowed) const {
    if (!node.IsMap()) {
      return Error(node, path, "expected a map of keys");
    }
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      if (!OneOf(key, allowed)) {
        return Error(
            kv.first, Join(path, key),
            absl::StrCat("unknown key; expected one of ", ListOf(allowed)));
      }
    }
    return absl::OkStatus();
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : absl::StrCat(path, ".", key);
  }

  absl::Status Get(const YAML::Node& map, const std::string& path,
                   const char* key, std::string* out) const {
    YAML::Node v = map[key];
    if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
    if (!v.IsScalar()) {
      return Error(v, Join(path, key), "expected a string");
    }
    *out = v.Scalar();
    return absl::OkStatus();
  }

  absl::Status Get(const YAML::Node& map, const std::string& path,
                   const char* key, bool* out) const {
    YAML::Node v = map[key];
    if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
    std::string s = v.IsScalar() ? absl::AsciiStrToLower(v.Scalar()) : "";
    if (s == "true" || s == "yes" || s == "on") {
      *out = true;
    } else if (s == "false" || s == "no" || s == "off") {
      *out = false;
    } else {
      return Error(v, Join(path, key), "expected true or false");
    }
    return absl::OkStatus();
  }

  absl::Status Get(const YAML::Node& map, const std::string& path,
                   const char* key, double* out) const {
    YAML::Node v = map[key];
    if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
    double d;
    if (!v.IsScalar() || !absl::SimpleAtod(v.Scalar(), &d) ||
        !std::isfinite(d)) {
      return Error(v, Join(path, key),
                   absl::StrCat("expected a number, got '", Show(v), "'"));
    }
    *out = d;
    return absl::OkStatus();
  }

  absl::Status Get(const YAML::Node& map, const std::string& path,
                   const char* key, float* out) const {
    double d = *out;
    RETURN_IF_ERROR(Get(map, path, key, &d));
    *out = static_cast<float>(d);
    return absl::OkStatus();
  }

  absl::Status Get(const YAML::Node& map, const std::string& path,
                   const char* key, int64_t* out) const {
    YAML::Node v = map[key];
    if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
    int64_t i;
    if (!v.IsScalar() || !absl::SimpleAtoi(v.Scalar(), &i)) {
      return Error(v, Join(path, key),
                   absl::StrCat("expected an integer, got '", Show(v), "'"));
    }
    *out = i;
    return absl::OkStatus();
  }

  absl::Status Get(const YAML::Node& map, const std::string& path,
                   const char* key, int* out) const {
    int64_t i = *out;
    RETURN_IF_ERROR(Get(map, path, key, &i));
    if (i < std::numeric_limits<int>::min() ||
        i > std::numeric_limits<int>::max()) {
      return Error(map[key], Join(path, key), "integer out of range");
    }
    *out = static_cast<int>(i);
    return absl::OkStatus();
  }

  absl::Status Get(const YAML::Node& map, const std::string& path,
                   const char* key, uint64_t* out) const {
    int64_t i = static_cast<int64_t>(*out);
    RETURN_IF_ERROR(Get(map, path, key, &i));
    if (i < 0) return Error(map[key], Join(path, key), "must be >= 0");
    *out = static_cast<uint64_t>(i);
    return absl::OkStatus();
  }

  absl::Status Get(const YAML::Node& map, const std::string& path,
                   const char* key, std::vector<std::string>* out) const {
    YAML::Node v = map[key];
    if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
    if (!v.IsSequence()) {
      return Error(v, Join(path, key), "expected a list of strings");
    }
    out->clear();
    for (const auto& e : v) {
      if (!e.IsScalar()) {
        return Error(e, Join(path, key), "expected a list of strings");
      }
      out->push_back(e.Scalar());
    }
    return absl::OkStatus();
  }

  absl::Status Get(const YAML::Node& map, const std::string& path,
                   const char* key, std::vector<int>* out) const {
    YAML::Node v = map[key];
    if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
    if (!v.IsSequence()) {
      return Error(v, Join(path, key), "expected a list of integers");
    }
    out->clear();
    for (const auto& e : v) {
      int i;
      if (!e.IsScalar() || !absl::SimpleAtoi(e.Scalar(), &i)) {
        return Error(e, Join(path, key), "expected a list of integers");
      }
      out->push_back(i);
    }
    return absl::OkStatus();
  }

  // A duration: a number with a unit (ms, s, m, h, d); a bare number is
  // seconds. Stored in milliseconds.
  absl::Status GetDurationMs(const YAML::Node& map, const std::string& path,
                             const char* key, int64_t* out) const {
    YAML::Node v = map[key];
    if (!v.IsDefined() || v.IsNull()) return absl::OkStatus();
    std::string s =
        v.IsScalar() ? std::string(absl::StripAsciiWhitespace(v.Scalar())) : "";
    static const std::pair<const char*, double> kUnits[] = {
        {"ms", 1.0}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}};
    double scale = 1e3;
    for (const auto& [suffix, ms] : kUnits) {
      if (absl::EndsWith(s, suffix) && (s.size() > strlen(suffix)) &&
          (std::isdigit(
               static_cast<unsigned char>(s[s.size() - strlen(suffix) - 1])) ||
           s[s.size() - strlen(suffix) - 1] == '.')) {
        scale = ms;
        s.resize(s.size() - strlen(suffix));
        break;
      }
    }
    double d;
    if (!absl::SimpleAtod(s, &d) || d < 0 || !std::isfinite(d)) {
      return Error(v, Join(path, key),
                   absl::StrCat("expected a duration such as 500ms, 30s, 12h "
                                "or 7d, got '",
                                Show(v), "'"));
    }
    *out = static_cast<int64_t>(std::llround(d * scale));
    return absl::OkStatus();
  }

  // A byte size: a number with an optional unit (KB, MB, GB, KiB, MiB, GiB).
  absl::Status GetBytes(const YAML::Node& map, const std::string& path,
                        const char* key, int64_t* out) const {
    YAML::Node v = map[key];
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
      return Error(v, Join(path, key),
                   absl::StrCat("expected a size such as 512MiB or 2GB, got '",
                                Show(v), "'"));
    }
    *out = static_cast<int64_t>(std::llround(d * scale));
    return absl::OkStatus();
  }

  static std::string Show(const YAML::Node& v) {
    if (v.IsScalar()) return v.Scalar();
    std::stringstream ss;
    ss << v;
    return ss.str();
  }

 private:
  std::string file_;
  std::map<std::string, std::string> overridden_;
};

// Applies one "a.b.c=value" override to the tree. A path component that
// addresses a list is either an index or the `name` of an element.
absl::Status ApplyOverride(YAML::Node root, const std::string& override,
                           std::string* normalized_path) {
  size_t eq = override.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", override, ": expected path.to.key=value"));
  }
  std::string path = override.substr(0, eq);
  std::string value_text = override.substr(eq + 1);
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", override, ": value is not valid YAML: ", e.msg));
  }
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  YAML::Node node = root;
  std::vector<std::string> normalized;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", override, ": empty path component"));
    }
    const bool last = i + 1 == parts.size();
    if (node.IsSequence()) {
      size_t index;
      if (!absl::SimpleAtoi(part, &index)) {
        bool found = false;
        for (size_t j = 0; j < node.size(); ++j) {
          YAML::Node name = node[j]["name"];
          if ((name.IsDefined() && name.IsScalar() && name.Scalar() == part) ||
              (node[j].IsScalar() && node[j].Scalar() == part)) {
            index = j;
            found = true;
            break;
          }
        }
        if (!found) {
          return absl::InvalidArgumentError(
              absl::StrCat("--set ", override, ": no element named '", part,
                           "' in ", absl::StrJoin(normalized, ".")));
        }
      }
      if (index >= node.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--set ", override, ": index ", part,
                         " out of range (", node.size(), " elements)"));
      }
      normalized.push_back(absl::StrCat(index));
      if (last) {
        node[index] = value;
      } else {
        // A list element given in short form ("- C1") becomes a map.
        if (node[index].IsScalar()) {
          YAML::Node expanded;
          expanded["name"] = node[index].Scalar();
          node[index] = expanded;
        }
        node.reset(node[index]);
      }
    } else {
      if (!node.IsMap() && !node.IsNull() && node.IsDefined()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--set ", override, ": '",
                         absl::StrJoin(normalized, "."), "' is not a map"));
      }
      normalized.push_back(part);
      if (last) {
        node[part] = value;
      } else {
        YAML::Node child = node[part];
        if (!child.IsDefined() || child.IsNull()) {
          node[part] = YAML::Node(YAML::NodeType::Map);
        }
        node.reset(node[part]);
      }
    }
  }
  *normalized_path = absl::StrJoin(normalized, ".");
  return absl::OkStatus();
}

std::string ResolvePath(const std::string& dir, const std::string& p) {
  if (p.empty() || p[0] == '/' || dir.empty()) return p;
  return (std::filesystem::path(dir) / p).lexically_normal().string();
}

absl::Status ReadOptimizer(const ConfigReader& r, const YAML::Node& node,
                           const std::string& path, bool dense,
                           OptimizerSpec* out) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  if (node.IsScalar()) {
    out->type = node.Scalar();
  } else {
    RETURN_IF_ERROR(r.CheckKeys(
        node, path,
        {"type", "learning_rate", "initial_accumulator", "beta1", "beta2",
         "epsilon", "momentum", "weight_decay", "l1", "l2", "beta"}));
    RETURN_IF_ERROR(r.Get(node, path, "type", &out->type));
    RETURN_IF_ERROR(r.Get(node, path, "learning_rate", &out->learning_rate));
    RETURN_IF_ERROR(
        r.Get(node, path, "initial_accumulator", &out->initial_accumulator));
    RETURN_IF_ERROR(r.Get(node, path, "beta1", &out->beta1));
    RETURN_IF_ERROR(r.Get(node, path, "beta2", &out->beta2));
    RETURN_IF_ERROR(r.Get(node, path, "epsilon", &out->epsilon));
    RETURN_IF_ERROR(r.Get(node, path, "momentum", &out->momentum));
    RETURN_IF_ERROR(r.Get(node, path, "weight_decay", &out->weight_decay));
    RETURN_IF_ERROR(r.Get(node, path, "l1", &out->l1));
    RETURN_IF_ERROR(r.Get(node, path, "l2", &out->l2));
    RETURN_IF_ERROR(r.Get(node, path, "beta", &out->beta));
  }
  const auto& allowed = dense ? kDenseOptimizers : kSparseOptimizers;
  if (!OneOf(out->type, allowed)) {
    return r.Error(node.IsMap() ? node["type"] : node,
                   node.IsMap() ? ConfigReader::Join(path, "type") : path,
                   absl::StrCat("unknown optimizer '", out->type,
                                "'; expected one of ", ListOf(allowed)));
  }
  if (!(out->learning_rate > 0)) {
    return r.Error(node["learning_rate"],
                   ConfigReader::Join(path, "learning_rate"),
                   absl::StrCat("must be > 0, got ", out->learning_rate));
  }
  if (out->beta1 < 0 || out->beta1 >= 1 || out->beta2 < 0 || out->beta2 >= 1) {
    return r.Error(node, path, "beta1 and beta2 must lie in [0, 1)");
  }
  if (out->l1 < 0 || out->l2 < 0 || out->epsilon <= 0 ||
      out->initial_accumulator < 0 || out->weight_decay < 0) {
    return r.Error(node, path,
                   "l1, l2, weight_decay and initial_accumulator must be >= "
                   "0 and epsilon > 0");
  }
  return absl::OkStatus();
}

absl::Status ReadTable(const ConfigReader& r, const YAML::Node& node,
                       const std::string& path, TableSpec* t) {
  if (!node.IsMap()) return r.Error(node, path, "expected a map of keys");
  RETURN_IF_ERROR(
      r.CheckKeys(node, path,
                  {"name", "dim", "initializer", "optimizer", "admission",
                   "ttl", "memory_budget", "serving_precision"}));
  RETURN_IF_ERROR(r.Get(node, path, "dim", &t->dim));
  if (node["dim"].IsDefined() && (t->dim <= 0 || t->dim > 4096)) {
    return r.Error(node["dim"], ConfigReader::Join(path, "dim"),
                   absl::StrCat("must be in 1..4096, got ", t->dim));
  }
  YAML::Node init = node["initializer"];
  if (init.IsDefined() && !init.IsNull()) {
    std::string ipath = ConfigReader::Join(path, "initializer");
    if (init.IsScalar()) {
      t->initializer.type = init.Scalar();
    } else {
      RETURN_IF_ERROR(
          r.CheckKeys(init, ipath, {"type", "stddev", "range", "value"}));
      RETURN_IF_ERROR(r.Get(init, ipath, "type", &t->initializer.type));
      RETURN_IF_ERROR(r.Get(init, ipath, "stddev", &t->initializer.stddev));
      RETURN_IF_ERROR(r.Get(init, ipath, "range", &t->initializer.range));
      RETURN_IF_ERROR(r.Get(init, ipath, "value", &t->initializer.value));
    }
    if (!OneOf(t->initializer.type,
               {"normal", "uniform", "zeros", "constant"})) {
      return r.Error(init, ipath,
                     absl::StrCat("unknown initializer '", t->initializer.type,
                                  "'; expected one of normal, uniform, zeros, "
                                  "constant"));
    }
    if (t->initializer.stddev < 0 || t->initializer.range < 0) {
      return r.Error(init, ipath, "stddev and range must be >= 0");
    }
  }
  RETURN_IF_ERROR(ReadOptimizer(r, node["optimizer"],
                                ConfigReader::Join(path, "optimizer"),
                                /*dense=*/false, &t->optimizer));
  YAML::Node adm = node["admission"];
  if (adm.IsDefined() && !adm.IsNull()) {
    std::string apath = ConfigReader::Join(path, "admission");
    RETURN_IF_ERROR(r.CheckKeys(
        adm, apath, {"min_count", "probability", "decay_half_life"}));
    int64_t min_count = t->admission.min_count;
    RETURN_IF_ERROR(r.Get(adm, apath, "min_count", &min_count));
    if (min_count < 1 || min_count > 65535) {
      return r.Error(adm["min_count"], ConfigReader::Join(apath, "min_count"),
                     absl::StrCat("must be in 1..65535, got ", min_count));
    }
    t->admission.min_count = static_cast<uint32_t>(min_count);
    RETURN_IF_ERROR(
        r.Get(adm, apath, "probability", &t->admission.probability));
    if (!(t->admission.probability > 0 && t->admission.probability <= 1)) {
      return r.Error(
          adm["probability"], ConfigReader::Join(apath, "probability"),
          absl::StrCat("must be in (0, 1], got ", t->admission.probability));
    }
    int64_t half_life_ms = 0;
    RETURN_IF_ERROR(
        r.GetDurationMs(adm, apath, "decay_half_life", &half_life_ms));
    if (adm["decay_half_life"].IsDefined()) {
      t->admission.decay_half_life_s = half_life_ms / 1e3;
    }
  }
  RETURN_IF_ERROR(r.GetDurationMs(node, path, "ttl", &t->ttl_ms));
  RETURN_IF_ERROR(
      r.GetBytes(node, path, "memory_budget", &t->memory_budget_bytes));
  RETURN_IF_ERROR(
      r.Get(node, path, "serving_precision", &t->serving_precision));
  if (t->serving_precision != "fp32" && t->serving_precision != "fp16") {
    return r.Error(node["serving_precision"],
                   ConfigReader::Join(path, "serving_precision"),
                   absl::StrCat("expected fp32 or fp16, got '",
                                t->serving_precision, "'"));
  }
  return absl::OkStatus();
}

absl::Status ReadSchema(const ConfigReader& r, const YAML::Node& node,
                        const std::string& dir, SchemaSpec* s) {
  const std::string path = "schema";
  if (!node.IsDefined() || node.IsNull()) {
    return r.Error(node, path, "missing; a job needs a schema with slots");
  }
  RETURN_IF_ERROR(r.CheckKeys(node, path,
                              {"slots", "dense", "labels", "label", "timestamp",
                               "request_id", "weight", "side_tables"}));
  // Slots: "- C1" or "- {name: C1, table: ..., ...}".
  YAML::Node slots = node["slots"];
  if (slots.IsDefined() && !slots.IsNull() && !slots.IsSequence()) {
    return r.Error(slots, "schema.slots", "expected a list of slots");
  }
  std::set<std::string> names;
  for (size_t i = 0; slots.IsDefined() && i < slots.size(); ++i) {
    YAML::Node e = slots[i];
    std::string p = absl::StrCat("schema.slots.", i);
    SlotSpec slot;
    if (e.IsScalar()) {
      slot.name = e.Scalar();
    } else {
      RETURN_IF_ERROR(r.CheckKeys(e, p,
                                  {"name", "table", "column", "multi_valued",
                                   "separator", "weighted", "pooling"}));
      RETURN_IF_ERROR(r.Get(e, p, "name", &slot.name));
      RETURN_IF_ERROR(r.Get(e, p, "table", &slot.table));
      RETURN_IF_ERROR(r.Get(e, p, "column", &slot.column));
      RETURN_IF_ERROR(r.Get(e, p, "multi_valued", &slot.multi_valued));
      RETURN_IF_ERROR(r.Get(e, p, "separator", &slot.separator));
      RETURN_IF_ERROR(r.Get(e, p, "weighted", &slot.weighted));
      std::string pooling = "sum";
      RETURN_IF_ERROR(r.Get(e, p, "pooling", &pooling));
      if (pooling == "sum") {
        slot.pooling = Pooling::kSum;
      } else if (pooling == "mean") {
        slot.pooling = Pooling::kMean;
      } else {
        return r.Error(
            e["pooling"], p + ".pooling",
            absl::StrCat("expected sum or mean, got '", pooling, "'"));
      }
      if (slot.multi_valued && slot.separator.empty()) {
        return r.Error(e["separator"], p + ".separator",
                       "must not be empty for a multi-valued slot");
      }
    }
    if (slot.name.empty()) return r.Error(e, p, "a slot needs a name");
    if (!names.insert(slot.name).second) {
      return r.Error(
          e, p,
          absl::StrCat("duplicate slot or feature name '", slot.name, "'"));
    }
    if (slot.table.empty()) slot.table = slot.name;
    if (slot.column.empty()) slot.column = slot.name;
    s->slots.push_back(std::move(slot));
  }
  YAML::Node dense = node["dense"];
  if (dense.IsDefined() && !dense.IsNull() && !dense.IsSequence()) {
    return r.Error(dense, "schema.dense", "expected a list of features");
  }
  for (size_t i = 0; dense.IsDefined() && i < dense.size(); ++i) {
    YAML::Node e = dense[i];
    std::string p = absl::StrCat("schema.dense.", i);
    DenseSpec d;
    if (e.IsScalar()) {
      d.name = e.Scalar();
    } else {
      RETURN_IF_ERROR(r.CheckKeys(e, p,
                                  {"name", "column", "transform", "clip_min",
                                   "clip_max", "mean", "stddev", "missing"}));
      RETURN_IF_ERROR(r.Get(e, p, "name", &d.name));
      RETURN_IF_ERROR(r.Get(e, p, "column", &d.column));
      std::string transform = "none";
      RETURN_IF_ERROR(r.Get(e, p, "transform", &transform));
      if (transform == "none") {
        d.transform = DenseTransform::kNone;
      } else if (transform == "log") {
        d.transform = DenseTransform::kLog;
      } else if (transform == "clip") {
        d.transform = DenseTransform::kClip;
      } else if (transform == "zscore") {
        d.transform = DenseTransform::kZScore;
      } else {
        return r.Error(e["transform"], p + ".transform",
                       absl::StrCat("expected none, log, clip or zscore, got '",
                                    transform, "'"));
      }
      RETURN_IF_ERROR(r.Get(e, p, "clip_min", &d.clip_min));
      RETURN_IF_ERROR(r.Get(e, p, "clip_max", &d.clip_max));
      RETURN_IF_ERROR(r.Get(e, p, "mean", &d.mean));
      RETURN_IF_ERROR(r.Get(e, p, "stddev", &d.stddev));
      RETURN_IF_ERROR(r.Get(e, p, "missing", &d.missing));
      if (d.transform == DenseTransform::kClip && !(d.clip_min < d.clip_max)) {
        return r.Error(e, p, "clip needs clip_min < clip_max");
      }
      if (d.transform == DenseTransform::kZScore && !(d.stddev > 0)) {
        return r.Error(e["stddev"], p + ".stddev", "must be > 0 for zscore");
      }
    }
    if (d.name.empty()) return r.Error(e, p, "a dense feature needs a name");
    if (!names.insert(d.name).second) {
      return r.Error(
          e, p, absl::StrCat("duplicate slot or feature name '", d.name, "'"));
    }
    if (d.column.empty()) d.column = d.name;
    s->dense.push_back(std::move(d));
  }
  // Labels: "label: click" (one column) or "labels: [{name, column,
  // threshold}]".
  auto read_label = [&](const YAML::Node& e,
                        const std::string& p) -> absl::Status {
    LabelSpec l;
    if (e.IsScalar()) {
      l.name = e.Scalar();
    } else {
      RETURN_IF_ERROR(r.CheckKeys(e, p, {"name", "column", "threshold"}));
      RETURN_IF_ERROR(r.Get(e, p, "name", &l.name));
      RETURN_IF_ERROR(r.Get(e, p, "column", &l.column));
      if (e["threshold"].IsDefined()) {
        l.has_threshold = true;
        RETURN_IF_ERROR(r.Get(e, p, "threshold", &l.threshold));
      }
    }
    if (l.name.empty()) l.name = l.column;
    if (l.name.empty()) return r.Error(e, p, "a label needs a name or column");
    if (l.column.empty()) l.column = l.name;
    s->labels.push_back(std::move(l));
    return absl::OkStatus();
  };
  if (node["label"].IsDefined() && node["labels"].IsDefined()) {
    return r.Error(node["labels"], "schema.labels",
                   "give either label or labels, not both");
  }
  if (node["label"].IsDefined()) {
    RETURN_IF_ERROR(read_label(node["label"], "schema.label"));
  }
  YAML::Node labels = node["labels"];
  if (labels.IsDefined()) {
    if (!labels.IsSequence()) {
      return r.Error(labels, "schema.labels", "expected a list of labels");
    }
    for (size_t i = 0; i < labels.size(); ++i) {
      RETURN_IF_ERROR(read_label(labels[i], absl::StrCat("schema.labels.", i)));
    }
  }
  YAML::Node ts = node["timestamp"];
  if (ts.IsDefined() && !ts.IsNull()) {
    if (ts.IsScalar()) {
      s->timestamp_column = ts.Scalar();
    } else {
      RETURN_IF_ERROR(r.CheckKeys(ts, "schema.timestamp", {"column", "unit"}));
      RETURN_IF_ERROR(
          r.Get(ts, "schema.timestamp", "column", &s->timestamp_column));
      std::string unit = "s";
      RETURN_IF_ERROR(r.Get(ts, "schema.timestamp", "unit", &unit));
      if (unit == "s") {
        s->timestamp_unit_ms = 1000.0;
      } else if (unit == "ms") {
        s->timestamp_unit_ms = 1.0;
      } else if (unit == "us") {
        s->timestamp_unit_ms = 1e-3;
      } else {
        return r.Error(ts["unit"], "schema.timestamp.unit",
                       absl::StrCat("expected s, ms or us, got '", unit, "'"));
      }
    }
  }
  RETURN_IF_ERROR(r.Get(node, path, "request_id", &s->request_id_column));
  RETURN_IF_ERROR(r.Get(node, path, "weight", &s->weight_column));
  YAML::Node sides = node["side_tables"];
  if (sides.IsDefined() && !sides.IsNull() && !sides.IsSequence()) {
    return r.Error(sides, "schema.side_tables", "expected a list");
  }
  for (size_t i = 0; sides.IsDefined() && i < sides.size(); ++i) {
    YAML::Node e = sides[i];
    std::string p = absl::StrCat("schema.side_tables.", i);
    SideTableSpec st;
    RETURN_IF_ERROR(
        r.CheckKeys(e, p, {"name", "path", "key", "join", "delimiter"}));
    RETURN_IF_ERROR(r.Get(e, p, "name", &st.name));
    RETURN_IF_ERROR(r.Get(e, p, "path", &st.path));
    RETURN_IF_ERROR(r.Get(e, p, "key", &st.key_column));
    RETURN_IF_ERROR(r.Get(e, p, "join", &st.join_column));
    RETURN_IF_ERROR(r.Get(e, p, "delimiter", &st.delimiter));
    if (st.name.empty() || st.path.empty() || st.key_column.empty()) {
      return r.Error(e, p, "a side table needs name, path and key");
    }
    if (st.join_column.empty()) st.join_column = st.key_column;
    if (st.delimiter.size() != 1) {
      return r.Error(e["delimiter"], p + ".delimiter",
                     "must be a single character");
    }
    st.path = ResolvePath(dir, st.path);
    s->side_tables.push_back(std::move(st));
  }
  if (s->slots.empty() && s->dense.empty()) {
    return r.Error(node, path, "declares no slots and no dense features");
  }
  for (const SlotSpec& slot : s->slots) {
    size_t dot = slot.column.find('.');
    if (dot == std::string::npos) continue;
    std::string side = slot.column.substr(0, dot);
    bool found = false;
    for (const auto& st : s->side_tables) found |= st.name == side;
    if (!found) {
      return r.Error(
          node["slots"], "schema.slots",
          absl::StrCat("slot '", slot.name, "' reads column '", slot.column,
                       "' but no side table is named '", side, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadSource(const ConfigReader& r, const YAML::Node& node,
                        const std::string& dir, SourceSpec* s) {
  const std::string path = "source";
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  RETURN_IF_ERROR(r.CheckKeys(
      node, path,
      {"type", "path", "format", "delimiter", "header", "columns", "follow",
       "max_line_bytes", "dead_letter", "kind", "rows", "seed"}));
  RETURN_IF_ERROR(r.Get(node, path, "type", &s->type));
  RETURN_IF_ERROR(r.Get(node, path, "path", &s->path));
  RETURN_IF_ERROR(r.Get(node, path, "format", &s->format));
  RETURN_IF_ERROR(r.Get(node, path, "delimiter", &s->delimiter));
  RETURN_IF_ERROR(r.Get(node, path, "header", &s->header));
  RETURN_IF_ERROR(r.Get(node, path, "columns", &s->columns));
  RETURN_IF_ERROR(r.Get(node, path, "follow", &s->follow));
  RETURN_IF_ERROR(r.GetBytes(node, path, "max_line_bytes", &s->max_line_bytes));
  RETURN_IF_ERROR(r.Get(node, path, "dead_letter", &s->dead_letter));
  RETURN_IF_ERROR(r.Get(node, path, "kind", &s->generator_kind));
  RETURN_IF_ERROR(r.Get(node, path, "rows", &s->generator_rows));
  RETURN_IF_ERROR(r.Get(node, path, "seed", &s->generator_seed));
  if (s->type != "file" && s->type != "generator") {
    return r.Error(
        node["type"], "source.type",
        absl::StrCat("expected file or generator, got '", s->type, "'"));
  }
  if (!OneOf(s->format, kFormats)) {
    return r.Error(node["format"], "source.format",
                   absl::StrCat("unknown format '", s->format,
                                "'; expected one of ", ListOf(kFormats)));
  }
  if (s->delimiter.empty()) s->delimiter = s->format == "csv" ? "," : "\t";
  if (s->delimiter.size() != 1) {
    return r.Error(node["delimiter"], "source.delimiter",
                   "must be a single character");
  }
  if (s->type == "generator") {
    if (s->generator_kind != "criteo" && s->generator_kind != "impressions") {
      return r.Error(node["kind"], "source.kind",
                     absl::StrCat("expected criteo or impressions, got '",
                                  s->generator_kind, "'"));
    }
    if (s->generator_rows <= 0) {
      return r.Error(node["rows"], "source.rows",
                     absl::StrCat("must be > 0, got ", s->generator_rows));
    }
  }
  if (s->max_line_bytes < 64) {
    return r.Error(node["max_line_bytes"], "source.max_line_bytes",
                   "must be at least 64 bytes");
  }
  s->path = ResolvePath(dir, s->path);
  s->dead_letter = ResolvePath(dir, s->dead_letter);
  return absl::OkStatus();
}

absl::Status ReadModel(const ConfigReader& r, const YAML::Node& node,
                       ModelSpec* m) {
  const std::string path = "model";
  m->dense_optimizer.type = "adam";
  m->dense_optimizer.learning_rate = 0.001;
  m->wide_optimizer.type = "ftrl";
  m->wide_optimizer.learning_rate = 0.05;
  m->wide_optimizer.l2 = 1.0;
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  if (node.IsScalar()) {
    m->type = node.Scalar();
  } else {
    RETURN_IF_ERROR(r.CheckKeys(
        node, path,
        {"type", "hidden", "activation", "cross_layers", "dense_optimizer",
         "wide_optimizer", "negative_sampling_rate"}));
    RETURN_IF_ERROR(r.Get(node, path, "type", &m->type));
    RETURN_IF_ERROR(r.Get(node, path, "hidden", &m->hidden));
    RETURN_IF_ERROR(r.Get(node, path, "activation", &m->activation));
    RETURN_IF_ERROR(r.Get(node, path, "cross_layers", &m->cross_layers));
    RETURN_IF_ERROR(ReadOptimizer(r, node["dense_optimizer"],
                                  "model.dense_optimizer", /*dense=*/true,
                                  &m->dense_optimizer));
    RETURN_IF_ERROR(ReadOptimizer(r, node["wide_optimizer"],
                                  "model.wide_optimizer", /*dense=*/false,
                                  &m->wide_optimizer));
    RETURN_IF_ERROR(r.Get(node, path, "negative_sampling_rate",
                          &m->negative_sampling_rate));
  }
  if (!OneOf(m->type, kModelTypes)) {
    return r.Error(node.IsMap() ? node["type"] : node, "model.type",
                   absl::StrCat("unknown model '", m->type,
                                "'; expected one of ", ListOf(kModelTypes)));
  }
  for (int h : m->hidden) {
    if (h <= 0 || h > 65536) {
      return r.Error(node["hidden"], "model.hidden",
                     absl::StrCat("layer sizes must be in 1..65536, got ", h));
    }
  }
  if (!OneOf(m->activation, {"relu", "sigmoid", "tanh", "identity"})) {
    return r.Error(node["activation"], "model.activation",
                   absl::StrCat("expected relu, sigmoid, tanh or identity, "
                                "got '",
                                m->activation, "'"));
  }
  if (m->cross_layers < 0 || m->cross_layers > 16) {
    return r.Error(node["cross_layers"], "model.cross_layers",
                   absl::StrCat("must be in 0..16, got ", m->cross_layers));
  }
  if (!(m->negative_sampling_rate > 0 && m->negative_sampling_rate <= 1)) {
    return r.Error(
        node["negative_sampling_rate"], "model.negative_sampling_rate",
        absl::StrCat("must be in (0, 1], got ", m->negative_sampling_rate));
  }
  return absl::OkStatus();
}

absl::Status ReadTrain(const ConfigReader& r, const YAML::Node& node,
                       TrainSpec* t) {
  const std::string path = "train";
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  RETURN_IF_ERROR(r.CheckKeys(
      node, path,
      {"batch_size", "threads", "seed", "window_examples", "deterministic"}));
  RETURN_IF_ERROR(r.Get(node, path, "batch_size", &t->batch_size));
  RETURN_IF_ERROR(r.Get(node, path, "threads", &t->threads));
  RETURN_IF_ERROR(r.Get(node, path, "seed", &t->seed));
  RETURN_IF_ERROR(r.Get(node, path, "window_examples", &t->window_examples));
  RETURN_IF_ERROR(r.Get(node, path, "deterministic", &t->deterministic));
  if (t->batch_size <= 0 || t->batch_size > 1 << 20) {
    return r.Error(node["batch_size"], "train.batch_size",
                   absl::StrCat("must be in 1..1048576, got ", t->batch_size));
  }
  if (t->threads <= 0 || t->threads > 256) {
    return r.Error(node["threads"], "train.threads",
                   absl::StrCat("must be in 1..256, got ", t->threads));
  }
  if (t->window_examples <= 0) {
    return r.Error(node["window_examples"], "train.window_examples",
                   absl::StrCat("must be > 0, got ", t->window_examples));
  }
  return absl::OkStatus();
}

absl::Status ReadSync(const ConfigReader& r, const YAML::Node& node,
                      SyncSpec* s) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  RETURN_IF_ERROR(r.CheckKeys(node, "sync", {"interval"}));
  RETURN_IF_ERROR(r.GetDurationMs(node, "sync", "interval", &s->interval_ms));
  if (s->interval_ms < 10 || s->interval_ms > 3600 * 1000) {
    return r.Error(node["interval"], "sync.interval",
                   absl::StrCat("must be between 10ms and 1h, got ",
                                s->interval_ms, "ms"));
  }
  return absl::OkStatus();
}

absl::Status ReadServe(const ConfigReader& r, const YAML::Node& node,
                       ServeSpec* s) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  RETURN_IF_ERROR(
      r.CheckKeys(node, "serve",
                  {"bind", "port", "max_candidates", "max_body_bytes",
                   "stale_after", "http_threads", "admin_token"}));
  RETURN_IF_ERROR(r.Get(node, "serve", "admin_token", &s->admin_token));
  RETURN_IF_ERROR(r.Get(node, "serve", "bind", &s->bind));
  RETURN_IF_ERROR(r.Get(node, "serve", "port", &s->port));
  RETURN_IF_ERROR(r.Get(node, "serve", "max_candidates", &s->max_candidates));
  RETURN_IF_ERROR(
      r.GetBytes(node, "serve", "max_body_bytes", &s->max_body_bytes));
  RETURN_IF_ERROR(
      r.GetDurationMs(node, "serve", "stale_after", &s->stale_after_ms));
  RETURN_IF_ERROR(r.Get(node, "serve", "http_threads", &s->http_threads));
  if (s->bind.empty()) {
    return r.Error(node["bind"], "serve.bind", "must name an address");
  }
  if (s->port < 0 || s->port > 65535) {
    return r.Error(node["port"], "serve.port",
                   absl::StrCat("must be in 0..65535, got ", s->port));
  }
  if (s->max_candidates < 1 || s->max_candidates > 1000000) {
    return r.Error(
        node["max_candidates"], "serve.max_candidates",
        absl::StrCat("must be in 1..1000000, got ", s->max_candidates));
  }
  if (s->max_body_bytes < 64) {
    return r.Error(node["max_body_bytes"], "serve.max_body_bytes",
                   "must be at least 64 bytes");
  }
  if (s->http_threads < 1 || s->http_threads > 256) {
    return r.Error(node["http_threads"], "serve.http_threads",
                   absl::StrCat("must be in 1..256, got ", s->http_threads));
  }
  return absl::OkStatus();
}

absl::Status ReadCheckpoint(const ConfigReader& r, const YAML::Node& node,
                            const std::string& dir, CheckpointSpec* c) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  const std::string path = "checkpoint";
  RETURN_IF_ERROR(
      r.CheckKeys(node, path,
                  {"dir", "every_examples", "every", "full_every", "keep_full",
                   "on_exit", "zstd_level", "writer_nice"}));
  RETURN_IF_ERROR(r.Get(node, path, "dir", &c->dir));
  RETURN_IF_ERROR(r.Get(node, path, "every_examples", &c->every_examples));
  RETURN_IF_ERROR(r.GetDurationMs(node, path, "every", &c->every_ms));
  RETURN_IF_ERROR(r.Get(node, path, "full_every", &c->full_every));
  RETURN_IF_ERROR(r.Get(node, path, "keep_full", &c->keep_full));
  RETURN_IF_ERROR(r.Get(node, path, "on_exit", &c->on_exit));
  RETURN_IF_ERROR(r.Get(node, path, "zstd_level", &c->zstd_level));
  RETURN_IF_ERROR(r.Get(node, path, "writer_nice", &c->writer_nice));
  RETURN_IF_ERROR(r.Get(node, path, "max_write_mbps", &c->max_write_mbps));
  if (c->max_write_mbps < 0) {
    return r.Error(node["max_write_mbps"], "checkpoint.max_write_mbps",
                   "must be >= 0");
  }
  if (c->every_examples < 0) {
    return r.Error(node["every_examples"], "checkpoint.every_examples",
                   absl::StrCat("must be >= 0, got ", c->every_examples));
  }
  if (c->every_ms < 0) {
    return r.Error(node["every"], "checkpoint.every", "must be >= 0");
  }
  if (c->full_every < 1) {
    return r.Error(node["full_every"], "checkpoint.full_every",
                   absl::StrCat("must be >= 1, got ", c->full_every));
  }
  if (c->keep_full < 1) {
    return r.Error(node["keep_full"], "checkpoint.keep_full",
                   absl::StrCat("must be >= 1, got ", c->keep_full));
  }
  if (c->zstd_level < 1 || c->zstd_level > 19) {
    return r.Error(node["zstd_level"], "checkpoint.zstd_level",
                   absl::StrCat("must be in 1..19, got ", c->zstd_level));
  }
  if (c->writer_nice < 0 || c->writer_nice > 19) {
    return r.Error(node["writer_nice"], "checkpoint.writer_nice",
                   absl::StrCat("must be in 0..19, got ", c->writer_nice));
  }
  c->dir = ResolvePath(dir, c->dir);
  return absl::OkStatus();
}

absl::Status ReadSink(const ConfigReader& r, const YAML::Node& node,
                      const std::string& dir, SinkSpec* s) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  RETURN_IF_ERROR(r.CheckKeys(node, "sink", {"type", "path"}));
  RETURN_IF_ERROR(r.Get(node, "sink", "type", &s->type));
  RETURN_IF_ERROR(r.Get(node, "sink", "path", &s->path));
  if (s->type != "none" && s->type != "file") {
    return r.Error(node["type"], "sink.type",
                   absl::StrCat("expected none or file, got '", s->type, "'"));
  }
  if (s->type == "file" && s->path.empty()) {
    return r.Error(node, "sink.path", "a file sink needs a path");
  }
  s->path = ResolvePath(dir, s->path);
  return absl::OkStatus();
}

absl::Status ReadTables(const ConfigReader& r, const YAML::Node& root,
                        JobConfig* job) {
  // Defaults for every table, then the listed tables, then one table for
  // each slot whose table is not listed.
  TableSpec defaults;
  YAML::Node dnode = root["table_defaults"];
  if (dnode.IsDefined() && !dnode.IsNull()) {
    RETURN_IF_ERROR(ReadTable(r, dnode, "table_defaults", &defaults));
    if (dnode["name"].IsDefined()) {
      return r.Error(dnode["name"], "table_defaults.name",
                     "table_defaults cannot have a name");
    }
  }
  YAML::Node tables = root["tables"];
  std::vector<std::pair<std::string, YAML::Node>> entries;
  if (tables.IsDefined() && !tables.IsNull()) {
    if (tables.IsSequence()) {
      for (size_t i = 0; i < tables.size(); ++i) {
        YAML::Node e = tables[i];
        std::string p = absl::StrCat("tables.", i);
        if (!e.IsMap() || !e["name"].IsDefined() || !e["name"].IsScalar()) {
          return r.Error(e, p, "each table needs a name");
        }
        entries.emplace_back(e["name"].Scalar(), e);
      }
    } else if (tables.IsMap()) {
      for (const auto& kv : tables) {
        entries.emplace_back(kv.first.as<std::string>(), kv.second);
      }
    } else {
      return r.Error(tables, "tables", "expected a list or a map of tables");
    }
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [name, node] = entries[i];
    std::string p = tables.IsSequence() ? absl::StrCat("tables.", i)
                                        : absl::StrCat("tables.", name);
    if (!seen.insert(name).second) {
      return r.Error(node, p, absl::StrCat("duplicate table '", name, "'"));
    }
    TableSpec t = defaults;
    t.name = name;
    if (!node.IsNull()) RETURN_IF_ERROR(ReadTable(r, node, p, &t));
    job->tables.push_back(std::move(t));
  }
  std::set<std::string> used;
  for (const SlotSpec& slot : job->schema.slots) {
    used.insert(slot.table);
    if (seen.insert(slot.table).second) {
      TableSpec t = defaults;
      t.name = slot.table;
      job->tables.push_back(std::move(t));
    }
  }
  for (const TableSpec& t : job->tables) {
    if (!used.count(t.name)) {
      FRESHET_LOG_WARN("{}: table '{}' is used by no slot", job->path, t.name);
    }
  }
  return absl::OkStatus();
}

}  // namespace

const TableSpec* JobConfig::FindTable(const std::string& name) const {
  for (const TableSpec& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<JobConfig> ParseJobConfig(
    const std::string& yaml_text, const std::string& name,
    const std::string& dir, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ":", e.mark.column + 1,
                     ": not valid YAML: ", e.msg));
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected a map of top-level keys"));
  }
  std::map<std::string, std::string> overridden;
  for (const std::string& o : overrides) {
    std::string normalized;
    RETURN_IF_ERROR(ApplyOverride(root, o, &normalized));
    overridden[normalized] = o;
  }
  ConfigReader r(name, std::move(overridden));
  JobConfig job;
  job.path = name;
  job.dir = dir;
  try {
    RETURN_IF_ERROR(
        r.CheckKeys(root, "",
                    {"schema", "table_defaults", "tables", "model", "source",
                     "sink", "train", "sync", "serve", "checkpoint"}));
    RETURN_IF_ERROR(ReadSchema(r, root["schema"], dir, &job.schema));
    RETURN_IF_ERROR(ReadTables(r, root, &job));
    RETURN_IF_ERROR(ReadModel(r, root["model"], &job.model));
    RETURN_IF_ERROR(ReadSource(r, root["source"], dir, &job.source));
    RETURN_IF_ERROR(ReadSink(r, root["sink"], dir, &job.sink));
    RETURN_IF_ERROR(ReadTrain(r, root["train"], &job.train));
    RETURN_IF_ERROR(ReadSync(r, root["sync"], &job.sync));
    RETURN_IF_ERROR(ReadServe(r, root["serve"], &job.serve));
    RETURN_IF_ERROR(
        ReadCheckpoint(r, root["checkpoint"], dir, &job.checkpoint));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ": ", e.msg));
  }
  return job;
}

absl::StatusOr<JobConfig> LoadJobConfig(
    const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open job file: ", std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string dir = std::filesystem::path(path).parent_path().string();
  return ParseJobConfig(ss.str(), path, dir, overrides);
}

}  // namespace freshet
