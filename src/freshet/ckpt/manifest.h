// The MANIFEST.json of a checkpoint: what the checkpoint is (full or
// incremental, and of which chain), where in the stream it was cut, and a
// size, row count and CRC-32C for each of its files. The manifest carries
// its own CRC-32C (manifest_crc32c, over the JSON of the other fields).
// docs/checkpoint_format.md lists the fields.
//
// Thread safety: plain values and free functions.
#ifndef FRESHET_CKPT_MANIFEST_H_
#define FRESHET_CKPT_MANIFEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "freshet/base/file_system.h"

namespace freshet {

inline constexpr int kCheckpointFormatVersion = 1;
inline constexpr char kManifestFileName[] = "MANIFEST.json";
// The largest MANIFEST.json read; a bigger one is refused as damage.
inline constexpr size_t kMaxManifestBytes = size_t{16} << 20;

enum class CheckpointKind { kFull, kIncremental };

// Given by the caller of a checkpoint write, stored as is.
struct CheckpointMetadata {
  std::string model_config_hash;  // identifies the job's model configuration
  std::string stream_position;    // where to resume the stream
  uint64_t sync_version = 0;      // last sync version published
  int64_t examples = 0;           // examples trained on up to the cut
};

struct ManifestFile {
  std::string name;   // file name inside the checkpoint directory
  std::string table;  // table name ("" for the dense file)
  uint64_t bytes = 0;
  uint64_t rows = 0;  // table rows, or dense floats (parameters + state)
  uint64_t deleted_keys = 0;
  uint32_t crc32c = 0;  // of the whole file
};

struct Manifest {
  int format_version = kCheckpointFormatVersion;
  uint64_t id = 0;
  CheckpointKind kind = CheckpointKind::kFull;
  // Incrementals: the full checkpoint of the chain and the checkpoint this
  // one is relative to (the full or the previous incremental). 0 for a full.
  uint64_t parent_id = 0;
  uint64_t previous_id = 0;
  int64_t created_unix_ms = 0;
  CheckpointMetadata metadata;
  std::vector<ManifestFile> files;
};

const char* CheckpointKindName(CheckpointKind kind);

// The manifest as JSON text, with its manifest_crc32c.
std::string EncodeManifest(const Manifest& manifest);
// Parses and checks a manifest; DataLoss naming `source` and the field on
// any error (bad JSON, missing or mistyped field, crc mismatch, unsafe file
// name).
absl::StatusOr<Manifest> DecodeManifest(const std::string& text,
                                        const std::string& source);
// Reads DIR/MANIFEST.json (NotFound when absent) from `fs` (null:
// FileSystem::Default()).
absl::StatusOr<Manifest> ReadManifest(const std::string& checkpoint_dir,
                                      FileSystem* fs = nullptr);

}  // namespace freshet

#endif  // FRESHET_CKPT_MANIFEST_H_
