// Checkpoints of a LocalStore in a directory: writing full and incremental
// checkpoints, listing, verifying, restoring and retention.
//
// A checkpoint is a directory DIR/ckpt-<id>/ (id zero-padded to 10 digits,
// increasing) holding MANIFEST.json (manifest.h) and one shard file per table
// plus one for the dense parameters and dense optimizer state
// (shard_file.h); docs/checkpoint_format.md has the bytes. It is written to
// DIR/ckpt-<id>.tmp/, every file and that directory fsynced, then renamed to
// DIR/ckpt-<id>/ and DIR fsynced: a published checkpoint is complete, and
// leftover .tmp directories are ignored.
//
// A full checkpoint holds every row; an incremental one the rows changed and
// keys deleted since the previous checkpoint of this model (the tables'
// kCheckpoint dirty tracking, EmbeddingTableOptions::track_checkpoint), plus
// the whole dense part. A chain is a full checkpoint and the incrementals
// after it; restore applies a chain in id order.
//
// Consistency: a checkpoint is a cut of the model at one point of the
// stream. ModelCut::Begin(), called while no update is in flight (e.g. from
// TrainerOptions::after_batch), opens a snapshot of every table
// (EmbeddingTable::BeginSnapshot: a pass over bitmaps, no row is copied) and
// copies the dense part; WriteCut() then writes the cut's rows while
// training goes on, the tables copying a row aside only when it changes
// before it is written. A full cut clears the tables' checkpoint dirty bits;
// an incremental cut takes them. A write that fails has lost them: the next
// checkpoint after a failed write must be full, and likewise after Restore()
// fell back past a damaged checkpoint.
//
// Thread safety: one writer per directory at a time. Readers (List, Verify,
// Restore) may run while a writer publishes: they see only published
// checkpoints. Restore() needs the model to itself.
#ifndef FRESHET_CKPT_CHECKPOINT_H_
#define FRESHET_CKPT_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/base/clock.h"
#include "freshet/base/file_system.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/ckpt/shard_file.h"
#include "freshet/store/local_store.h"

namespace freshet {

struct CheckpointWriteOptions {
  ShardWriterOptions shard;
  // Caps the rate at which a write reads the model's rows (raw bytes per
  // second; 0: no cap), so that a write leaves training its memory
  // bandwidth and cores at the price of taking longer.
  double max_bytes_per_s = 0;
  // Where the files go (null: FileSystem::Default(); it overrides
  // shard.file_system) and the clock of the manifest's created_unix_ms
  // (null: the system clock).
  FileSystem* file_system = nullptr;
  const Clock* clock = nullptr;
};

// A cut of a model for one checkpoint: open snapshots of its tables and a
// copy of its dense parameters and dense optimizer state. Destroying a cut
// that was not written closes its snapshots. Not thread-safe; one cut of a
// model at a time.
class ModelCut {
 public:
  // FailedPrecondition when a table has a snapshot open or (incremental)
  // does not track checkpoint changes.
  static absl::StatusOr<std::unique_ptr<ModelCut>> Begin(
      LocalStore& model, CheckpointKind kind,
      const CheckpointMetadata& metadata);
  ~ModelCut();
  ModelCut(const ModelCut&) = delete;
  ModelCut& operator=(const ModelCut&) = delete;

  LocalStore& model() const { return *model_; }
  CheckpointKind kind() const { return kind_; }
  const CheckpointMetadata& metadata() const { return metadata_; }
  absl::Span<const float> dense_params() const { return dense_params_; }
  absl::Span<const float> dense_state() const { return dense_state_; }
  int64_t dense_steps() const { return dense_steps_; }

  // Closes the snapshots not read yet.
  void Abort();

 private:
  ModelCut(LocalStore& model, CheckpointKind kind,
           const CheckpointMetadata& metadata)
      : model_(&model), kind_(kind), metadata_(metadata) {}

