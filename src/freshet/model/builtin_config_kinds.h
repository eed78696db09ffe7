// RegisterBuiltinConfigKinds(): the one place that registers every built-in
// kind a job file can name (models, source types, record formats, sparse and
// dense optimizers) with the registries of base/config_kinds.h.
//
// It runs before main() in every binary that links the model layer: this
// file's static initializer calls it, and the model layer's link options
// (CMakeLists.txt: -u freshet_builtin_config_kinds) keep the linker from
// dropping this object from the archive, as it would drop any object nothing
// refers to. The registries are function-local statics, so the order of
// static initialisation does not matter. Calling it again does nothing.
//
// Thread safety: safe to call from any thread, any number of times.
#ifndef FRESHET_MODEL_BUILTIN_CONFIG_KINDS_H_
#define FRESHET_MODEL_BUILTIN_CONFIG_KINDS_H_

#include "absl/status/status.h"

namespace freshet {

// OK once every kind is registered; the first registration error otherwise
// (the same one on every call).
absl::Status RegisterBuiltinConfigKinds();

}  // namespace freshet

#endif  // FRESHET_MODEL_BUILTIN_CONFIG_KINDS_H_
