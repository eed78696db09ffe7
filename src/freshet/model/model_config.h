// The config of the models: their names (lr, fm, deepfm, wide_deep, dcn_v2,
// mlp), the keys of `model` each reads, the defaults of its optimizers, and
// the valid range of every knob.
//
// RegisterModelConfigs() registers them with ModelKinds()
// (base/config_kinds.h). FindModelRangeError() is the one statement of the
// ranges: the config reader reports a violation at the file, line and field,
// and BasicModel::Create() refuses a spec built in code that violates it.
//
// Thread safety: RegisterModelConfigs() runs once, before main(), in every
// binary linking this layer (base/config_kinds.h); FindModelRangeError() is
// pure.
#ifndef FRESHET_MODEL_MODEL_CONFIG_H_
#define FRESHET_MODEL_MODEL_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "freshet/base/config.h"

namespace freshet {

inline constexpr int kMaxHiddenWidth = 65536;  // units of one MLP layer
// Weights between the hidden layers of a tower: 2^28 floats, 1 GiB.
inline constexpr int64_t kMaxTowerWeights = int64_t{1} << 28;
inline constexpr int kMaxCrossLayers = 16;  // dcn_v2

// Registers every model kind. Returns an error if one is registered already.
absl::Status RegisterModelConfigs();

// The first knob of `spec` out of its range: its key under `model` (e.g.
// "hidden", "cross_layers") in `*key` and "must be ..., got X" in `*message`;
// false when all are in range. Knobs the model type does not use are not
// checked.
bool FindModelRangeError(const ModelSpec& spec, std::string* key,
                         std::string* message);

}  // namespace freshet

#endif  // FRESHET_MODEL_MODEL_CONFIG_H_
