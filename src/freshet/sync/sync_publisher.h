// SyncPublisher: the training side of sync. Every interval it cuts a
// DeltaBatch from one training store or shard (a ParameterStore) and sends it
// to a DeltaSink, which acknowledges it or not (freshet/sync/delta_sink.h).
//
// A batch holds every row whose sync dirty bit was set since the previous
// batch (ParameterStore::CollectDirty(kSync): the bits cannot overflow,
// however many rows change), every key deleted since then, and the dense
// parameters as of the latest finished training batch. A batch is sent every
// interval even when nothing changed (a heartbeat), so a replica can tell a
// quiet stream from a broken sync.
//
// Acknowledged delivery: no update is ever dropped. Collecting clears the
// dirty bits, so the publisher keeps a batch whose send failed — rows,
// deletions, dense part and freshness stamp — as pending and merges it into
// the next batch (MergeOlderInto: a later change of a key wins), however many
// sends fail. Each batch names the last acknowledged version it builds on
// (DeltaBatch::base_version), so a batch delivered despite an error does no
// harm. When nothing failed nothing is kept or copied: the cost of a batch is
// collecting it. Versions grow by one per batch cut, sent or not, within an
// epoch (options.epoch, a new one per publisher).
//
// Full batches (every row of every table and the dense part) heal a replica
// that missed a batch: the first batch of an epoch is full, and so is the
// next batch after a sink answers with a gap (SyncGapError), after
// RequestFull(), and every options.full_every-th batch when that is set (for
// sinks with no way to answer, such as a network stream).
//
// The trainer calls OnBatch() from TrainerOptions::after_batch: it copies the
// dense parameters (stable there) and notes when the oldest update not yet
// published entered the trainer, which stamps the next batch for freshness.
//
// Thread safety: OnBatch() is called from the training compute thread;
// PublishNow(), RequestFull(), Start(), Stop() and stats() from any thread
// (RequestFull() also from inside the sink's Send()). Publications are
// serialised. The constructor reads the store's dense parameters, so it must
// run before training starts.
#ifndef FRESHET_SYNC_SYNC_PUBLISHER_H_
#define FRESHET_SYNC_SYNC_PUBLISHER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/clock.h"
#include "freshet/base/mutex.h"
#include "freshet/store/parameter_store.h"
#include "freshet/sync/delta_batch.h"
#include "freshet/sync/delta_sink.h"

namespace freshet {

struct SyncPublisherOptions {
  double interval_s = 1.0;  // between batches; works down to 0.01
  uint32_t shard = 0;
  const Clock* clock = nullptr;  // wall clock for stamps; null: system clock
  // Stamped on every batch; replicas drop batches of an older epoch. 0: the
  // clock's time at construction in µs, so a restarted publisher has a
  // newer epoch.
  uint64_t epoch = 0;
  // When > 0, every full_every-th batch is full, so that a replica fed
  // through a sink that cannot answer heals within full_every intervals.
  int64_t full_every = 0;
};

struct SyncStats {
  int64_t batches = 0;       // cut and sent (acknowledged or not)
  int64_t failed = 0;        // sends that returned an error
  int64_t gaps = 0;          // of which the sink reported a gap
  int64_t full_batches = 0;  // sent as full batches
  uint64_t last_version = 0;
  uint64_t acked_version = 0;  // the last batch the sink acknowledged
  int64_t pending_rows = 0;    // rows kept for the next batch after a failure
  int64_t rows = 0;            // rows sent, over all batches
  int64_t deleted = 0;         // deleted keys sent
  int64_t bytes = 0;           // encoded bytes sent (or their size, in process)
  int64_t last_rows = 0;
  int64_t last_bytes = 0;
  double last_cut_seconds = 0;  // time to collect + encode + send the last
  double max_cut_seconds = 0;
  double total_cut_seconds = 0;     // over all batches
  double last_collect_seconds = 0;  // of which collecting the dirty rows
  double max_collect_seconds = 0;
};

class SyncPublisher {
 public:
  SyncPublisher(ParameterStore* store, DeltaSink* sink,
                const SyncPublisherOptions& options);
  ~SyncPublisher();
  SyncPublisher(const SyncPublisher&) = delete;
  SyncPublisher& operator=(const SyncPublisher&) = delete;

  // Trainer hook (TrainerOptions::after_batch).
  void OnBatch(const ParameterStore& store, int64_t examples,
               double batch_start_s);

  // Cuts and sends one batch now; returns its version, or the sink's error
  // (the batch's content is then pending and rides in the next batch).
  absl::StatusOr<uint64_t> PublishNow();

  // Makes the next batch full.
  void RequestFull() { full_requested_.store(true); }

  // Starts the background thread that publishes every interval.
  void Start();
  // Stops it after one last publication (so every update made before Stop()
  // is sent, if the sink takes it). Idempotent.
  void Stop();

  SyncStats stats() const;
  const SyncPublisherOptions& options() const { return options_; }
  uint64_t epoch() const { return epoch_; }

 private:
  void Loop();
  // Adds every table's part to `batch`: the rows and deletions collected
  // from the sync dirty bits, or, for a full batch, every row.
  void CollectTables(DeltaBatch* batch);

  ParameterStore* const store_;
  DeltaSink* const sink_;
  const SyncPublisherOptions options_;
  const Clock* const clock_;
  const uint64_t epoch_;
  std::atomic<bool> full_requested_{false};

  // Staged by OnBatch(), taken by PublishNow().
  mutable Mutex stage_mu_;
  std::vector<float> staged_dense_ ABSL_GUARDED_BY(stage_mu_);
  // The first batch always carries dense.
  bool dense_changed_ ABSL_GUARDED_BY(stage_mu_) = true;
  int64_t staged_examples_ ABSL_GUARDED_BY(stage_mu_) = 0;
  // 0: nothing pending.
  int64_t oldest_pending_unix_us_ ABSL_GUARDED_BY(stage_mu_) = 0;

  Mutex publish_mu_;  // serialises PublishNow()
  uint64_t version_ ABSL_GUARDED_BY(publish_mu_) = 0;
  uint64_t acked_version_ ABSL_GUARDED_BY(publish_mu_) = 0;
  bool full_next_ ABSL_GUARDED_BY(publish_mu_) = true;
  // What the sink has not acknowledged; merged into the next batch.
  std::unique_ptr<DeltaBatch> pending_ ABSL_GUARDED_BY(publish_mu_);
  std::string encoded_ ABSL_GUARDED_BY(publish_mu_);

  mutable Mutex stats_mu_;
  SyncStats stats_ ABSL_GUARDED_BY(stats_mu_);

  Mutex loop_mu_;
  CondVar loop_cv_{&loop_mu_};
  bool stopping_ ABSL_GUARDED_BY(loop_mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(loop_mu_);
};

}  // namespace freshet

#endif  // FRESHET_SYNC_SYNC_PUBLISHER_H_