  LocalStore* model_;
  CheckpointKind kind_;
  CheckpointMetadata metadata_;
  std::vector<float> dense_params_;
  std::vector<float> dense_state_;
  int64_t dense_steps_ = 0;
  int opened_ = 0;  // tables whose snapshot this cut opened
};

// Writes `cut` into `dir` (created if absent) as the next checkpoint and
// returns its manifest; the model may be trained meanwhile. An incremental
// cut is relative to the newest checkpoint in `dir`: FailedPrecondition when
// there is none or its manifest is unreadable. The cut is spent either way.
absl::StatusOr<Manifest> WriteCut(const std::string& dir, ModelCut& cut,
                                  const CheckpointWriteOptions& options = {});

// The largest checkpoint id: 18 digits, so that every id parses without
// overflow. A folder whose highest id is this one takes no new checkpoint.
inline constexpr uint64_t kMaxCheckpointId = 999'999'999'999'999'999;

// "ckpt-0000000042" for 42.
std::string CheckpointDirName(uint64_t id);

// Writes a full checkpoint of `model` into `dir` (created if absent) and
// returns its manifest: ModelCut::Begin() then WriteCut().
absl::StatusOr<Manifest> WriteFullCheckpoint(
    const std::string& dir, LocalStore& model,
    const CheckpointMetadata& metadata,
    const CheckpointWriteOptions& options = {});

// Writes the rows changed since the previous checkpoint of `model` into
// `dir`. FailedPrecondition when `dir` holds no checkpoint yet (the first
// one must be full) or when the newest one has an unreadable manifest.
absl::StatusOr<Manifest> WriteIncrementalCheckpoint(
    const std::string& dir, LocalStore& model,
    const CheckpointMetadata& metadata,
    const CheckpointWriteOptions& options = {});

// The readers below take the file system to read from (null:
// FileSystem::Default()).

// A published checkpoint directory.
struct CheckpointInfo {
  uint64_t id = 0;
  std::string path;              // DIR/ckpt-<id>
  absl::Status manifest_status;  // why the manifest could not be read
  Manifest manifest;             // valid when manifest_status.ok()
};

// The published checkpoints in `dir`, by increasing id; names other than
// ckpt-<digits> (among them ckpt-<id>.tmp) are ignored. A missing `dir` has
// none.
absl::StatusOr<std::vector<CheckpointInfo>> ListCheckpoints(
    const std::string& dir, FileSystem* fs = nullptr);

// Checks one checkpoint directory: its manifest, then for every file that it
// exists, its size, header, every block (CRC-32C, zstd frame, record sizes),
// footer, row counts and whole-file CRC-32C. The first error names the file
// and, for a block, its index and offset; DataLoss for damage, NotFound for
// a missing file.
absl::Status VerifyCheckpoint(const std::string& checkpoint_dir,
                              FileSystem* fs = nullptr);

// Restores `model` from the newest good chain in `dir`: the newest full
// checkpoint that verifies, then its incrementals in id order, stopping
// before the first one that is damaged or does not follow on from the
// previous one. Every checkpoint skipped is logged (FRESHET_LOG_WARN, with
// its path and why). Rows of the model that are not in the checkpoint are
// erased. Returns the manifest of the last checkpoint applied, whose stream
// position is where to resume. NotFound when `dir` has no checkpoint,
// DataLoss when none is good, FailedPrecondition when the checkpoint's
// tables or dense sizes do not match the model (the model is not touched
// then). Afterwards the model's checkpoint dirty bits are clear.
absl::StatusOr<Manifest> RestoreCheckpoint(const std::string& dir,
                                           LocalStore* model,
                                           FileSystem* fs = nullptr);

// Retention: keeps the newest `keep_full` full checkpoints (at least 1) and
// every checkpoint after the oldest of them; deletes the older ones and
// leftover ckpt-<id>.tmp directories older than the newest published
// checkpoint. Returns the number of directories deleted.
absl::StatusOr<int> ApplyRetention(const std::string& dir, int keep_full,
                                   FileSystem* fs = nullptr);

}  // namespace freshet

#endif  // FRESHET_CKPT_CHECKPOINT_H_
