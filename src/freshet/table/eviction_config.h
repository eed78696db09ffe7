// The config of the table eviction policies: what a table beyond its
// `memory_budget` evicts, and the knobs of each policy
// (`tables.*.eviction`).
//
// RegisterEvictionConfigs() registers the policies with EvictionKinds()
// (base/config_kinds.h): today `value`, the lowest decayed value score among
// a few sampled rows (Kraken), O(1) per insert. CheckEvictionSpec() is the
// one statement of the ranges: the config reader reports a violation at the
// file, line and field, and EmbeddingTable::Create() refuses a spec built in
// code that violates it.
//
// Thread safety: RegisterEvictionConfigs() runs once, before main(), in every
// binary linking this layer (base/config_kinds.h); CheckEvictionSpec() is
// pure.
#ifndef FRESHET_TABLE_EVICTION_CONFIG_H_
#define FRESHET_TABLE_EVICTION_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "freshet/base/config.h"

namespace freshet {

inline constexpr int kMaxEvictionSamples = 1024;

// Registers every eviction policy. Returns an error if one is registered
// already.
absl::Status RegisterEvictionConfigs();

// The first knob of `spec` out of its range (or an unknown policy), as
// "KEY: must be ..., got X" in `*key` and `*message`; false when all are in
// range.
bool FindEvictionRangeError(const EvictionSpec& spec, std::string* key,
                            std::string* message);

// InvalidArgument("table 'NAME': eviction.KEY: must be ...") or OK.
absl::Status CheckEvictionSpec(const EvictionSpec& spec,
                               const std::string& table);

}  // namespace freshet

#endif  // FRESHET_TABLE_EVICTION_CONFIG_H_
