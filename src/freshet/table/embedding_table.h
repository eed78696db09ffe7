// EmbeddingTable: the collisionless embedding table of one table shard.
//
// A table maps full 64-bit feature ids (keys) to rows. Two keys never share a
// row: the index narrows a key to candidate rows by a 32-bit hash, and the
// key itself, kept in the row, decides. A row is
//
//   [key u64][last update, event ms i64][value score f32][flags u32]
//   [weights f32 x dim][optimizer state f32 x StateFloats()]
//
// with a fixed stride per table (rounded up to 8 bytes), stored in a slab
// arena; freed rows are reused by the next insert.
//
// Concurrency. The table is split into stripes (by high bits of a mix of the
// key, independent of the index hash and of the parameter store's routing);
// each stripe has its own index, arena, admission filter and lock. Batched
// calls group their keys by stripe and take each stripe's lock once per
// call, so no lock is taken per key, and prefetch index slots and rows ahead
// of use. All public methods may be called from any number of threads at
// once. A batch is not atomic across stripes: a concurrent reader may see
// some stripes of an Apply() batch updated and others not, but never a torn
// row. Lookup(kServe) takes stripe locks shared; every other call takes them
// exclusively.
//
// Policies, per table (TableSpec):
//   * admission (spec.admission): an id gets a row when a kTrain lookup has
//     seen it min_count times (decayed count-min sketch, 16-bit counters) or
//     by probability. Until then lookups return the table default and
//     Apply() drops its gradient (counted in Stats().dropped_gradients).
//   * expiry (spec.ttl_ms): ExpireStep() deletes rows whose last update, in
//     event time, is older than the ttl; an incremental sweep, bounded work
//     per call.
//   * memory budget (spec.memory_budget_bytes): the admission sketches are
//     taken off the budget and the rest is shared evenly by the stripes; an
//     insert that would take a stripe's arena + index past its share first
//     evicts the lowest-value row among a few sampled ones (value = count of
//     updates decayed in event time with a half-life, positives weighted
//     up), O(1) per insert.
//
// Change tracking. Each row has two dirty bits, one for sync and one for
// checkpoints, kept in per-stripe bitmaps indexed by row id (2 bits per row,
// sized with the arena, so they can neither overflow nor drop a row) and set
// by every change (create, Apply, Restore). CollectDirty() takes and clears
// the bits stripe by stripe, under the stripe's lock: a row changed after its
// stripe was collected is dirty again and comes in the next batch. Deleted
// keys (expiry, eviction, Erase) go to a growable log per kind, and deleting
// a row clears its bits; a consumer applies a
// batch's deletions before its rows.
//
// Snapshots (checkpoints while updates go on). BeginSnapshot() marks the rows
// a checkpoint must hold, as they are at that call (the cut): every live row,
// or the rows changed since the previous checkpoint (it takes the kCheckpoint
// dirty bits and deleted keys). It costs a pass over per-stripe bitmaps, not
// over the rows. Until ReadSnapshot() has read a stripe, the first change to
// a marked row of it (Apply, Restore, delete) copies the row aside before
// changing it (copy on write per row), and rows created after the cut are
// unmarked. ReadSnapshot() returns, in chunks, exactly the rows of the cut,
// however the table changes meanwhile; it holds a stripe's lock only while it
// copies one chunk. One snapshot at a time per table.
#ifndef FRESHET_TABLE_EMBEDDING_TABLE_H_
#define FRESHET_TABLE_EMBEDDING_TABLE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/base/config.h"
#include "freshet/optim/sparse_optimizer.h"
#include "freshet/table/admission_filter.h"
#include "freshet/table/initializer.h"
#include "freshet/table/row_arena.h"
#include "freshet/table/row_index.h"

