#include "freshet/base/config_kinds.h"

namespace freshet {

// Function-local statics: created on first use, whatever the order of static
// initialisation, and never destroyed (a kind may be looked up at exit).
ConfigRegistry<ModelSpec>& ModelKinds() {
  static auto* r =
      new ConfigRegistry<ModelSpec>("model", "type", &ModelSpec::type);
  return *r;
}

ConfigRegistry<SourceSpec>& SourceKinds() {
  static auto* r =
      new ConfigRegistry<SourceSpec>("source type", "type", &SourceSpec::type);
  return *r;
}

ConfigRegistry<SourceSpec>& FormatKinds() {
  static auto* r =
      new ConfigRegistry<SourceSpec>("format", "format", &SourceSpec::format);
  return *r;
}

ConfigRegistry<OptimizerSpec>& SparseOptimizerKinds() {
  static auto* r = new ConfigRegistry<OptimizerSpec>("optimizer", "type",
                                                     &OptimizerSpec::type);
  return *r;
}

ConfigRegistry<OptimizerSpec>& DenseOptimizerKinds() {
  static auto* r = new ConfigRegistry<OptimizerSpec>("optimizer", "type",
                                                     &OptimizerSpec::type);
  return *r;
}

ConfigRegistry<EvictionSpec>& EvictionKinds() {
  static auto* r = new ConfigRegistry<EvictionSpec>("eviction policy", "policy",
                                                    &EvictionSpec::policy);
  return *r;
}

}  // namespace freshet
