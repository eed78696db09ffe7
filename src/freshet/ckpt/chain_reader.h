// Reading the newest good chain of a checkpoint directory without a model.
//
// RestoreCheckpoint() (checkpoint.h) needs a LocalStore built from the job's
// config. The chain reader does not: it picks the same chain
// (ChooseNewestGoodChain(), chain_choice.h) and merges it into plain
// per-table rows and the dense part, which tools can inspect, hash or hand
// to a serving replica. Within the chain, an incremental's deleted keys are
// applied before its rows, and a later row replaces an earlier one.
//
// Memory: one hash map per table from key to a row slot in one float buffer
// (weights then optimizer state), plus each row's last update and value
// score; a deleted row's slot is reused by the next new row.
//
// Thread safety: plain values and free functions. Reading runs alongside a
// writer of the same directory (only published checkpoints are read).
#ifndef FRESHET_CKPT_CHAIN_READER_H_
#define FRESHET_CKPT_CHAIN_READER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/ckpt/chain_choice.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/ckpt/parameter_shape.h"

namespace freshet {

// The merged rows of one table of a chain.
class ChainTable {
 public:
  ChainTable(std::string name, int dim, int state_floats);

  const std::string& name() const { return name_; }
  int dim() const { return dim_; }
  int state_floats() const { return state_floats_; }
  size_t size() const { return index_.size(); }

  // Inserts or replaces the row of `key`. `weights` has dim() floats,
  // `state` state_floats().
  void Upsert(uint64_t key, const float* weights, const float* state,
              int64_t last_update_ms, float score);
  // Removes `key`; returns whether it was present.
  bool Erase(uint64_t key);

  // The weights of `key` followed by its optimizer state, or nullptr.
  const float* Find(uint64_t key) const;
  // The keys, in increasing order.
  std::vector<uint64_t> SortedKeys() const;
  // Calls fn(key, weights, state, last_update_ms, score) for every row, in
  // no particular order.
  void ForEachRow(const std::function<void(uint64_t, absl::Span<const float>,
                                           absl::Span<const float>, int64_t,
                                           float)>& fn) const;

 private:
  std::string name_;
  int dim_;
  int state_floats_;
  size_t stride_;
  absl::flat_hash_map<uint64_t, size_t> index_;  // key -> row slot
  std::vector<float> values_;                    // slot * stride_
  std::vector<int64_t> last_update_ms_;          // per slot
  std::vector<float> score_;                     // per slot
  std::vector<size_t> free_;                     // slots of erased rows
};

// A chain merged into its final state.
struct CheckpointChain {
  std::vector<uint64_t> ids;        // the checkpoints applied, full first
  Manifest last;                    // manifest of the last checkpoint applied
  std::vector<ChainTable> tables;   // in the order of the full's manifest
  std::vector<float> dense_params;  // of the last checkpoint
  std::vector<float> dense_state;
  int64_t dense_steps = 0;

  // The table named `name`, or nullptr.
  const ChainTable* FindTable(const std::string& name) const;
  // The model shape the chain holds, for CheckParameterShape().
  ParameterShape shape() const;
};

// What VerifyCheckpoint() said of the checkpoints of one folder, for a
// caller that reads its chain again and again (`freshet serve` following
// the folder): a published checkpoint does not change, so it is verified
// once. Keyed by path and the manifest's file checksums, so that a
// checkpoint written again under the same id is verified anew.
using VerifiedCheckpoints = std::map<std::string, absl::Status>;

// Reads and merges the newest good chain of `dir`. Each checkpoint skipped
// is logged with FRESHET_LOG_WARN (its path and why). NotFound when `dir`
// has no checkpoint (or does not exist), DataLoss when none is good or a
// file changed after it verified, FailedPrecondition when a member of the
// chain disagrees with its full checkpoint about a table's shape or the
// dense sizes. With `verified`, checkpoints found there are not verified
// again, and the entries of checkpoints no longer in `dir` are dropped.
// Files are read from `fs` (null: FileSystem::Default()).
absl::StatusOr<CheckpointChain> ReadCheckpointChain(
    const std::string& dir, VerifiedCheckpoints* verified = nullptr,
    FileSystem* fs = nullptr);

// One 64-bit XXH3 over the chain, computed as ModelDigest() (trainer.h)
// computes it over a live model: per table in order, its name, then per row
// by increasing key, the key, weights and optimizer state; then the dense
// parameters and the dense optimizer state. The digest of a checkpoint
// equals ModelDigest() of the model it was written from.
uint64_t ChainDigest(const CheckpointChain& chain);

// ChainDigest() of the newest good chain of `dir`; `last`, when given,
// receives the manifest of the chain's last checkpoint. Errors as
// ReadCheckpointChain().
absl::StatusOr<uint64_t> CheckpointDigest(const std::string& dir,
                                          Manifest* last = nullptr);

}  // namespace freshet

#endif  // FRESHET_CKPT_CHAIN_READER_H_
