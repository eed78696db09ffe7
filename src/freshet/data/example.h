// Example: one training or scoring record after parsing.
//
// Sparse features are stored flat, slot after slot, so that a parser can refill
// an Example without allocating once its vectors have grown: the ids of slot s
// are ids[slot_offsets[s] .. slot_offsets[s + 1]). Feature ids are already
// hashed inside their slot's table (freshet/base/hash.h). id_weights is either
// empty (every id weighs 1) or parallel to ids.
//
// Not thread-safe; an Example belongs to one thread at a time.
#ifndef FRESHET_DATA_EXAMPLE_H_
#define FRESHET_DATA_EXAMPLE_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace freshet {

struct Example {
  std::vector<uint64_t> ids;
  std::vector<float> id_weights;
  std::vector<uint32_t> slot_offsets;  // num_slots + 1 entries once parsed
  std::vector<float> dense;   // one value per dense feature, normalised
  std::vector<float> labels;  // one value per label column
  float weight = 1.0f;        // sample weight
  int64_t event_time_ms = 0;  // event time; 0 when the record has none
  uint64_t request_id = 0;    // 64-bit hash of the raw request id; 0 if none

  // Empties every field but keeps capacity, so refilling does not allocate.
  void Clear() {
    ids.clear();
    id_weights.clear();
    slot_offsets.clear();
    dense.clear();
    labels.clear();
    weight = 1.0f;
    event_time_ms = 0;
    request_id = 0;
  }

  int num_slots() const {
    return slot_offsets.empty() ? 0 : static_cast<int>(slot_offsets.size()) - 1;
  }
  absl::Span<const uint64_t> slot_ids(int slot) const {
    return absl::MakeConstSpan(ids.data() + slot_offsets[slot],
                               slot_offsets[slot + 1] - slot_offsets[slot]);
  }
  // Weights of slot `slot`'s ids; empty when all weights are 1.
  absl::Span<const float> slot_weights(int slot) const {
    if (id_weights.empty()) return {};
    return absl::MakeConstSpan(id_weights.data() + slot_offsets[slot],
                               slot_offsets[slot + 1] - slot_offsets[slot]);
  }
  float label() const { return labels.empty() ? 0.0f : labels[0]; }
};

}  // namespace freshet

#endif  // FRESHET_DATA_EXAMPLE_H_
