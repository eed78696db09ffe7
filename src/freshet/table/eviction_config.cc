#include "freshet/table/eviction_config.h"

#include "absl/strings/str_cat.h"
#include "freshet/base/config_kinds.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

absl::Status ReadValuePolicy(const ConfigSection& s, EvictionSpec* spec) {
  RETURN_IF_ERROR(s.Get("samples", &spec->samples));
  int64_t half_life_ms = static_cast<int64_t>(spec->half_life_ms);
  RETURN_IF_ERROR(s.GetDurationMs("half_life", &half_life_ms));
  spec->half_life_ms = static_cast<double>(half_life_ms);
  RETURN_IF_ERROR(s.Get("positive_weight", &spec->positive_weight));
  std::string key, message;
  if (FindEvictionRangeError(*spec, &key, &message)) {
    // half_life is read in milliseconds but written as a duration.
    if (key == "half_life_ms") key = "half_life";
    return s.present() && s.is_map()
               ? s.Error(key, message)
               : s.Error(absl::StrCat(key, ": ", message));
  }
  return absl::OkStatus();
}

}  // namespace

bool FindEvictionRangeError(const EvictionSpec& spec, std::string* key,
                            std::string* message) {
  if (spec.policy != "value") {
    *key = "policy";
    *message = absl::StrCat("unknown eviction policy '", spec.policy,
                            "'; expected value");
    return true;
  }
  if (spec.samples < 1 || spec.samples > kMaxEvictionSamples) {
    *key = "samples";
    *message = absl::StrCat("must be in 1..", kMaxEvictionSamples, ", got ",
                            spec.samples);
    return true;
  }
  if (!(spec.half_life_ms > 0)) {
    *key = "half_life_ms";
    *message = absl::StrCat("must be > 0, got ", spec.half_life_ms, "ms");
    return true;
  }
  if (!(spec.positive_weight > 0)) {
    *key = "positive_weight";
    *message = absl::StrCat("must be > 0, got ", spec.positive_weight);
    return true;
  }
  return false;
}

absl::Status CheckEvictionSpec(const EvictionSpec& spec,
                               const std::string& table) {
  std::string key, message;
  if (FindEvictionRangeError(spec, &key, &message)) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", table, "': eviction.", key, ": ", message));
  }
  return absl::OkStatus();
}

absl::Status RegisterEvictionConfigs() {
  return EvictionKinds().Register(
      {"value", {"samples", "half_life", "positive_weight"}, ReadValuePolicy});
}

// Registers the eviction policies before main() in every binary linking the
// table layer: CMakeLists.txt links it with -u freshet_table_config_kinds.
int RegisterEvictionConfigsAtStartup() {
  absl::Status status = RegisterEvictionConfigs();
  if (!status.ok()) FRESHET_LOG_ERROR("eviction config: {}", status.ToString());
  return 1;
}

}  // namespace freshet

extern "C" {
extern const int freshet_table_config_kinds;
const int freshet_table_config_kinds =
    freshet::RegisterEvictionConfigsAtStartup();
}
