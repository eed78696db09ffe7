#include "freshet/sync/sync_publisher.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "freshet/base/logging.h"
#include "freshet/sync/delta_merge.h"

namespace freshet {

SyncPublisher::SyncPublisher(ParameterStore* store, DeltaSink* sink,
                             const SyncPublisherOptions& options)
    : store_(store),
      sink_(sink),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : SystemClock::Default()),
      epoch_(options.epoch != 0 ? options.epoch
                                : static_cast<uint64_t>(std::max<int64_t>(
                                      1, clock_->NowMicros()))) {
  MutexLock lock(&stage_mu_);
  staged_dense_.resize(store_->num_dense_params());
  // Sizes match by construction.
  store_->PullDense(absl::MakeSpan(staged_dense_)).IgnoreError();
}

SyncPublisher::~SyncPublisher() { Stop(); }

void SyncPublisher::OnBatch(const ParameterStore& store, int64_t examples,
                            double batch_start_s) {
  const double age_s = MonotonicSeconds() - batch_start_s;
  const int64_t start_unix_us =
      clock_->NowMicros() - static_cast<int64_t>(age_s * 1e6);
  MutexLock lock(&stage_mu_);
  staged_dense_.resize(store.num_dense_params());
  store.PullDense(absl::MakeSpan(staged_dense_)).IgnoreError();
  dense_changed_ = true;
  staged_examples_ = examples;
  if (oldest_pending_unix_us_ == 0) oldest_pending_unix_us_ = start_unix_us;
}

void SyncPublisher::CollectTables(DeltaBatch* batch) {
  DirtyBatch dirty;
  for (int i = 0; i < store_->num_tables(); ++i) {
    const TableSpec& spec = store_->table_spec(i);
    dirty.Clear();
    // Taken for a full batch too: the rows read below include these.
    store_->CollectDirty(i, DirtyKind::kSync, &dirty);
    DeltaTable t;
    t.name = spec.name;
    t.dim = spec.dim;
    t.precision = spec.serving_precision == "fp16" ? WeightPrecision::kFp16
                                                   : WeightPrecision::kFp32;
    if (batch->full) {
      // Rows changed while this runs are dirty again and also come in the
      // next batch; keys deleted meanwhile are in the next batch's deletions.
      DirtyBatch all;
      store_->ReadAllRows(i, &all);
      t.keys = std::move(all.keys);
      t.weights = std::move(all.weights);
    } else {
      t.keys = std::move(dirty.keys);
      t.weights = std::move(dirty.weights);
      t.deleted_keys = std::move(dirty.deleted_keys);
      dirty.keys.clear();
      dirty.weights.clear();
      dirty.deleted_keys.clear();
    }
    batch->tables.push_back(std::move(t));
  }
}

absl::StatusOr<uint64_t> SyncPublisher::PublishNow() {
  MutexLock publish_lock(&publish_mu_);
  const double t0 = MonotonicSeconds();
  DeltaBatch batch;
  batch.shard = options_.shard;
  batch.epoch = epoch_;
  batch.version = ++version_;
  batch.base_version = acked_version_;
  const bool requested = full_requested_.exchange(false);
  batch.full =
      full_next_ || requested ||
      (options_.full_every > 0 &&
       batch.version % static_cast<uint64_t>(options_.full_every) == 0);
  {
    // Take the stage before collecting rows: an update staged later may
    // already be in this batch's rows but is stamped into the next batch,
    // so freshness is never under-reported.
    MutexLock lock(&stage_mu_);
    batch.has_dense = dense_changed_ || batch.full;
    if (batch.has_dense) batch.dense = staged_dense_;
    dense_changed_ = false;
    batch.examples = staged_examples_;
    batch.oldest_update_unix_us = oldest_pending_unix_us_;
    oldest_pending_unix_us_ = 0;
  }
  CollectTables(&batch);
  // What the sink has not taken yet rides along (only after a failure).
  if (pending_ != nullptr) {
    MergeOlderInto(std::move(*pending_), &batch);
    pending_.reset();
  }
  const double t_collected = MonotonicSeconds();
  batch.created_unix_us = clock_->NowMicros();
  int64_t bytes;
  absl::Status status;
  if (sink_->wants_bytes()) {
    EncodeDeltaBatch(batch, &encoded_);
    bytes = static_cast<int64_t>(encoded_.size());
    status = sink_->Send(encoded_, batch);
  } else {
    bytes = EncodedDeltaBatchSize(batch);
    status = sink_->Send({}, batch);
  }
  const double t1 = MonotonicSeconds();
  const bool acked = status.ok() || IsDuplicateBatch(status);
  const bool gap = IsSyncGap(status);
  const uint64_t version = batch.version;
  const int64_t rows = batch.num_rows();
  const int64_t deleted = batch.num_deleted();
  const bool full = batch.full;
  if (acked) {
    acked_version_ = version;
    full_next_ = false;
  } else {
    // The sink may or may not have applied it; either way the next batch
    // carries all of it again, built on the same acknowledged version.
    pending_ = std::make_unique<DeltaBatch>(std::move(batch));
    if (gap) full_next_ = true;
  }
  {
    MutexLock lock(&stats_mu_);
    ++stats_.batches;
    if (!acked) ++stats_.failed;
    if (gap) ++stats_.gaps;
    if (full) ++stats_.full_batches;
    stats_.last_version = version;
    stats_.acked_version = acked_version_;
    stats_.pending_rows = acked ? 0 : rows;
    stats_.last_rows = rows;
    stats_.rows += rows;
    stats_.deleted += deleted;
    stats_.last_bytes = bytes;
    stats_.bytes += bytes;
    stats_.last_cut_seconds = t1 - t0;
    stats_.max_cut_seconds = std::max(stats_.max_cut_seconds, t1 - t0);
    stats_.total_cut_seconds += t1 - t0;
    stats_.last_collect_seconds = t_collected - t0;
    stats_.max_collect_seconds =
        std::max(stats_.max_collect_seconds, t_collected - t0);
  }
  if (!acked) {
    FRESHET_LOG_WARN(
        "sync: batch {} not acknowledged ({}); its {} rows and {} deletions "
        "ride in the next batch{}",
        version, status.ToString(), rows, deleted,
        gap ? ", which is full" : "");
    return status;
  }
  return version;
}

void SyncPublisher::Start() {
  MutexLock lock(&loop_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void SyncPublisher::Stop() {
  std::thread thread;
  {
    MutexLock lock(&loop_mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    thread = std::move(thread_);
  }
  loop_cv_.SignalAll();
  thread.join();
}

void SyncPublisher::Loop() {
  const auto interval = std::chrono::duration<double>(options_.interval_s);
  auto next = std::chrono::steady_clock::now();
  while (true) {
    {
      MutexLock lock(&loop_mu_);
      next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          interval);
      const auto now = std::chrono::steady_clock::now();
      if (next < now) next = now;  // fell behind: do not burst
      loop_cv_.WaitUntil(next, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                   loop_mu_) { return stopping_; });
      if (stopping_) break;
    }
    PublishNow().IgnoreError();  // logged and counted by PublishNow
  }
  PublishNow().IgnoreError();
}

SyncStats SyncPublisher::stats() const {
  MutexLock lock(&stats_mu_);
  return stats_;
}

}  // namespace freshet
