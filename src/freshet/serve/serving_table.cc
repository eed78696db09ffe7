#include "freshet/serve/serving_table.h"

#include <algorithm>

#include "freshet/sync/fp16.h"

namespace freshet {

ServingTable::ServingTable(std::string name, int dim, WeightPrecision precision,
                           std::vector<float> default_row)
    : name_(std::move(name)),
      dim_(dim),
      precision_(precision),
      default_(default_row.empty() ? std::vector<float>(dim, 0.0f)
                                   : std::move(default_row)) {}

uint32_t ServingTable::SlotFor(uint64_t key) {
  auto [it, inserted] = index_.try_emplace(key, 0);
  if (inserted) {
    if (!free_.empty()) {
      it->second = free_.back();
      free_.pop_back();
    } else {
      it->second = slots_++;
      if (precision_ == WeightPrecision::kFp16) {
        f16_.resize(static_cast<size_t>(slots_) * dim_);
      } else {
        f32_.resize(static_cast<size_t>(slots_) * dim_);
      }
    }
  }
  return it->second;
}

void ServingTable::WriteRow(uint32_t slot, const float* weights) {
  const size_t at = static_cast<size_t>(slot) * dim_;
  if (precision_ == WeightPrecision::kFp16) {
    for (int k = 0; k < dim_; ++k) f16_[at + k] = FloatToHalf(weights[k]);
  } else {
    std::copy(weights, weights + dim_, f32_.begin() + at);
  }
}

void ServingTable::UpsertBatch(absl::Span<const uint64_t> keys,
                               const float* weights) {
  UpsertBatch(keys, weights, nullptr);
}

bool ServingTable::Replay(absl::Span<const uint64_t> keys, const float* weights,
                          const UpsertPlan& plan) {
  if (plan.slots.size() != keys.size()) return false;
  for (uint32_t i : plan.created) {
    if (i >= keys.size() || SlotFor(keys[i]) != plan.slots[i]) return false;
  }
  const size_t n = keys.size();
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      const size_t at = static_cast<size_t>(plan.slots[i + kAhead]) * dim_;
      if (precision_ == WeightPrecision::kFp16) {
        __builtin_prefetch(f16_.data() + at, 1);
      } else {
        __builtin_prefetch(f32_.data() + at, 1);
      }
    }
    WriteRow(plan.slots[i], weights + i * dim_);
  }
  return true;
}

void ServingTable::UpsertBatch(absl::Span<const uint64_t> keys,
                               const float* weights, UpsertPlan* plan) {
  if (plan != nullptr) {
    plan->slots.resize(keys.size());
    plan->created.clear();
  }
  // In chunks: find (or create) the slots of a chunk with the index slots
  // of keys a few ahead prefetched and each row prefetched once found, then
  // write the chunk's rows, by now in cache.
  constexpr size_t kChunk = 64;
  constexpr size_t kAhead = 8;
  const size_t n = keys.size();
  for (size_t i = 0; i < std::min(n, kAhead); ++i) index_.prefetch(keys[i]);
  batch_slots_.resize(kChunk);
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t end = std::min(n, begin + kChunk);
    for (size_t i = begin; i < end; ++i) {
      if (i + kAhead < n) index_.prefetch(keys[i + kAhead]);
      const uint32_t before = slots_;
      const size_t free_before = free_.size();
      const uint32_t slot = SlotFor(keys[i]);
      batch_slots_[i - begin] = slot;
      if (plan != nullptr) {
        plan->slots[i] = slot;
        if (slots_ != before || free_.size() != free_before) {
          plan->created.push_back(static_cast<uint32_t>(i));
        }
      }
      const size_t at = static_cast<size_t>(slot) * dim_;
      if (precision_ == WeightPrecision::kFp16) {
        __builtin_prefetch(f16_.data() + at, 1);
      } else {
        __builtin_prefetch(f32_.data() + at, 1);
      }
    }
    for (size_t i = begin; i < end; ++i) {
      WriteRow(batch_slots_[i - begin], weights + i * dim_);
    }
  }
}

bool ServingTable::Erase(uint64_t key) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  free_.push_back(it->second);
  index_.erase(it);
  return true;
}

bool ServingTable::Lookup(uint64_t key, float* out) const {
  auto it = index_.find(key);
  if (it == index_.end()) {
    std::copy(default_.begin(), default_.end(), out);
    return false;
  }
  const size_t at = static_cast<size_t>(it->second) * dim_;
  if (precision_ == WeightPrecision::kFp16) {
    for (int k = 0; k < dim_; ++k) out[k] = HalfToFloat(f16_[at + k]);
  } else {
    std::copy(f32_.begin() + at, f32_.begin() + at + dim_, out);
  }
  return true;
}

void ServingTable::LookupBatch(absl::Span<const uint64_t> keys,
                               float* rows) const {
  for (size_t i = 0; i < keys.size(); ++i) {
    Lookup(keys[i], rows + i * static_cast<size_t>(dim_));
  }
}

int64_t ServingTable::bytes() const {
  return static_cast<int64_t>(
      f32_.capacity() * sizeof(float) + f16_.capacity() * sizeof(uint16_t) +
      free_.capacity() * sizeof(uint32_t) +
      index_.capacity() * (sizeof(uint64_t) + sizeof(uint32_t) + 1));
}

}  // namespace freshet
