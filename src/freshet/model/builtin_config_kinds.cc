#include "freshet/model/builtin_config_kinds.h"

#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/source_config.h"
#include "freshet/model/model_config.h"
#include "freshet/optim/optimizer_config.h"

// Referred to by the model layer's link options so that this object, and its
// static initializer, is linked into every binary using the layer.
extern "C" {
extern const int freshet_builtin_config_kinds;
const int freshet_builtin_config_kinds = 1;
}

namespace freshet {
namespace {

absl::Status RegisterAll() {
  RETURN_IF_ERROR(RegisterOptimizerConfigs());
  RETURN_IF_ERROR(RegisterSourceConfigs());
  RETURN_IF_ERROR(RegisterFormatConfigs());
  RETURN_IF_ERROR(RegisterModelConfigs());
  return absl::OkStatus();
}

[[maybe_unused]] const bool kRegistered = [] {
  absl::Status status = RegisterBuiltinConfigKinds();
  if (!status.ok()) {
    FRESHET_LOG_ERROR("config kinds: {}", status.ToString());
  }
  return status.ok();
}();

}  // namespace

absl::Status RegisterBuiltinConfigKinds() {
  static const absl::Status* status = new absl::Status(RegisterAll());
  return *status;
}

}  // namespace freshet
