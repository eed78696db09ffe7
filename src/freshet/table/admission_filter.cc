#include "freshet/table/admission_filter.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "freshet/base/hash.h"

namespace freshet {

AdmissionFilter::AdmissionFilter(const AdmissionSpec& spec, size_t width,
                                 uint64_t seed)
    : min_count_(std::clamp<uint32_t>(spec.min_count, 1, kMaxAdmissionCount)),
      probability_(spec.probability),
      half_life_ms_(static_cast<int64_t>(spec.decay_half_life_s * 1000.0)),
      seed_(Mix64(seed ^ 0xad31751ab1e5eedULL)) {
  admits_all_ = min_count_ <= 1 && probability_ >= 1.0;
  if (min_count_ > 1) {
    const size_t w = std::bit_ceil(std::clamp<size_t>(width, 64, 65536));
    mask_ = w - 1;
    counters_.assign(kDepth * w, 0);
  }
}

void AdmissionFilter::Decay(int64_t now_ms) {
  if (half_life_ms_ <= 0 || counters_.empty()) return;
  if (last_decay_ms_ == INT64_MIN) {
    last_decay_ms_ = now_ms;
    return;
  }
  if (now_ms - last_decay_ms_ < half_life_ms_) return;
  const int64_t halvings = (now_ms - last_decay_ms_) / half_life_ms_;
  last_decay_ms_ += halvings * half_life_ms_;
  const int shift = static_cast<int>(std::min<int64_t>(halvings, 16));
  for (uint16_t& c : counters_) c = static_cast<uint16_t>(c >> shift);
}

uint32_t AdmissionFilter::Estimate(uint64_t hash) const {
  if (counters_.empty()) return 0;
  const size_t width = mask_ + 1;
  uint64_t h = Mix64(hash ^ seed_);
  uint32_t est = 0xFFFF;
  for (int d = 0; d < kDepth; ++d) {
    const size_t i = d * width + (static_cast<uint32_t>(h >> (16 * d)) & mask_);
    est = std::min<uint32_t>(est, counters_[i]);
    if (d == 1) h = Mix64(h);
  }
  return est;
}

bool AdmissionFilter::Admit(uint64_t hash, int64_t now_ms) {
  if (admits_all_) return true;
  if (!counters_.empty()) {
    Decay(now_ms);
    // Conservative update: raise only the counters at the minimum, which
    // keeps the over-count of a count-min sketch lower.
    const size_t width = mask_ + 1;
    size_t idx[kDepth];
    uint64_t h = Mix64(hash ^ seed_);
    uint32_t est = 0xFFFF;
    for (int d = 0; d < kDepth; ++d) {
      idx[d] = d * width + (static_cast<uint32_t>(h >> (16 * d)) & mask_);
      est = std::min<uint32_t>(est, counters_[idx[d]]);
      if (d == 1) h = Mix64(h);
    }
    const uint32_t next = std::min<uint32_t>(est + 1, 0xFFFF);
    for (int d = 0; d < kDepth; ++d) {
      if (counters_[idx[d]] < next) counters_[idx[d]] = next;
    }
    if (next < min_count_) return false;
  }
  if (probability_ >= 1.0) return true;
  const uint64_t draw = Mix64(seed_ ^ Mix64(hash + ++draws_));
  return static_cast<double>(draw >> 11) * 0x1.0p-53 < probability_;
}

void AdmissionFilter::SaveState(std::string* out) const {
  auto put = [out](const void* p, size_t n) {
    out->append(static_cast<const char*>(p), n);
  };
  const uint32_t n = static_cast<uint32_t>(counters_.size());
  put(&draws_, sizeof(draws_));
  put(&last_decay_ms_, sizeof(last_decay_ms_));
  put(&n, sizeof(n));
  put(counters_.data(), counters_.size() * sizeof(uint16_t));
}

bool AdmissionFilter::LoadState(std::string_view* in) {
  constexpr size_t kFixed = sizeof(uint64_t) + sizeof(int64_t) + 4;
  if (in->size() < kFixed) return false;
  uint32_t n;
  std::memcpy(&n, in->data() + 16, sizeof(n));
  if (n != counters_.size() || in->size() - kFixed < n * sizeof(uint16_t)) {
    return false;
  }
  std::memcpy(&draws_, in->data(), sizeof(draws_));
  std::memcpy(&last_decay_ms_, in->data() + 8, sizeof(last_decay_ms_));
  // Without a sketch (min_count 1) counters_.data() is null, which memcpy
  // must not be given even for zero bytes.
  if (n > 0) {
    std::memcpy(counters_.data(), in->data() + kFixed, n * sizeof(uint16_t));
  }
  in->remove_prefix(kFixed + n * sizeof(uint16_t));
  return true;
}

}  // namespace freshet
