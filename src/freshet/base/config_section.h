// ConfigSection: one map (or scalar) of a job file, as the component that owns
// it reads it.
//
// base/config parses the YAML text, applies `--set` overrides and hands each
// section to its owner (a model, a source, a record format, an optimizer, ...)
// as a ConfigSection. The owner reads typed values with Get*() and reports
// problems with Error(): every message names the file, the line (or the
// `--set` override that supplied the value) and the dotted field path, e.g.
//   "job.yaml:12: tables.C7.dim: must be in 1..4096, got 0".
// A missing or null key leaves the output untouched, so a component puts its
// default in the value before reading.
//
// Thread safety: a ConfigSection is a read-only view, valid only while the
// ParseJobConfig() call that created it runs; do not keep it.
#ifndef FRESHET_BASE_CONFIG_SECTION_H_
#define FRESHET_BASE_CONFIG_SECTION_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace freshet {

// The job file being read: its name for messages, its folder for relative
// paths, and which field paths came from `--set` overrides.
struct ConfigFile {
  std::string name;
  std::string dir;
  std::map<std::string, std::string> overridden;  // normalized path → "--set"
};

class ConfigSection {
 public:
  // `file` must outlive the section. `node` may be undefined (an absent
  // section).
  ConfigSection(const ConfigFile* file, YAML::Node node, std::string path);

  // The dotted field path, e.g. "tables.C7.optimizer".
  const std::string& path() const { return path_; }
  // "path.key", or "key" at the top level.
  std::string PathOf(std::string_view key) const;

  // False when the section is absent or null.
  bool present() const { return node_.IsDefined() && !node_.IsNull(); }
  // (yaml-cpp throws on asking an absent node its type.)
  bool is_scalar() const { return node_.IsDefined() && node_.IsScalar(); }
  bool is_map() const { return node_.IsDefined() && node_.IsMap(); }
  bool is_sequence() const { return node_.IsDefined() && node_.IsSequence(); }
  // The text of a scalar section ("model: deepfm"); empty otherwise.
  std::string scalar() const { return is_scalar() ? node_.Scalar() : ""; }
  // True when this is a map holding `key` (null values included).
  bool Has(std::string_view key) const;

  // The value under `key` (absent if there is none).
  ConfigSection Child(std::string_view key) const;
  // Elements of a sequence.
  size_t size() const { return is_sequence() ? node_.size() : 0; }
  ConfigSection Element(size_t i) const;
  // Entries of a map, in file order.
  std::vector<std::pair<std::string, ConfigSection>> Entries() const;

  // An InvalidArgument error located at this section.
  absl::Status Error(std::string_view message) const;
  // An InvalidArgument error for field `key` of this section, located at its
  // value (or at the `--set` that supplied it), or at this section when the
  // key is absent.
  absl::Status Error(std::string_view key, std::string_view message) const;

  // Fails unless the section is a map whose keys are all in `allowed`; the
  // message lists `allowed`.
  absl::Status CheckKeys(absl::Span<const std::string> allowed) const;
  absl::Status CheckKeys(std::initializer_list<const char*> allowed) const;

  // Typed reads of field `key`; absent or null leaves `*out` as it is.
  absl::Status Get(std::string_view key, std::string* out) const;
  absl::Status Get(std::string_view key, bool* out) const;
  absl::Status Get(std::string_view key, double* out) const;
  absl::Status Get(std::string_view key, float* out) const;
  absl::Status Get(std::string_view key, int64_t* out) const;
  absl::Status Get(std::string_view key, int* out) const;
  absl::Status Get(std::string_view key, uint64_t* out) const;
  absl::Status Get(std::string_view key, std::vector<std::string>* out) const;
  absl::Status Get(std::string_view key, std::vector<int>* out) const;
  // A duration: a number with a unit (ms, s, m, h, d); a bare number is
  // seconds. Stored in milliseconds.
  absl::Status GetDurationMs(std::string_view key, int64_t* out) const;
  // A byte size: a number with an optional unit (B, KB, MB, GB, KiB, MiB,
  // GiB).
  absl::Status GetBytes(std::string_view key, int64_t* out) const;

  // `p` resolved against the job file's folder (absolute and empty paths are
  // returned as they are).
  std::string ResolvePath(const std::string& p) const;

 private:
  YAML::Node Value(std::string_view key) const;
  static std::string Show(const YAML::Node& v);
  absl::Status ErrorAt(const YAML::Node& node, const std::string& path,
                       std::string_view message) const;

  const ConfigFile* file_;
  YAML::Node node_;
  std::string path_;
};

}  // namespace freshet

#endif  // FRESHET_BASE_CONFIG_SECTION_H_
