#include "freshet/model/model_config.h"

#include "absl/strings/str_cat.h"
#include "freshet/base/config_kinds.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"
#include "freshet/model/activation.h"

namespace freshet {
namespace {

bool UsesTower(const std::string& type) {
  return type == "deepfm" || type == "wide_deep" || type == "dcn_v2" ||
         type == "mlp";
}

// Optimizer defaults: adam for the dense part; FTRL with L2 for the wide
// (dim-1, per-id) weights, as production LR systems use. Set before the
// section is read, so that a section naming only a type keeps the rest.
absl::Status ReadCommon(const ConfigSection& s, ModelSpec* m) {
  m->dense_optimizer.type = "adam";
  m->dense_optimizer.learning_rate = 0.001;
  m->wide_optimizer.type = "ftrl";
  m->wide_optimizer.learning_rate = 0.05;
  m->wide_optimizer.l2 = 1.0;
  RETURN_IF_ERROR(DenseOptimizerKinds().ReadSection(s.Child("dense_optimizer"),
                                                    &m->dense_optimizer));
  RETURN_IF_ERROR(s.Get("negative_sampling_rate", &m->negative_sampling_rate));
  // The spec keeps what the file says for every model type, as a job file
  // switched to another type by --set expects; each kind checks only what it
  // uses.
  RETURN_IF_ERROR(SparseOptimizerKinds().ReadSection(s.Child("wide_optimizer"),
                                                     &m->wide_optimizer));
  RETURN_IF_ERROR(s.Get("hidden", &m->hidden));
  RETURN_IF_ERROR(s.Get("activation", &m->activation));
  RETURN_IF_ERROR(s.Get("cross_layers", &m->cross_layers));
  return absl::OkStatus();
}

absl::Status CheckTower(const ConfigSection& s, const ModelSpec* m) {
  if (!ParseActivation(m->activation).ok()) {
    return s.Error("activation",
                   absl::StrCat("expected relu, sigmoid, tanh or identity, "
                                "got '",
                                m->activation, "'"));
  }
  return absl::OkStatus();
}

absl::Status CheckRanges(const ConfigSection& s, const ModelSpec& m) {
  std::string key, message;
  if (FindModelRangeError(m, &key, &message)) {
    return s.present() && s.is_map()
               ? s.Error(key, message)
               : s.Error(absl::StrCat(key, ": ", message));
  }
  return absl::OkStatus();
}

using Kind = ConfigRegistry<ModelSpec>::Kind;

Kind ModelKind(const char* name, bool wide, bool tower, bool cross) {
  std::vector<std::string> keys;
  if (wide) keys.push_back("wide_optimizer");
  if (tower) keys.insert(keys.end(), {"hidden", "activation"});
  if (cross) keys.push_back("cross_layers");
  return {name, keys,
          [tower](const ConfigSection& s, ModelSpec* m) -> absl::Status {
            if (tower) RETURN_IF_ERROR(CheckTower(s, m));
            return CheckRanges(s, *m);
          }};
}

}  // namespace

bool FindModelRangeError(const ModelSpec& spec, std::string* key,
                         std::string* message) {
  if (UsesTower(spec.type)) {
    for (int h : spec.hidden) {
      if (h <= 0 || h > kMaxHiddenWidth) {
        *key = "hidden";
        *message = absl::StrCat("layer sizes must be in 1..", kMaxHiddenWidth,
                                ", got ", h);
        return true;
      }
    }
    // What the tower's weights between hidden layers take, before anything
    // is allocated (the input layer's width depends on the schema).
    int64_t weights = 0;
    for (size_t i = 1; i < spec.hidden.size(); ++i) {
      weights += int64_t{spec.hidden[i - 1]} * spec.hidden[i];
    }
    if (weights > kMaxTowerWeights) {
      *key = "hidden";
      *message = absl::StrCat(
          "the layers need ", weights, " weights (", weights * 4 / (1 << 20),
          " MiB, and as much again for the optimizer); the limit is ",
          kMaxTowerWeights, " (1 GiB)");
      return true;
    }
  }
  if (spec.type == "dcn_v2" &&
      (spec.cross_layers < 0 || spec.cross_layers > kMaxCrossLayers)) {
    *key = "cross_layers";
    *message = absl::StrCat("must be in 0..", kMaxCrossLayers, ", got ",
                            spec.cross_layers);
    return true;
  }
  if (!(spec.negative_sampling_rate > 0 && spec.negative_sampling_rate <= 1)) {
    *key = "negative_sampling_rate";
    *message =
        absl::StrCat("must be in (0, 1], got ", spec.negative_sampling_rate);
    return true;
  }
  return false;
}

absl::Status RegisterModelConfigs() {
  ConfigRegistry<ModelSpec>& models = ModelKinds();
  models.SetCommon({"dense_optimizer", "negative_sampling_rate",
                    "wide_optimizer", "hidden", "activation", "cross_layers"},
                   ReadCommon);
  // The wide part's weights are per-id rows (lr, fm, deepfm, wide_deep); the
  // tower is an MLP over the embeddings and dense features.
  RETURN_IF_ERROR(models.Register(ModelKind("lr", true, false, false)));
  RETURN_IF_ERROR(models.Register(ModelKind("fm", true, false, false)));
  RETURN_IF_ERROR(models.Register(ModelKind("deepfm", true, true, false)));
  RETURN_IF_ERROR(models.Register(ModelKind("wide_deep", true, true, false)));
  RETURN_IF_ERROR(models.Register(ModelKind("dcn_v2", false, true, true)));
  RETURN_IF_ERROR(models.Register(ModelKind("mlp", false, true, false)));
  return absl::OkStatus();
}

// Registers the models before main() in every binary linking the model
// layer: CMakeLists.txt links it with -u freshet_model_config_kinds.
int RegisterModelConfigsAtStartup() {
  absl::Status status = RegisterModelConfigs();
  if (!status.ok()) FRESHET_LOG_ERROR("model config: {}", status.ToString());
  return 1;
}

}  // namespace freshet

extern "C" {
extern const int freshet_model_config_kinds;
const int freshet_model_config_kinds = freshet::RegisterModelConfigsAtStartup();
}
