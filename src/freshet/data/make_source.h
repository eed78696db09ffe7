// MakeSource: builds the Source a SourceSpec describes.
//
// type "file": a FileLogSource over spec.path (a file or a folder of
// segments), following it when spec.follow is set, with spec.max_line_bytes
// as the longest record it buffers whole.
// type "generator": the synthetic stream generator.
// Files are read from `fs` (null: FileSystem::Default()).
//
// Thread-safe (no shared state).
#ifndef FRESHET_DATA_MAKE_SOURCE_H_
#define FRESHET_DATA_MAKE_SOURCE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/base/file_system.h"
#include "freshet/data/source.h"

namespace freshet {

absl::StatusOr<std::unique_ptr<Source>> MakeSource(const SourceSpec& spec,
                                                   FileSystem* fs = nullptr);

}  // namespace freshet

#endif  // FRESHET_DATA_MAKE_SOURCE_H_
