// The inside of an EmbeddingTable, shared by the files that implement it
// (embedding_table.cc: index, rows, lookup and apply; table_snapshot.cc:
// snapshots; table_policy_state.cc: the policies' saved state): the row
// layout and the per-stripe state. Not part of the table's interface:
// include it only from those files.
#ifndef FRESHET_TABLE_TABLE_STRIPE_H_
#define FRESHET_TABLE_TABLE_STRIPE_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "freshet/base/mutex.h"
#include "freshet/table/embedding_table.h"

namespace freshet {
namespace table_row {
// Row metadata layout (bytes from the row start).
constexpr size_t kKeyOffset = 0;
constexpr size_t kTimeOffset = 8;
constexpr size_t kScoreOffset = 16;
constexpr size_t kFlagsOffset = 20;
constexpr size_t kWeightsOffset = 24;

constexpr uint32_t kLive = 1u;

template <typename T>
inline T Load(const char* p, size_t offset) {
  T v;
  std::memcpy(&v, p + offset, sizeof(T));
  return v;
}
template <typename T>
inline void Store(char* p, size_t offset, T v) {
  std::memcpy(p + offset, &v, sizeof(T));
}

inline uint64_t RowKey(const char* p) { return Load<uint64_t>(p, kKeyOffset); }
inline uint32_t RowFlags(const char* p) {
  return Load<uint32_t>(p, kFlagsOffset);
}
inline bool RowIs(const char* p, uint64_t key) {
  return (RowFlags(p) & kLive) != 0 && RowKey(p) == key;
}

}  // namespace table_row

// One stripe: a lock and what it guards. Counters are atomics so that shared
// (kServe) holders can bump them; they are added once per batch and stripe.
struct alignas(64) EmbeddingTable::Stripe {
  // A wrapped std::shared_mutex rather than absl::Mutex: the system's absl
  // is not built with ThreadSanitizer annotations, pthread locks are
  // understood by it, and the lock is taken once per batch and stripe, not
  // per key.
  mutable SharedMutex mu;
  std::unique_ptr<RowIndex> index;
  std::unique_ptr<RowArena> arena;
  std::unique_ptr<AdmissionFilter> admission;
  // Dirty bits by kind, one per row id (bit `row % 64` of word `row / 64`):
  // a quarter byte per row for both kinds, and a collection scans
  // high_water / 64 words, skipping clean words.
  std::vector<uint64_t> dirty[2];
  std::vector<uint64_t> deleted[2];  // keys deleted since collection
  // The open snapshot's part in this stripe: the rows of the cut not read
  // yet (a bit per row id), rows copied aside before a change (stride bytes
  // each) and keys deleted before the cut (kChanged).
  bool snap_active = false;
  std::vector<uint64_t> snap;
  size_t snap_word = 0;  // next word of `snap` to read
  std::vector<char> snap_rows;
  std::vector<uint64_t> snap_deleted;
  uint32_t sweep_cursor = 0;
  uint64_t evict_draws = 0;

  std::atomic<int64_t> lookups{0};
  std::atomic<int64_t> default_lookups{0};
  std::atomic<int64_t> inserts{0};
  std::atomic<int64_t> not_admitted{0};
  std::atomic<int64_t> applied{0};
  std::atomic<int64_t> dropped{0};
  std::atomic<int64_t> expired{0};
  std::atomic<int64_t> evicted{0};
};

// Per-thread buffers for grouping a batch by stripe; reused across calls so
// that the hot path does not allocate once warmed up.
struct EmbeddingTable::Scratch {
  std::vector<uint64_t> hash;    // by key index
  std::vector<uint32_t> stripe;  // by key index
  std::vector<uint32_t> order;   // key indices, grouped by stripe
  std::vector<uint32_t> start;   // stripe s owns order[start[s], start[s+1])
  std::vector<uint32_t> cursor;  // fill positions while grouping
  std::vector<uint32_t> rows;    // row hints, by position in order
  std::vector<char*> ptrs;       // their addresses (nullptr: no hint)
  // Stripe to start with; rotates so that threads do not walk the stripes in
  // step and queue on the same lock.
  uint32_t first_stripe = 0;
  uint64_t calls = 0;
};

}  // namespace freshet

#endif  // FRESHET_TABLE_TABLE_STRIPE_H_
