// The config of the sparse and dense optimizers: their names, the keys each
// reads and the valid range of every hyper-parameter.
//
// RegisterOptimizerConfigs() registers the sparse optimizers (sgd, adagrad,
// rowwise_adagrad, ftrl, adam, radagrad) with SparseOptimizerKinds() and the
// dense ones (sgd, momentum, adagrad, adam, adamw) with DenseOptimizerKinds()
// (base/config_kinds.h). CheckOptimizerRanges() is the one statement of the
// ranges: the config reader reports a violation at the file, line and field,
// and SparseOptimizer::Create() / DenseOptimizer::Create() refuse a spec built
// in code that violates it.
//
// Thread safety: RegisterOptimizerConfigs() runs once, before main(), in every
// binary linking this layer (base/config_kinds.h); CheckOptimizerRanges() is
// pure.
#ifndef FRESHET_OPTIM_OPTIMIZER_CONFIG_H_
#define FRESHET_OPTIM_OPTIMIZER_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "freshet/base/config.h"

namespace freshet {

// Registers every optimizer kind. Returns an error if one is registered
// already.
absl::Status RegisterOptimizerConfigs();

// The first hyper-parameter of `spec` out of its range, as
// "KEY: must be ..., got VALUE" in `*key` and `*message`; false when all are
// in range.
bool FindOptimizerRangeError(const OptimizerSpec& spec, std::string* key,
                             std::string* message);

// InvalidArgument("WHAT: KEY: must be ...") for the first out-of-range
// hyper-parameter, OK if none.
absl::Status CheckOptimizerRanges(const OptimizerSpec& spec,
                                  const std::string& what);

}  // namespace freshet

#endif  // FRESHET_OPTIM_OPTIMIZER_CONFIG_H_
