// The config of the stream sources and record formats: their names, the keys
// of `source` each reads, their defaults and ranges.
//
// RegisterSourceConfigs() registers the source types (file, generator) with
// SourceKinds() and RegisterFormatConfigs() the record formats (criteo, csv,
// tsv, jsonl, libsvm, libffm) with FormatKinds() (base/config_kinds.h). Both
// read the one `source` section: `type` picks the source, `format` the
// parser.
//
// Thread safety: both run once, before main(), in every binary linking this
// layer (base/config_kinds.h).
#ifndef FRESHET_DATA_SOURCE_CONFIG_H_
#define FRESHET_DATA_SOURCE_CONFIG_H_

#include <cstdint>

#include "absl/status/status.h"

namespace freshet {

// The shortest `source.max_line_bytes` accepted.
inline constexpr int64_t kMinMaxLineBytes = 64;
// At most 1 GiB: a reader holds a record this long in memory.
inline constexpr int64_t kMaxMaxLineBytes = int64_t{1} << 30;

// Register every source type / record format. Return an error if one is
// registered already.
absl::Status RegisterSourceConfigs();
absl::Status RegisterFormatConfigs();

}  // namespace freshet

#endif  // FRESHET_DATA_SOURCE_CONFIG_H_
