// ServingReplica: the serving copy of one model shard, fed by delta batches.
//
// It holds what a prediction needs and nothing else: per training table a
// ServingTable (weights only, fp32 or fp16 per TableSpec::serving_precision),
// the dense part as a Model built from the same ModelSpec as training (so
// prediction runs the trainer's Model::Forward), and the slot → table
// bindings, derived from the job exactly as LocalStore derives them (TABLE for
// embeddings, TABLE/wide for dim-1 wide weights).
//
// Consistency (left-right): the replica keeps two copies of its state.
// Requests read the active copy, announcing themselves with a per-copy reader
// count and never blocking. Apply() validates a batch, applies all of it —
// deletions, then rows, then dense parameters — to the inactive copy (which
// no request reads), switches the active copy with one atomic store, waits
// until the requests still on the old copy finish, and applies the batch to
// that copy as well. A request therefore sees either all of version v of the
// shard or none of it, never a torn row, and a large batch never stalls
// requests. The price is twice the serving memory and twice the apply work
// (the second half after the batch is visible).
//
// Ordering (docs/sync_format.md). A replica at version c of epoch e applies
// a batch of epoch e built on base_version b with version v iff
// b <= c < v: the batch holds every change since b, so also every change
// since c. It refuses, changing nothing:
//   * a batch of an older epoch (a publisher that was replaced):
//     FailedPrecondition;
//   * a duplicate or older batch, c >= v: AlreadyExists (the replica has it);
//   * a gap, c < b, or a delta of a newer epoch: SyncGapError (OutOfRange).
//     Rows changed only in the missing batches would be missing, so nothing
//     of it is applied: the replica keeps serving version c, reports the gap
//     open (status().gap_open, sync_gap(); the predictor then says "stale")
//     and waits to be healed.
// A full batch heals: it applies over any version below its own (of its
// epoch or a newer one), and the replica then holds exactly its rows: keys it
// had and the full batch lacks are deleted. Any batch applied closes the gap.
//
// Thread-safe: any number of readers and appliers at once.
#ifndef FRESHET_SERVE_SERVING_REPLICA_H_
#define FRESHET_SERVE_SERVING_REPLICA_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/base/mutex.h"
#include "freshet/data/schema.h"
#include "freshet/model/model.h"
#include "freshet/serve/histogram.h"
#include "freshet/serve/serving_table.h"
#include "freshet/store/model_tables.h"
#include "freshet/sync/delta_batch.h"
#include "freshet/sync/delta_sink.h"

namespace freshet {

// Which serving tables a slot reads: the training model's binding
// (freshet/store/model_tables.h), over the replica's table list.
using ServingSlot = SlotBinding;

struct ReplicaStatus {
  uint32_t shard = 0;
  uint64_t version = 0;         // last applied; 0: none yet
  int64_t applied_unix_us = 0;  // when the last batch was applied
  int64_t created_unix_us = 0;  // when the last batch was cut
  int64_t examples = 0;         // training examples behind the last batch
  uint64_t epoch = 0;           // of the last applied batch
  int64_t batches = 0;          // applied
  int64_t full_batches = 0;     // of which full
  int64_t rejected = 0;         // refused (gap, duplicate, old epoch, bad)
  int64_t duplicates = 0;       // of which duplicates or older versions
  int64_t version_gaps = 0;     // gaps detected (each counted once)
  bool gap_open = false;        // a gap seen and not healed yet
  int64_t rows_applied = 0;     // rows upserted, over all batches
  int64_t deletes_applied = 0;
  int64_t bytes_received = 0;  // byte-form size of the batches applied
  double last_apply_s = 0;  // from the start of the apply to it being visible
  double max_apply_s = 0;
  double total_apply_s = 0;  // over all batches (the catch-up takes as long)
};

class ServingReplica {
 public:
  // One of the two copies of the state (see above).
  struct Copy {
    std::vector<std::unique_ptr<ServingTable>> tables;
    std::unique_ptr<Model> dense;
    uint64_t version = 0;
    int64_t created_unix_us = 0;
  };

  // A consistent read-only view, valid inside Read().
  class View {
   public:
    const Model& dense() const { return *copy_->dense; }
    const ServingTable& table(int i) const { return *copy_->tables[i]; }
    const ServingSlot& slot(int s) const { return replica_->slots_[s]; }
    uint64_t version() const { return copy_->version; }
    int64_t created_unix_us() const { return copy_->created_unix_us; }

   private:
    friend class ServingReplica;
    View(const ServingReplica* r, const Copy* c) : replica_(r), copy_(c) {}
    const ServingReplica* replica_;
    const Copy* copy_;
  };

  // The replica of shard `shard` of `job`, whose records `schema` (compiled
  // from job.schema) describes. Until the first batch the tables are empty
  // and the dense parameters are those LocalStore::Create gives for
  // job.train.seed.
  static absl::StatusOr<std::unique_ptr<ServingReplica>> Create(
      const JobConfig& job, std::shared_ptr<const Schema> schema,
      uint32_t shard = 0, const Clock* clock = nullptr);
  ~ServingReplica();