namespace freshet {

// Knobs that are not part of the job file.
struct EmbeddingTableOptions {
  int num_stripes = 32;  // rounded up to a power of two, at most 1024
  // Seed of the initializer, the stripe hash and the admission draws;
  // 0: TableSeed(spec.name).
  uint64_t seed = 0;
  size_t admission_sketch_width = 16384;  // counters per sketch row per stripe
  bool track_sync = true;        // keep sync dirty bits and deleted keys
  bool track_checkpoint = true;  // same for checkpoints
};

enum class LookupMode {
  kTrain,  // counts sightings for admission, creates admitted rows
  kServe,  // read only: no counting, no insertion (shared locks)
};

enum class DirtyKind { kSync = 0, kCheckpoint = 1 };

// Rows changed and keys deleted since the previous collection.
struct DirtyBatch {
  std::vector<uint64_t> keys;
  std::vector<float> weights;  // keys.size() x dim
  // Filled when collected with state: keys.size() x state_floats, and each
  // row's last update time and value score.
  std::vector<float> state;
  std::vector<int64_t> last_update_ms;
  std::vector<float> scores;
  std::vector<uint64_t> deleted_keys;  // apply before `keys`

  void Clear();
};

// A read-only view of one row, valid during a ForEachRow() callback.
struct RowView {
  uint64_t key;
  int64_t last_update_ms;
  float score;
  absl::Span<const float> weights;
  absl::Span<const float> state;
};

// What BeginSnapshot() captures.
enum class SnapshotScope {
  kAll,      // every live row (a full checkpoint)
  kChanged,  // rows changed and keys deleted since the previous kCheckpoint
             // collection or snapshot (an incremental checkpoint)
};

struct TableStats {
  // Memory, exact: everything the table allocates for rows, index and
  // admission sketch (not counting the fixed-size table object).
  int64_t rows = 0;
  int64_t row_bytes = 0;          // the stride: metadata + weights + state
  int64_t arena_bytes = 0;        // slabs allocated
  int64_t arena_slack_bytes = 0;  // arena_bytes - rows * row_bytes
  int64_t index_bytes = 0;
  int64_t index_slots = 0;
  double load_factor = 0;       // rows / index_slots
  int64_t admission_bytes = 0;  // count-min sketches
  int64_t tracking_bytes = 0;   // dirty bitmaps and deleted-key logs
  int64_t total_bytes = 0;      // sum of the above
  double bytes_per_row = 0;     // total_bytes / rows
  double index_bytes_per_row = 0;
  // Events since creation.
  int64_t lookups = 0;            // keys looked up
  int64_t default_lookups = 0;    // of which returned the table default
  int64_t inserts = 0;            // rows created by lookups
  int64_t not_admitted = 0;       // kTrain sightings refused by admission
  int64_t applied = 0;            // gradients applied
  int64_t dropped_gradients = 0;  // gradients for keys without a row
  int64_t expired = 0;
  int64_t evicted = 0;
};

class EmbeddingTable {
 public:
  // Returns a table for `spec`, or InvalidArgument for a bad dim, optimizer
  // or initializer.
  static absl::StatusOr<std::unique_ptr<EmbeddingTable>> Create(
      const TableSpec& spec, const EmbeddingTableOptions& options = {});

  ~EmbeddingTable();
  EmbeddingTable(const EmbeddingTable&) = delete;
  EmbeddingTable& operator=(const EmbeddingTable&) = delete;

  const TableSpec& spec() const { return spec_; }
  int dim() const { return dim_; }
  int state_floats() const { return optimizer_.StateFloats(); }
  const SparseOptimizer& optimizer() const { return optimizer_; }

  // Writes the weights of keys[i] to out[i*dim, (i+1)*dim); the table default
  // for keys without a row. In kTrain mode, counts each key as a sighting and
  // creates a row (initialized from the key) when admission lets it in.
  // `event_time_ms` (kTrain) stamps new rows and drives admission decay; pass
  // kNoEventTime to use the largest event time the table has seen (0 before
  // any). InvalidArgument if out.size() != keys.size() * dim.
  static constexpr int64_t kNoEventTime = INT64_MIN;
  absl::Status Lookup(absl::Span<const uint64_t> keys, absl::Span<float> out,
                      LookupMode mode, int64_t event_time_ms = kNoEventTime);

