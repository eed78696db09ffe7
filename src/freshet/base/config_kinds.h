// The registries of the kinds a job file names: models, source types, record
// formats, sparse and dense optimizers, table eviction policies
// (base/config_registry.h says how a kind registers and how a section is read).
//
// Each registry is created empty on first use, whatever the order of static
// initialisation, and filled by its component's registration function
// (RegisterOptimizerConfigs(), RegisterSourceConfigs() and
// RegisterFormatConfigs(), RegisterEvictionConfigs(), RegisterModelConfigs()).
// Each of those runs once, before main(), from a static initializer in its own
// file that defines an anchor symbol (freshet_optim_config_kinds,
// freshet_data_config_kinds, freshet_table_config_kinds,
// freshet_model_config_kinds); the layer's link options in CMakeLists.txt
// (-u ANCHOR) keep that object in every binary linking the layer, where the
// archive would otherwise drop it as unreferenced. A binary that does not
// link a layer (a lower layer's tests) has that layer's registries empty, and
// ParseJobConfig() leaves their sections unread.
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
// `source` (type key `format`): criteo, csv, ... (data/source_config.cc).
ConfigRegistry<SourceSpec>& FormatKinds();
// `tables.*.optimizer`, `model.wide_optimizer` (optim/optimizer_config.cc).
ConfigRegistry<OptimizerSpec>& SparseOptimizerKinds();
// `model.dense_optimizer` (optim/optimizer_config.cc).
ConfigRegistry<OptimizerSpec>& DenseOptimizerKinds();
// `tables.*.eviction` (type key `policy`): value (table/eviction_config.cc).
ConfigRegistry<EvictionSpec>& EvictionKinds();

}  // namespace freshet

#endif  // FRESHET_BASE_CONFIG_KINDS_H_
