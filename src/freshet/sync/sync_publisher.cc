#include "freshet/sync/sync_publisher.h"

#include <algorithm>
#include <chrono>

#include "freshet/base/logging.h"
#include "freshet/sync/fp16.h"

namespace freshet {

SyncPublisher::SyncPublisher(RecModel* model, DeltaSink* sink,
                             const SyncPublisherOptions& options)
    : model_(model),
      sink_(sink),
      options_(options),
      clock_(options.clock != nullptr ? options.clock
                                      : SystemClock::Default()) {
  absl::Span<const float> p = model_->dense().params();
  staged_dense_.assign(p.begin(), p.end());
}

SyncPublisher::~SyncPublisher() { Stop(); }

void SyncPublisher::OnBatch(const RecModel& model, int64_t examples,
                            double batch_start_s) {
  absl::Span<const float> p = model.dense().params();
  const double age_s = MonotonicSeconds() - batch_start_s;
  const int64_t start_unix_us =
      clock_->NowMicros() - static_cast<int64_t>(age_s * 1e6);
  std::lock_guard<std::mutex> lock(stage_mu_);
  staged_dense_.assign(p.begin(), p.end());
  dense_changed_ = true;
  staged_examples_ = examples;
  if (oldest_pending_unix_us_ == 0) oldest_pending_unix_us_ = start_unix_us;
}

absl::StatusOr<uint64_t> SyncPublisher::PublishNow() {
  std::lock_guard<std::mutex> publish_lock(publish_mu_);
  const double t0 = MonotonicSeconds();
  DeltaBatch batch;
  batch.shard = options_.shard;
  batch.version = ++version_;
  {
    // Take the stage before collecting rows: an update staged later may
    // already be in this batch's rows but is stamped into the next batch,
    // so freshness is never under-reported.
    std::lock_guard<std::mutex> lock(stage_mu_);
    batch.has_dense = dense_changed_;
    if (dense_changed_) batch.dense = staged_dense_;
    dense_changed_ = false;
    batch.examples = staged_examples_;
    batch.oldest_update_unix_us = oldest_pending_unix_us_;
    oldest_pending_unix_us_ = 0;
  }
  DirtyBatch dirty;
  for (int i = 0; i < model_->num_tables(); ++i) {
    EmbeddingTable& table = model_->table(i);
    dirty.Clear();
    table.CollectDirty(DirtyKind::kSync, &dirty);
    DeltaTable t;
    t.name = table.spec().name;
    t.dim = table.dim();
    t.precision = table.spec().serving_precision == "fp16"
                      ? WeightPrecision::kFp16
                      : WeightPrecision::kFp32;
    t.keys = std::move(dirty.keys);
    t.weights = std::move(dirty.weights);
    t.deleted_keys = std::move(dirty.deleted_keys);
    dirty.keys.clear();
    dirty.weights.clear();
    dirty.deleted_keys.clear();
    batch.tables.push_back(std::move(t));
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
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.batches;
    if (!status.ok()) ++stats_.failed;
    stats_.last_version = batch.version;
    stats_.last_rows = batch.num_rows();
    stats_.rows += stats_.last_rows;
    stats_.deleted += batch.num_deleted();
    stats_.last_bytes = bytes;
    stats_.bytes += stats_.last_bytes;
    stats_.last_cut_seconds = t1 - t0;
    stats_.max_cut_seconds = std::max(stats_.max_cut_seconds, t1 - t0);
    stats_.total_cut_seconds += t1 - t0;
    stats_.last_collect_seconds = t_collected - t0;
    stats_.max_collect_seconds =
        std::max(stats_.max_collect_seconds, t_collected - t0);
  }
  if (!status.ok()) {
    FRESHET_LOG_WARN("sync: batch {} not delivered: {}", batch.version,
                     status.ToString());
    return status;
  }
  return batch.version;
}

void SyncPublisher::Start() {
  std::lock_guard<std::mutex> lock(loop_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void SyncPublisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  loop_cv_.notify_all();
  thread_.join();
}

void SyncPublisher::Loop() {
  const auto interval = std::chrono::duration<double>(options_.interval_s);
  auto next = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock<std::mutex> lock(loop_mu_);
      next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          interval);
      const auto now = std::chrono::steady_clock::now();
      if (next < now) next = now;  // fell behind: do not burst
      loop_cv_.wait_until(lock, next, [this] { return stopping_; });
      if (stopping_) break;
    }
    PublishNow().IgnoreError();  // logged and counted by PublishNow
  }
  PublishNow().IgnoreError();
}

SyncStats SyncPublisher::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

}  // namespace freshet