  // Applies grads[i*dim, (i+1)*dim) to the row of keys[i] with the table's
  // optimizer, in order (a repeated key is updated once per occurrence).
  // Gradients of keys without a row are dropped and counted. Sets the rows'
  // last update to event_time_ms (if later), adds to their value score
  // (1, or 1 + (positive_weight - 1) * labels[i] when labels are given) and
  // marks them dirty. InvalidArgument on size mismatches.
  absl::Status Apply(absl::Span<const uint64_t> keys,
                     absl::Span<const float> grads, int64_t event_time_ms,
                     absl::Span<const float> labels = {});

  // Scans at most `max_rows` row slots, continuing where the previous call
  // stopped (stripe after stripe, so repeated calls sweep the whole table),
  // and deletes the rows whose last update is at or before now_ms - ttl.
  // Returns the number of rows deleted; 0 when the table has no ttl.
  int64_t ExpireStep(int64_t now_ms, int64_t max_rows);

  // Moves rows changed and keys deleted since the previous collection of
  // `kind` into `out` (appending) and clears their bits. With `with_state`,
  // also the optimizer state and metadata (checkpoints). Returns the number
  // of rows added. A no-op when that kind of tracking is off.
  size_t CollectDirty(DirtyKind kind, DirtyBatch* out, bool with_state = false);

  // Starts a snapshot (see the file comment) and clears the kCheckpoint
  // dirty bits and deleted-key log: a later kChanged snapshot is relative to
  // this one. FailedPrecondition when a snapshot is open or, for kChanged,
  // when checkpoint tracking is off. Call it while no update of this table is
  // in flight, for a cut that is one point of the stream.
  absl::Status BeginSnapshot(SnapshotScope scope);

  // Appends the next rows of the open snapshot to `out` (keys, weights,
  // state, last update times, scores; deleted keys before rows), about
  // `max_rows` rows per call at most (rows copied aside are returned whole,
  // and a bitmap word at a time). Returns whether more may follow: false, and
  // the snapshot closed, once everything has been returned (the rows of
  // that last call belong to the snapshot too); false at once when none is
  // open. Called by one thread at a time.
  bool ReadSnapshot(DirtyBatch* out, size_t max_rows);

  // Closes the open snapshot early (e.g. its write failed). The dirty bits it
  // took are gone: the next checkpoint must be full.
  void AbortSnapshot();

  // The table's policy state as of BeginSnapshot() (admission counters and
  // draws, eviction draws, event-time watermark; see PolicyState()), moved
  // out: empty after the first call.
  std::string TakeSnapshotPolicyState();

  // The state of the table's policies that rows do not carry: each stripe's
  // admission sketch, decay clock and draw counters, and the event-time
  // watermark. Checkpoints keep it, so that a restored table admits and
  // evicts as the original would have. RestorePolicyState() takes the bytes
  // of a table of the same spec and options; InvalidArgument (and nothing
  // changed) otherwise.
  std::string PolicyState() const;
  absl::Status RestorePolicyState(std::string_view state);

  bool snapshot_open() const {
    return snapshot_open_.load(std::memory_order_acquire);
  }

  // Calls fn for every row, stripe by stripe, holding each stripe's lock
  // shared. REQUIRES: fn does not call into this table.
  void ForEachRow(const std::function<void(const RowView&)>& fn) const;

  // Creates or overwrites the row of `key` (checkpoint restore), bypassing
  // admission and the memory budget, and marks it dirty. `state` may be empty
  // (initial optimizer state). InvalidArgument on size mismatches.
  absl::Status Restore(uint64_t key, absl::Span<const float> weights,
                       absl::Span<const float> state, int64_t last_update_ms,
                       float score);

  // Deletes the row of `key`. Returns whether there was one.
  bool Erase(uint64_t key);

  // Whether `key` has a row.
  bool Contains(uint64_t key) const;

  // Rows in the table.
  int64_t size() const;

  TableStats Stats() const;

