#include "freshet/sync/delta_merge.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace freshet {
namespace {

// `newer` = older then newer, for one table (see the header).
void MergeTable(DeltaTable older, DeltaTable* newer) {
  const size_t dim = static_cast<size_t>(newer->dim);
  absl::flat_hash_set<uint64_t> touched(newer->keys.begin(), newer->keys.end());
  touched.insert(newer->deleted_keys.begin(), newer->deleted_keys.end());
  const absl::flat_hash_set<uint64_t> upserted(newer->keys.begin(),
                                               newer->keys.end());

  // Deletions: newer's, unless re-inserted by newer; then older's, unless
  // re-inserted by older or touched again by newer. Each key once.
  absl::flat_hash_set<uint64_t> deleted;
  std::vector<uint64_t> deleted_keys;
  for (uint64_t k : newer->deleted_keys) {
    if (!upserted.contains(k) && deleted.insert(k).second) {
      deleted_keys.push_back(k);
    }
  }
  const absl::flat_hash_set<uint64_t> older_upserted(older.keys.begin(),
                                                     older.keys.end());
  for (uint64_t k : older.deleted_keys) {
    if (!older_upserted.contains(k) && !touched.contains(k) &&
        deleted.insert(k).second) {
      deleted_keys.push_back(k);
    }
  }

  // Rows: older's that newer did not touch, then newer's.
  std::vector<uint64_t> keys;
  std::vector<float> weights;
  keys.reserve(older.keys.size() + newer->keys.size());
  weights.reserve(keys.capacity() * dim);
  for (size_t i = 0; i < older.keys.size(); ++i) {
    if (touched.contains(older.keys[i])) continue;
    keys.push_back(older.keys[i]);
    weights.insert(weights.end(), older.weights.begin() + i * dim,
                   older.weights.begin() + (i + 1) * dim);
  }
  keys.insert(keys.end(), newer->keys.begin(), newer->keys.end());
  weights.insert(weights.end(), newer->weights.begin(), newer->weights.end());
  newer->keys = std::move(keys);
  newer->weights = std::move(weights);
  newer->deleted_keys = std::move(deleted_keys);
}

}  // namespace

void MergeOlderInto(DeltaBatch older, DeltaBatch* newer) {
  if (older.oldest_update_unix_us > 0 &&
      (newer->oldest_update_unix_us == 0 ||
       older.oldest_update_unix_us < newer->oldest_update_unix_us)) {
    newer->oldest_update_unix_us = older.oldest_update_unix_us;
  }
  if (newer->full) return;  // every row is in it already
  newer->full = older.full;
  if (!newer->has_dense && older.has_dense) {
    newer->has_dense = true;
    newer->dense = std::move(older.dense);
  }
  for (DeltaTable& t : older.tables) {
    auto it =
        std::find_if(newer->tables.begin(), newer->tables.end(),
                     [&t](const DeltaTable& n) { return n.name == t.name; });
    if (it == newer->tables.end()) {
      newer->tables.push_back(std::move(t));
    } else {
      MergeTable(std::move(t), &*it);
    }
  }
}

}  // namespace freshet
