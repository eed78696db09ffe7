#include "freshet/optim/optimizer_config.h"

#include "absl/strings/str_cat.h"
#include "freshet/base/config_kinds.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

// A hyper-parameter's valid interval: lo < x (or lo <= x) and x < hi.
struct Range {
  const char* key;
  double OptimizerSpec::*field;
  double lo;
  bool lo_open;  // x must be > lo rather than >= lo
  double hi;     // x must be < hi; 0: no upper bound
};

constexpr Range kRanges[] = {
    {"learning_rate", &OptimizerSpec::learning_rate, 0, true, 0},
    {"initial_accumulator", &OptimizerSpec::initial_accumulator, 0, false, 0},
    {"beta1", &OptimizerSpec::beta1, 0, false, 1},
    {"beta2", &OptimizerSpec::beta2, 0, false, 1},
    {"epsilon", &OptimizerSpec::epsilon, 0, false, 0},
    {"momentum", &OptimizerSpec::momentum, 0, false, 1},
    {"weight_decay", &OptimizerSpec::weight_decay, 0, false, 0},
    {"l1", &OptimizerSpec::l1, 0, false, 0},
    {"l2", &OptimizerSpec::l2, 0, false, 0},
    {"beta", &OptimizerSpec::beta, 0, false, 0},
};

std::string RangeText(const Range& r) {
  if (r.hi > 0) return absl::StrCat("must be in [", r.lo, ", ", r.hi, ")");
  return absl::StrCat("must be ", r.lo_open ? "> " : ">= ", r.lo);
}

bool InRange(const Range& r, double x) {
  if (r.lo_open ? !(x > r.lo) : !(x >= r.lo)) return false;
  return r.hi <= 0 || x < r.hi;
}

// Reads the keys of `names` into `spec` (the keys every optimizer shares are
// read by ReadCommon()).
absl::Status ReadKeys(const ConfigSection& s,
                      std::initializer_list<const char*> names,
                      OptimizerSpec* spec) {
  for (const char* name : names) {
    for (const Range& r : kRanges) {
      if (std::string_view(r.key) == name) {
        RETURN_IF_ERROR(s.Get(name, &(spec->*r.field)));
      }
    }
  }
  return absl::OkStatus();
}

// learning_rate and l2 (plain L2, or FTRL's l2) apply to every optimizer;
// every hyper-parameter given is checked against its range, whichever kind
// reads it.
absl::Status ReadCommon(const ConfigSection& s, OptimizerSpec* spec) {
  return ReadKeys(s, {"learning_rate", "l2"}, spec);
}

// Every optimizer section has always accepted all hyper-parameters,
// whatever its type; `unused` are those no optimizer of the registry reads.
// They stay accepted, so that such job files keep loading, and are ignored
// with a warning.
ConfigRegistry<OptimizerSpec>::Reader CommonReader(
    std::vector<std::string> unused, std::string what) {
  return [unused = std::move(unused), what = std::move(what)](
             const ConfigSection& s, OptimizerSpec* spec) {
    for (const std::string& k : unused) {
      if (s.Has(k)) {
        FRESHET_LOG_WARN("{}: no {} optimizer uses {}; ignored", s.PathOf(k),
                         what, k);
      }
    }
    return ReadCommon(s, spec);
  };
}

absl::Status CheckAll(const ConfigSection& s, const OptimizerSpec& spec) {
  std::string key, message;
  if (FindOptimizerRangeError(spec, &key, &message)) {
    return s.present() && s.is_map()
               ? s.Error(key, message)
               : s.Error(absl::StrCat(key, ": ", message));
  }
  return absl::OkStatus();
}

ConfigRegistry<OptimizerSpec>::Kind OptimizerKind(
    const char* name, std::initializer_list<const char*> keys) {
  std::vector<std::string> key_list(keys.begin(), keys.end());
  return {name, key_list,
          [keys = key_list](const ConfigSection& s,
                            OptimizerSpec* spec) -> absl::Status {
            for (const std::string& k : keys) {
              RETURN_IF_ERROR(ReadKeys(s, {k.c_str()}, spec));
            }
            return CheckAll(s, *spec);
          }};
}

}  // namespace

bool FindOptimizerRangeError(const OptimizerSpec& spec, std::string* key,
                             std::string* message) {
  for (const Range& r : kRanges) {
    const double x = spec.*r.field;
    if (!InRange(r, x)) {
      *key = r.key;
      *message = absl::StrCat(RangeText(r), ", got ", x);
      return true;
    }
  }
  return false;
}

absl::Status CheckOptimizerRanges(const OptimizerSpec& spec,
                                  const std::string& what) {
  std::string key, message;
  if (FindOptimizerRangeError(spec, &key, &message)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", key, ": ", message));
  }
  return absl::OkStatus();
}

absl::Status RegisterOptimizerConfigs() {
  // The state each keeps is documented in sparse_optimizer.h and
  // dense_optimizer.h; these are the hyper-parameters each reads.
  ConfigRegistry<OptimizerSpec>& sparse = SparseOptimizerKinds();
  sparse.SetCommon({"learning_rate", "l2", "momentum", "weight_decay"},
                   CommonReader({"momentum", "weight_decay"}, "sparse"));
  RETURN_IF_ERROR(sparse.Register(OptimizerKind("sgd", {})));
  RETURN_IF_ERROR(sparse.Register(
      OptimizerKind("adagrad", {"initial_accumulator", "epsilon"})));
  RETURN_IF_ERROR(sparse.Register(
      OptimizerKind("rowwise_adagrad", {"initial_accumulator", "epsilon"})));
  RETURN_IF_ERROR(sparse.Register(OptimizerKind("ftrl", {"l1", "beta"})));
  RETURN_IF_ERROR(
      sparse.Register(OptimizerKind("adam", {"beta1", "beta2", "epsilon"})));
  RETURN_IF_ERROR(
      sparse.Register(OptimizerKind("radagrad", {"beta2", "epsilon"})));
  ConfigRegistry<OptimizerSpec>& dense = DenseOptimizerKinds();
  dense.SetCommon({"learning_rate", "l2", "l1", "beta"},
                  CommonReader({"l1", "beta"}, "dense"));
  RETURN_IF_ERROR(dense.Register(OptimizerKind("sgd", {})));
  RETURN_IF_ERROR(dense.Register(OptimizerKind("momentum", {"momentum"})));
  RETURN_IF_ERROR(dense.Register(
      OptimizerKind("adagrad", {"initial_accumulator", "epsilon"})));
  RETURN_IF_ERROR(
      dense.Register(OptimizerKind("adam", {"beta1", "beta2", "epsilon"})));
  RETURN_IF_ERROR(dense.Register(
      OptimizerKind("adamw", {"beta1", "beta2", "epsilon", "weight_decay"})));
  return absl::OkStatus();
}

// Registers the optimizers before main() in every binary linking the optim
// layer: CMakeLists.txt links it with -u freshet_optim_config_kinds.
int RegisterOptimizerConfigsAtStartup() {
  absl::Status status = RegisterOptimizerConfigs();
  if (!status.ok())
    FRESHET_LOG_ERROR("optimizer config: {}", status.ToString());
  return 1;
}

}  // namespace freshet

extern "C" {
extern const int freshet_optim_config_kinds;
const int freshet_optim_config_kinds =
    freshet::RegisterOptimizerConfigsAtStartup();
}
