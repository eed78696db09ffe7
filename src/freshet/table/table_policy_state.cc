// EmbeddingTable: the saved state of its policies (admission sketches and
// draws, eviction draws, the event-time watermark), which rows do not carry.
#include <cstring>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "freshet/table/embedding_table.h"
#include "freshet/table/table_stripe.h"

namespace freshet {

namespace {
// Format: magic, watermark (i64), stripe count (u32), then per stripe its
// eviction draws (u64) and admission sketch (AdmissionFilter::SaveState).
constexpr uint32_t kPolicyStateMagic = 0x31535046;  // "FPS1"
}  // namespace

void EmbeddingTable::AppendStripePolicy(const Stripe& s,
                                        std::string* out) const {
  out->append(reinterpret_cast<const char*>(&s.evict_draws),
              sizeof(s.evict_draws));
  s.admission->SaveState(out);
}

void EmbeddingTable::AppendPolicyHeader(std::string* out) const {
  const int64_t watermark = Watermark();
  out->append(reinterpret_cast<const char*>(&kPolicyStateMagic), 4);
  out->append(reinterpret_cast<const char*>(&watermark), 8);
  out->append(reinterpret_cast<const char*>(&num_stripes_), 4);
}

std::string EmbeddingTable::PolicyState() const {
  std::string out;
  AppendPolicyHeader(&out);
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    ReaderLock lock(&stripes_[st].mu);
    AppendStripePolicy(stripes_[st], &out);
  }
  return out;
}

absl::Status EmbeddingTable::RestorePolicyState(std::string_view state) {
  auto bad = [this](const char* why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", spec_.name, "': policy state does not fit: ", why));
  };
  uint32_t magic = 0, stripes = 0;
  int64_t watermark = 0;
  if (state.size() < 16) return bad("too short");
  std::memcpy(&magic, state.data(), 4);
  std::memcpy(&watermark, state.data() + 4, 8);
  std::memcpy(&stripes, state.data() + 12, 4);
  if (magic != kPolicyStateMagic) return bad("bad magic");
  if (stripes != num_stripes_) return bad("another stripe count");
  // Check that every stripe's part fits before changing anything.
  std::vector<std::unique_ptr<AdmissionFilter>> filters;
  std::vector<uint64_t> evict_draws;
  std::string_view in = state.substr(16);
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    auto f = std::make_unique<AdmissionFilter>(
        spec_.admission, options_.admission_sketch_width, seed_ + st);
    uint64_t draws;
    if (in.size() < sizeof(draws)) return bad("truncated");
    std::memcpy(&draws, in.data(), sizeof(draws));
    in.remove_prefix(sizeof(draws));
    if (!f->LoadState(&in)) return bad("another admission sketch");
    filters.push_back(std::move(f));
    evict_draws.push_back(draws);
  }
  if (!in.empty()) return bad("trailing bytes");
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    Stripe& s = stripes_[st];
    WriterLock lock(&s.mu);
    s.admission = std::move(filters[st]);
    s.evict_draws = evict_draws[st];
  }
  if (watermark != kNoEventTime) ObserveTime(watermark);
  return absl::OkStatus();
}

}  // namespace freshet
