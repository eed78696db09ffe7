// ServingTable: the weights-only serving copy of one embedding table.
//
// A compact map from 64-bit key to a row of `dim` weights stored as fp32 or
// fp16 (TableSpec::serving_precision) in one growable arena; deleted rows'
// slots are reused by the next insert. No optimizer state, no metadata.
// Missing keys read as the table default (the training table's: its
// initializer's Default(), e.g. the value of a "constant" initializer), as a
// training table's kServe lookup of an absent id does.
//
// Not synchronised: ServingReplica keeps two copies of each table and never
// lets a request read the copy a batch is being applied to (left-right, see
// serving_replica.h).
#ifndef FRESHET_SERVE_SERVING_TABLE_H_
#define FRESHET_SERVE_SERVING_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "freshet/sync/delta_batch.h"

namespace freshet {

class ServingTable {
 public:
  // `default_row` (dim floats, or empty for zeros) is what a missing key
  // reads as.
  ServingTable(std::string name, int dim, WeightPrecision precision,
               std::vector<float> default_row = {});

  const std::string& name() const { return name_; }
  int dim() const { return dim_; }
  WeightPrecision precision() const { return precision_; }

  // Creates or overwrites the row of `key` with weights[0, dim) (rounded to
  // fp16 in an fp16 table).
  void Upsert(uint64_t key, const float* weights) {
    WriteRow(SlotFor(key), weights);
  }
  // Upsert() of keys[i] with weights[i*dim, (i+1)*dim) for every i, with the
  // index slots and rows of later keys prefetched while earlier ones are
  // written (a delta batch touches rows all over the table).
  void UpsertBatch(absl::Span<const uint64_t> keys, const float* weights);

  // Where an UpsertBatch() put its keys: slots[i] is the slot of keys[i],
  // and `created` lists, in order, the i whose key was new.
  struct UpsertPlan {
    std::vector<uint32_t> slots;
    std::vector<uint32_t> created;
  };
  // UpsertBatch() that records its plan.
  void UpsertBatch(absl::Span<const uint64_t> keys, const float* weights,
                   UpsertPlan* plan);
  // Replays on this table an UpsertBatch() whose `plan` was recorded on a
  // table equal to this one (same keys in the same slots, same free list):
  // creates the new keys, which land in the same slots since slot
  // assignment is deterministic, and writes every row straight to its slot,
  // without looking the other keys up. This is how the second copy of a
  // serving replica catches up at a fraction of the first apply's cost.
  // Returns false if a created key landed elsewhere (the tables were not
  // equal); the rows written so far are right, and UpsertBatch() then
  // finishes the job.
  bool Replay(absl::Span<const uint64_t> keys, const float* weights,
              const UpsertPlan& plan);
  // Deletes the row of `key`; returns whether there was one.
  bool Erase(uint64_t key);
  // Writes the row of `key` (or the default row) to out[0, dim); returns
  // whether the key has a row.
  bool Lookup(uint64_t key, float* out) const;
  // Lookup() of every key: rows[i*dim, (i+1)*dim) for keys[i].
  void LookupBatch(absl::Span<const uint64_t> keys, float* rows) const;
  absl::Span<const float> default_row() const { return default_; }

  // Calls fn(key) for every key with a row, in no particular order.
  // REQUIRES: fn does not change this table.
  template <typename Fn>
  void ForEachKey(Fn&& fn) const {
    for (const auto& [key, slot] : index_) fn(key);
  }

  int64_t size() const { return static_cast<int64_t>(index_.size()); }
  // Bytes held by the arena and the index.
  int64_t bytes() const;

 private:
  // The slot of `key`, created (and the arena grown) when new.
  uint32_t SlotFor(uint64_t key);
  void WriteRow(uint32_t slot, const float* weights);

  const std::string name_;
  const int dim_;
  const WeightPrecision precision_;
  const std::vector<float> default_;               // dim floats
  absl::flat_hash_map<uint64_t, uint32_t> index_;  // key -> slot
  std::vector<float> f32_;                         // slots x dim (fp32)
  std::vector<uint16_t> f16_;                      // slots x dim (fp16)
  std::vector<uint32_t> free_;
  uint32_t slots_ = 0;
  std::vector<uint32_t> batch_slots_;  // scratch of UpsertBatch
};

}  // namespace freshet

#endif  // FRESHET_SERVE_SERVING_TABLE_H_
