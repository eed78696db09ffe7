// DeltaBatch: what one training shard sends to serving every sync interval.
//
// A delta batch carries, for one shard and one version, the rows changed since
// the last batch the sink acknowledged (key + weights, no optimizer state),
// the keys deleted since then (expiry, eviction, erase) and, when they
// changed, the dense parameters. A consumer applies a table's deletions
// before its rows, and a whole batch atomically.
//
// Ordering. A publisher numbers its batches 1, 2, 3, ... within an epoch (a
// new epoch per publisher start) and stamps each with `base_version`, the
// version of the last batch the sink acknowledged: the batch holds every
// change between base_version and version. A replica at version c of the
// same epoch applies it iff base_version <= c < version; c >= version is a
// duplicate, c < base_version a gap (changes it never saw). A full batch
// holds every row of the shard and the dense part, and applies over any
// older state: the replica then holds exactly its rows.
//
// The byte form (EncodeDeltaBatch / DecodeDeltaBatch) is specified in
// docs/sync_format.md: little-endian, per-table fp32 or fp16 weights, an
// XXH3-64 checksum over the whole batch. Decoding checks every length against
// the buffer and the checksum, so a truncated or corrupted batch is an error,
// never a crash.
//
// Plain values; not synchronised.
#ifndef FRESHET_SYNC_DELTA_BATCH_H_
#define FRESHET_SYNC_DELTA_BATCH_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace freshet {

enum class WeightPrecision : uint8_t { kFp32 = 0, kFp16 = 1 };

// Parses "fp32" or "fp16" (TableSpec::serving_precision).
absl::StatusOr<WeightPrecision> ParseWeightPrecision(std::string_view name);

struct DeltaTable {
  std::string name;  // the LocalStore table name, e.g. "C1" or "C1/wide"
  int dim = 0;
  WeightPrecision precision = WeightPrecision::kFp32;
  std::vector<uint64_t> deleted_keys;  // applied before `keys`
  std::vector<uint64_t> keys;
  // keys.size() x dim. For fp16 tables the encoder rounds them to fp16; a
  // decoded fp16 batch holds the rounded values.
  std::vector<float> weights;
};

struct DeltaBatch {
  // 2 added epoch, base_version and the full flag; version 1 is still read
  // (as epoch 0, base_version = version - 1, not full).
  static constexpr uint32_t kFormatVersion = 2;

  uint32_t shard = 0;
  // Publisher incarnation; a replica drops batches of an older epoch.
  uint64_t epoch = 0;
  // The last acknowledged version this batch builds on; 0: none.
  uint64_t base_version = 0;
  uint64_t version = 0;
  // Every row of the shard and the dense part, not only the changes: the
  // replica deletes the keys it has that a full batch lacks.
  bool full = false;
  // Wall time (µs since the Unix epoch) when the batch was cut.
  int64_t created_unix_us = 0;
  // Wall time when the oldest update the batch carries entered the trainer's
  // compute stage; 0 when the batch carries no update (a heartbeat).
  int64_t oldest_update_unix_us = 0;
  int64_t examples = 0;  // examples the shard had trained on when cut
  bool has_dense = false;
  std::vector<float> dense;  // the dense parameters, when has_dense
  std::vector<DeltaTable> tables;

  int64_t num_rows() const;
  int64_t num_deleted() const;
};

// Appends the byte form of `batch` to `out` (cleared first).
void EncodeDeltaBatch(const DeltaBatch& batch, std::string* out);

// The size EncodeDeltaBatch() would produce, without encoding.
int64_t EncodedDeltaBatchSize(const DeltaBatch& batch);

// Parses a byte form (format 2, or format 1). DataLoss on a bad magic,
// format version, length or checksum.
absl::StatusOr<DeltaBatch> DecodeDeltaBatch(std::string_view bytes);

}  // namespace freshet

#endif  // FRESHET_SYNC_DELTA_BATCH_H_