  // Applies one batch atomically (see above). InvalidArgument for a batch of
  // another shard, an unknown table, mismatched sizes, a base_version not
  // below its version or a full batch that lacks a table; for the ordering
  // answers (gap, duplicate, old epoch) see above.
  absl::Status Apply(const DeltaBatch& batch);
  // Decodes (outside the lock) and applies.
  absl::Status ApplyEncoded(std::string_view bytes);

  // Calls fn(const View&) on the active copy; never blocks.
  template <typename Fn>
  void Read(Fn&& fn) const {
    const int i = EnterRead();
    struct Exit {
      const ServingReplica* r;
      int i;
      ~Exit() { r->readers_[i].fetch_sub(1); }
    } exit{this, i};
    fn(View(this, &copies_[i]));
  }

  const Schema& schema() const { return *schema_; }
  const ModelShape& shape() const { return copies_[0].dense->shape(); }
  double serving_logit_offset() const {
    return copies_[0].dense->serving_logit_offset();
  }
  int num_tables() const { return static_cast<int>(copies_[0].tables.size()); }
  const std::string& table_name(int i) const {
    return copies_[0].tables[i]->name();
  }
  int table_dim(int i) const { return copies_[0].tables[i]->dim(); }
  const std::vector<ServingSlot>& slots() const { return slots_; }
  const Clock& clock() const { return *clock_; }

  ReplicaStatus status() const;
  // Whether a gap is open (see above): what is served is a consistent but
  // old version. Cheap enough for every request.
  bool sync_gap() const { return gap_open_.load(std::memory_order_relaxed); }
  // Rows and bytes of table i in the active copy (bytes: of both copies).
  int64_t table_rows(int i) const;
  int64_t table_bytes(int i) const;
  // Time from an update entering the trainer to this replica applying it,
  // one sample per batch that carries updates (stamped by SyncPublisher).
  const Histogram& freshness() const { return freshness_; }

 private:
  ServingReplica(std::shared_ptr<const Schema> schema, uint32_t shard,
                 const Clock* clock);

  int EnterRead() const;
  void WaitForReaders(int copy) const;
  void CatchUpLoop();
  // Blocks until the catch-up thread has brought the inactive copy level.
  void WaitForCatchUp() const;
  // The answer to a batch of `batch`'s ordering against the applied state:
  // OK to apply, or why not (see above).
  absl::Status CheckOrder(const DeltaBatch& batch) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  // Applies `batch` to `copy`. With `record`, notes each table's upsert
  // plan; with `replay`, replays such plans recorded on the other copy (see
  // ServingTable::Replay).
  static void ApplyTo(const DeltaBatch& batch, const std::vector<int>& table_of,
                      Copy* copy, std::vector<ServingTable::UpsertPlan>* record,
                      const std::vector<ServingTable::UpsertPlan>* replay);

  const std::shared_ptr<const Schema> schema_;
  const uint32_t shard_;
  const Clock* const clock_;
  absl::flat_hash_map<std::string, int> table_index_;
  std::vector<ServingSlot> slots_;
  Copy copies_[2];
  std::atomic<int> active_{0};
  mutable std::atomic<int64_t> readers_[2];
  mutable Mutex apply_mu_;  // serialises Apply()
  uint64_t epoch_ ABSL_GUARDED_BY(apply_mu_) = 0;
  std::atomic<bool> gap_open_{false};

  // The batch the inactive copy still lacks, applied by catchup_thread_.
  // The copies themselves are not guarded by a lock (see above).
  mutable Mutex catchup_mu_;
  mutable CondVar catchup_cv_{&catchup_mu_};
  std::unique_ptr<DeltaBatch> catchup_batch_ ABSL_GUARDED_BY(catchup_mu_);
  std::vector<int> catchup_tables_ ABSL_GUARDED_BY(catchup_mu_);
  // Upsert plans of catchup_batch_ on the active copy (read by the catch-up
  // thread while it applies), and a spare set (Apply()'s).
  std::vector<ServingTable::UpsertPlan> catchup_plans_, spare_plans_;
  int catchup_copy_ ABSL_GUARDED_BY(catchup_mu_) = 0;
  bool catchup_stop_ ABSL_GUARDED_BY(catchup_mu_) = false;
  std::thread catchup_thread_;

  mutable Mutex status_mu_;
  ReplicaStatus status_ ABSL_GUARDED_BY(status_mu_);
  Histogram freshness_;
};

// A DeltaSink that applies each batch to a replica in the sender's thread
// (the embedded pipeline of `freshet run`). In process it takes the batch as
// is (no encoding); with `via_bytes` it decodes the byte form instead, as a
// remote replica would. It answers with the replica's status, so a gap makes
// the publisher's next batch full.
class ReplicaSink final : public DeltaSink {
 public:
  explicit ReplicaSink(ServingReplica* replica, bool via_bytes = false)
      : replica_(replica), via_bytes_(via_bytes) {}
  absl::Status Send(std::string_view encoded,
                    const DeltaBatch& batch) override {
    return via_bytes_ ? replica_->ApplyEncoded(encoded)
                      : replica_->Apply(batch);
  }
  bool wants_bytes() const override { return via_bytes_; }

 private:
  ServingReplica* replica_;
  bool via_bytes_;
};

}  // namespace freshet

#endif  // FRESHET_SERVE_SERVING_REPLICA_H_
