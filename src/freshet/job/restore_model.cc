#include "freshet/job/restore_model.h"

#include "absl/strings/str_format.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/checkpointer.h"

namespace freshet {

absl::StatusOr<Manifest> RestoreModel(const std::string& dir,
                                      LocalStore* model) {
  absl::StatusOr<Manifest> restored = RestoreCheckpoint(dir, model);
  if (!restored.ok()) return restored.status();
  const std::string hash = ModelShapeHash(*model);
  if (!restored->metadata.model_config_hash.empty() &&
      restored->metadata.model_config_hash != hash) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the checkpoints are of another model (shape %s, this job's is %s)",
        restored->metadata.model_config_hash, hash));
  }
  return restored;
}

std::string DescribeCheckpoint(const Manifest& m) {
  uint64_t rows = 0, bytes = 0;
  for (const ManifestFile& f : m.files) {
    if (!f.table.empty()) rows += f.rows;
    bytes += f.bytes;
  }
  return absl::StrFormat("%s (%s, %d rows, %.1f MB)", CheckpointDirName(m.id),
                         CheckpointKindName(m.kind), rows, bytes / 1e6);
}

}  // namespace freshet