  // Checks the internal invariants (index and arena agree, every live row is
  // found by its key, no two rows share a key) and returns the first
  // violation. Takes every stripe lock in turn; for tests and debugging.
  absl::Status CheckInvariants() const;

 private:
  struct Stripe;
  struct Scratch;

  EmbeddingTable(const TableSpec& spec, const EmbeddingTableOptions& options,
                 SparseOptimizer optimizer, RowInitializer initializer);

  uint64_t KeyHash(uint64_t key) const;
  uint32_t StripeOf(uint64_t hash) const {
    return static_cast<uint32_t>(((hash >> 32) * num_stripes_) >> 32);
  }
  // Groups keys by stripe into the calling thread's scratch.
  Scratch& GroupByStripe(absl::Span<const uint64_t> keys) const;

  void ObserveTime(int64_t event_time_ms);
  int64_t Watermark() const {
    return watermark_.load(std::memory_order_relaxed);
  }

  // Row accessors; `row` points at the start of a row.
  float* Weights(char* row) const;
  float* State(char* row) const;

  // Fills sc.rows[begin, end) with row hints for the keys of one stripe
  // group after prefetching their index slots, and prefetches the head of
  // every row.
  void ResolveHints(const Stripe& s, Scratch& sc, uint32_t begin, uint32_t end,
                    bool for_write) const;
  // Prefetch the index slots of the keys of one stripe group; the row at
  // `p`: its head (its first three cache lines and its last byte's, the
  // whole of a row up to 192 bytes), or every line, for writing. Always
  // inlined: GCC finds a function of prefetches alone free of side effects
  // and drops its calls.
  [[gnu::always_inline]] void PrefetchSlots(const Stripe& s, const Scratch& sc,
                                            uint32_t begin, uint32_t end) const;
  [[gnu::always_inline]] void PrefetchRow(const char* p, bool for_write) const;
  [[gnu::always_inline]] void PrefetchWholeRow(const char* p) const;
  static constexpr uint32_t kWideRowsAhead = 8;
  uint32_t FindRow(const Stripe& s, uint64_t key, uint32_t hash32,
                   uint32_t hint) const;
  uint32_t InsertRow(Stripe& s, uint64_t key, uint32_t hash32, int64_t now_ms);
  void DeleteRow(Stripe& s, uint32_t row);
  void MarkDirty(Stripe& s, uint32_t row);
  // Copy on write: called before `row` of `s` changes or is deleted, and
  // after it is allocated.
  void BeforeChange(Stripe& s, uint32_t row);
  void PreserveRow(Stripe& s, uint32_t row);
  void AppendRow(const char* p, DirtyBatch* out) const;
  // The head of PolicyState() (magic, watermark, stripe count), and one
  // stripe's part. REQUIRES (AppendStripePolicy): its lock held.
  void AppendPolicyHeader(std::string* out) const;
  void AppendStripePolicy(const Stripe& s, std::string* out) const;
  bool EvictOne(Stripe& s);
  double DecayedScore(const char* p, int64_t now_ms) const;
  size_t StripeBytesAfterInsert(const Stripe& s) const;

  const TableSpec spec_;
  const EmbeddingTableOptions options_;
  const int dim_;
  const SparseOptimizer optimizer_;
  const RowInitializer initializer_;
  const size_t stride_;
  const uint64_t seed_;
  const uint64_t hash_salt_;
  const uint32_t num_stripes_;
  size_t stripe_budget_bytes_;  // 0: unlimited; set by the constructor
  std::unique_ptr<Stripe[]> stripes_;
  std::atomic<int64_t> watermark_{INT64_MIN};
  std::atomic<uint32_t> sweep_stripe_{0};
  // The open snapshot: whether there is one, and the next stripe to read.
  std::atomic<bool> snapshot_open_{false};
  uint32_t snapshot_stripe_ = 0;  // used by the snapshot's reader only
  std::string snapshot_policy_;   // PolicyState() at the cut
};

}  // namespace freshet

#endif  // FRESHET_TABLE_EMBEDDING_TABLE_H_
