// SyncPublisher: the training side of sync. Every interval it cuts a
// DeltaBatch from one training shard (a RecModel) and sends its byte form to
// a DeltaSink.
//
// A batch holds every row whose sync dirty bit was set since the previous
// batch (EmbeddingTable::CollectDirty(kSync): the bits cannot overflow, so no
// update is ever dropped, however many rows change), every key deleted since
// then, and the dense parameters as of the latest finished training batch.
// Versions are consecutive from 1. A batch is sent every interval even when
// nothing changed (a heartbeat), so a replica can tell a quiet stream from a
// broken sync.
//
// The trainer calls OnBatch() from TrainerOptions::after_batch: it copies the
// dense parameters (stable there) and notes when the oldest update not yet
// published entered the trainer, which stamps the next batch for freshness.
//
// Thread safety: OnBatch() is called from the training compute thread;
// PublishNow(), Start(), Stop() and stats() from any thread. Publications are
// serialised. The constructor reads the model's dense parameters, so it must
// run before training starts.
#ifndef FRESHET_SYNC_SYNC_PUBLISHER_H_
#define FRESHET_SYNC_SYNC_PUBLISHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/clock.h"
#include "freshet/sync/delta_batch.h"
#include "freshet/train/rec_model.h"

namespace freshet {

// Where delta batches go: an in-process replica, a network stream, a log.
class DeltaSink {
 public:
  virtual ~DeltaSink() = default;
  // Delivers one batch. `encoded` is its byte form (docs/sync_format.md),
  // or empty when wants_bytes() is false: an in-process sink applies `batch`
  // itself and the publisher skips encoding. An error is counted and
  // logged; the next batch is still sent (its rows are only the newer
  // changes, so a sink that fails must resync from a checkpoint).
  virtual absl::Status Send(std::string_view encoded,
                            const DeltaBatch& batch) = 0;
  // Whether Send() needs the byte form.
  virtual bool wants_bytes() const { return true; }
};

struct SyncPublisherOptions {
  double interval_s = 1.0;  // between batches; works down to 0.01
  uint32_t shard = 0;
  const Clock* clock = nullptr;  // wall clock for stamps; null: system clock
};

struct SyncStats {
  int64_t batches = 0;  // sent
  int64_t failed = 0;   // sends that returned an error
  uint64_t last_version = 0;
  int64_t rows = 0;     // rows sent, over all batches
  int64_t deleted = 0;  // deleted keys sent
  int64_t bytes = 0;    // encoded bytes sent (or their size, in process)
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
  SyncPublisher(RecModel* model, DeltaSink* sink,
                const SyncPublisherOptions& options);
  ~SyncPublisher();
  SyncPublisher(const SyncPublisher&) = delete;
  SyncPublisher& operator=(const SyncPublisher&) = delete;

  // Trainer hook (TrainerOptions::after_batch).
  void OnBatch(const RecModel& model, int64_t examples, double batch_start_s);

  // Cuts and sends one batch now; returns its version.
  absl::StatusOr<uint64_t> PublishNow();

  // Starts the background thread that publishes every interval.
  void Start();
  // Stops it after one last publication (so every update made before Stop()
  // is sent). Idempotent.
  void Stop();

  SyncStats stats() const;
  const SyncPublisherOptions& options() const { return options_; }

 private:
  void Loop();

  RecModel* const model_;
  DeltaSink* const sink_;
  const SyncPublisherOptions options_;
  const Clock* const clock_;

  // Staged by OnBatch(), taken by PublishNow().
  mutable std::mutex stage_mu_;
  std::vector<float> staged_dense_;
  bool dense_changed_ = true;  // the first batch always carries dense
  int64_t staged_examples_ = 0;
  int64_t oldest_pending_unix_us_ = 0;  // 0: nothing pending

  std::mutex publish_mu_;  // serialises PublishNow()
  uint64_t version_ = 0;
  std::string encoded_;
  std::vector<float> dense_scratch_;

  mutable std::mutex stats_mu_;
  SyncStats stats_;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace freshet

#endif  // FRESHET_SYNC_SYNC_PUBLISHER_H_
