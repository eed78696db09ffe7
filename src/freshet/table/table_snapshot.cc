// EmbeddingTable: snapshots, the consistent cut a checkpoint writes while
// updates go on (see "Snapshots" in embedding_table.h).
#include <algorithm>
#include <bit>
#include <string>

#include "absl/strings/str_cat.h"
#include "freshet/table/embedding_table.h"
#include "freshet/table/table_stripe.h"

namespace freshet {

using table_row::kLive;
using table_row::RowFlags;

std::string EmbeddingTable::TakeSnapshotPolicyState() {
  return std::move(snapshot_policy_);
}

absl::Status EmbeddingTable::BeginSnapshot(SnapshotScope scope) {
  if (snapshot_open()) {
    return absl::FailedPreconditionError(
        absl::StrCat("table '", spec_.name, "': a snapshot is open already"));
  }
  if (scope == SnapshotScope::kChanged && !options_.track_checkpoint) {
    return absl::FailedPreconditionError(absl::StrCat(
        "table '", spec_.name,
        "': a snapshot of changed rows needs checkpoint tracking"));
  }
  snapshot_policy_.clear();
  AppendPolicyHeader(&snapshot_policy_);
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    Stripe& s = stripes_[st];
    WriterLock lock(&s.mu);
    AppendStripePolicy(s, &snapshot_policy_);
    s.snap_word = 0;
    s.snap_rows.clear();
    s.snap_deleted.clear();
    if (scope == SnapshotScope::kAll) {
      // Every id below the high water; ids free at the cut are skipped when
      // read.
      const uint32_t high_water = s.arena->high_water();
      s.snap.assign((high_water + 63) / 64, ~uint64_t{0});
      if (high_water % 64 != 0) {
        s.snap.back() = (uint64_t{1} << (high_water % 64)) - 1;
      }
      if (options_.track_checkpoint) {
        std::fill(s.dirty[1].begin(), s.dirty[1].end(), 0);
        s.deleted[1].clear();
      }
    } else {
      s.snap.swap(s.dirty[1]);
      s.dirty[1].assign(s.snap.size(), 0);
      s.snap_deleted.swap(s.deleted[1]);
      s.deleted[1].clear();
    }
    s.snap_active = true;
  }
  snapshot_stripe_ = 0;
  snapshot_open_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

bool EmbeddingTable::ReadSnapshot(DirtyBatch* out, size_t max_rows) {
  if (!snapshot_open()) return false;
  max_rows = std::max<size_t>(max_rows, 64);
  size_t added = 0;
  while (snapshot_stripe_ < num_stripes_) {
    Stripe& s = stripes_[snapshot_stripe_];
    WriterLock lock(&s.mu);
    out->deleted_keys.insert(out->deleted_keys.end(), s.snap_deleted.begin(),
                             s.snap_deleted.end());
    std::vector<uint64_t>().swap(s.snap_deleted);
    for (size_t off = 0; off < s.snap_rows.size(); off += stride_) {
      AppendRow(s.snap_rows.data() + off, out);
      ++added;
    }
    s.snap_rows.clear();
    while (s.snap_word < s.snap.size() && added < max_rows) {
      uint64_t word = s.snap[s.snap_word];
      s.snap[s.snap_word] = 0;
      while (word != 0) {
        const uint32_t row =
            static_cast<uint32_t>(s.snap_word * 64 + std::countr_zero(word));
        word &= word - 1;
        const char* p = s.arena->Row(row);
        if ((RowFlags(p) & kLive) == 0) continue;
        AppendRow(p, out);
        ++added;
      }
      ++s.snap_word;
    }
    if (s.snap_word < s.snap.size()) return true;
    // Every row of the stripe's cut has been read, and holding the lock, no
    // change can have copied another aside since.
    s.snap_active = false;
    std::vector<uint64_t>().swap(s.snap);
    std::vector<char>().swap(s.snap_rows);
    ++snapshot_stripe_;
    if (added >= max_rows && snapshot_stripe_ < num_stripes_) return true;
  }
  snapshot_open_.store(false, std::memory_order_release);
  return false;
}

void EmbeddingTable::AbortSnapshot() {
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    Stripe& s = stripes_[st];
    WriterLock lock(&s.mu);
    s.snap_active = false;
    std::vector<uint64_t>().swap(s.snap);
    std::vector<char>().swap(s.snap_rows);
    std::vector<uint64_t>().swap(s.snap_deleted);
    s.snap_word = 0;
  }
  snapshot_stripe_ = num_stripes_;
  snapshot_open_.store(false, std::memory_order_release);
}

}  // namespace freshet
