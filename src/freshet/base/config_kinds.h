// The registries of the kinds a job file names: models, source types, record
// formats, sparse and dense optimizers (base/config_registry.h says how a kind
// registers and how a section is read).
//
// Each registry is created empty on first use (so that a component may
// register from any static initializer) and filled by its component's
// registration function; RegisterBuiltinConfigKinds()
// (model/builtin_config_kinds.h) calls them all before main() in every binary
// that links the model layer. A binary that links only lower layers has empty
// registries, and ParseJobConfig() reports a kind it cannot find.
//
// Thread safety: see ConfigRegistry.
#ifndef FRESHET_BASE_CONFIG_KINDS_H_
#define FRESHET_BASE_CONFIG_KINDS_H_

#include "freshet/base/config.h"
#include "freshet/base/config_registry.h"

namespace freshet {

// `model` (type key `type`): lr, fm, deepfm, ... (model/model_config.cc).
ConfigRegistry<ModelSpec>& ModelKinds();
// `source` (type key `type`): file, generator (data/source_config.cc).
ConfigRegistry<SourceSpec>& SourceKinds();
// `source` (type key `format`): criteo, csv, ... (data/format_config.cc).
ConfigRegistry<SourceSpec>& FormatKinds();
// `tables.*.optimizer`, `model.wide_optimizer` (optim/optimizer_config.cc).
ConfigRegistry<OptimizerSpec>& SparseOptimizerKinds();
// `model.dense_optimizer` (optim/optimizer_config.cc).
ConfigRegistry<OptimizerSpec>& DenseOptimizerKinds();

}  // namespace freshet

#endif  // FRESHET_BASE_CONFIG_KINDS_H_
