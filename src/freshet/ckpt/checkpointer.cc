#include "freshet/ckpt/checkpointer.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/clock.h"
#include "freshet/base/logging.h"

namespace freshet {

CheckpointerOptions CheckpointerOptionsFromSpec(const CheckpointSpec& spec,
                                                std::string model_config_hash) {
  CheckpointerOptions o;
  o.dir = spec.dir;
  o.every_examples = spec.every_examples;
  o.every_ms = spec.every_ms;
  o.full_every = spec.full_every;
  o.keep_full = spec.keep_full;
  o.zstd_level = spec.zstd_level;
  o.writer_nice = spec.writer_nice;
  o.max_write_mbps = spec.max_write_mbps;
  o.model_config_hash = std::move(model_config_hash);
  return o;
}

std::string ModelShapeHash(const LocalStore& model) {
  std::string shape;
  for (int t = 0; t < model.num_tables(); ++t) {
    const EmbeddingTable& table = model.table(t);
    absl::StrAppend(&shape, table.spec().name, ":", table.dim(), ":",
                    table.state_floats(), ";");
  }
  absl::StrAppend(&shape, "dense:", model.dense().params().size(), ":",
                  model.dense_optimizer().state().size());
  return absl::StrFormat("%016x", XXH3_64bits(shape.data(), shape.size()));
}

absl::StatusOr<std::unique_ptr<Checkpointer>> Checkpointer::Create(
    LocalStore* model, const CheckpointerOptions& options) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("checkpoint folder not set");
  }
  if (options.every_examples < 0 || options.every_ms < 0 ||
      options.full_every < 1 || options.keep_full < 1 ||
      options.zstd_level < kMinZstdLevel ||
      options.zstd_level > kMaxZstdLevel || options.writer_nice < 0 ||
      options.writer_nice > kMaxWriterNice ||
      // Written so that a NaN fails it too.
      !(options.max_write_mbps >= 0 && std::isfinite(options.max_write_mbps))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint options: every_examples and every must be >= 0, "
        "full_every and keep_full >= 1, zstd_level in ",
        kMinZstdLevel, "..", kMaxZstdLevel, ", writer_nice in 0..",
        kMaxWriterNice, ", max_write_mbps a finite number >= 0"));
  }
  return std::unique_ptr<Checkpointer>(new Checkpointer(model, options));
}

Checkpointer::Checkpointer(LocalStore* model,
                           const CheckpointerOptions& options)
    : model_(model),
      options_(options),
      clock_(options.clock != nullptr ? options.clock
                                      : SystemClock::Default()) {
  next_examples_ = options_.start_examples + options_.every_examples;
  last_cut_examples_ = options_.start_examples;
  next_time_us_ = clock_->NowMicros() + options_.every_ms * 1000;
  writer_ = std::thread([this] { WriterLoop(); });
}

Checkpointer::~Checkpointer() {
  {
    std::unique_lock lock(mu_);
    WaitIdleLocked(lock);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

void Checkpointer::WaitIdleLocked(std::unique_lock<std::mutex>& lock) {
  cv_.wait(lock, [this] { return pending_ == nullptr && !writing_; });
}

void Checkpointer::OnBatch(int64_t examples, const std::string& position,
                           uint64_t sync_version) {
  std::lock_guard lock(mu_);
  if (pending_ != nullptr || writing_) return;
  bool due = requested_ > cut_ticket_;
  // The triggers wait for new examples: an idle stream is not checkpointed
  // again and again.
  const bool progressed = examples != last_cut_examples_;
  if (options_.every_examples > 0 && examples >= next_examples_ && progressed) {
    due = true;
  }
  const int64_t now = clock_->NowMicros();
  if (options_.every_ms > 0 && now >= next_time_us_ && progressed) due = true;
  if (!due) return;
  if (options_.every_examples > 0) {
    next_examples_ = examples + options_.every_examples;
  }
  if (options_.every_ms > 0) next_time_us_ = now + options_.every_ms * 1000;
  CutLocked(examples, position, sync_version);
}

void Checkpointer::CutLocked(int64_t examples, const std::string& position,
                             uint64_t sync_version) {
  const bool full = force_full_ || since_full_ + 1 >= options_.full_every;
  CheckpointMetadata metadata;
  metadata.model_config_hash = options_.model_config_hash;
  metadata.stream_position = position;
  metadata.sync_version = sync_version;
  metadata.examples = examples;
  const double start = MonotonicSeconds();
  absl::StatusOr<std::unique_ptr<ModelCut>> cut = ModelCut::Begin(
      *model_, full ? CheckpointKind::kFull : CheckpointKind::kIncremental,
      metadata);
  const double stall_ms = (MonotonicSeconds() - start) * 1000.0;
  stats_.last_stall_ms = stall_ms;
  stats_.max_stall_ms = std::max(stats_.max_stall_ms, stall_ms);
  const uint64_t ticket = requested_;
  cut_ticket_ = ticket;
  if (!cut.ok()) {
    ++stats_.failed;
    stats_.last_error = std::string(std::string(cut.status().message()));
    force_full_ = true;
    FRESHET_LOG_ERROR("checkpoint: cut failed: {}",
                      std::string(cut.status().message()));
    results_.insert_or_assign(ticket, cut.status());
    cv_.notify_all();
    return;
  }
  ++stats_.cuts;
  pending_ = std::move(*cut);
  pending_ticket_ = ticket;
  last_cut_examples_ = examples;
  cv_.notify_all();
}

void Checkpointer::WriterLoop() {
  if (options_.writer_nice > 0) {
    // Linux applies a nice value per thread; a failure only costs speed.
    const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
    if (::setpriority(PRIO_PROCESS, static_cast<id_t>(tid),
                      options_.writer_nice) != 0) {
      FRESHET_LOG_WARN("checkpoint: cannot lower the writer's priority");
    }
  }
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || pending_ != nullptr; });
    if (pending_ == nullptr) return;  // stopping
    std::unique_ptr<ModelCut> cut = std::move(pending_);
    const uint64_t ticket = pending_ticket_;
    writing_ = true;
    stats_.writing = true;
    lock.unlock();

    const double start = MonotonicSeconds();
    CheckpointWriteOptions write_options;
    write_options.shard.zstd_level = options_.zstd_level;
    write_options.max_bytes_per_s = options_.max_write_mbps * 1e6;
    write_options.file_system = options_.file_system;
    write_options.clock = clock_;
    absl::StatusOr<Manifest> m = WriteCut(options_.dir, *cut, write_options);
    const double seconds = MonotonicSeconds() - start;
    cut.reset();
    if (m.ok()) {
      absl::StatusOr<int> removed = ApplyRetention(
          options_.dir, options_.keep_full, options_.file_system);
      if (!removed.ok()) {
        FRESHET_LOG_WARN("checkpoint: retention in {} failed: {}", options_.dir,
                         std::string(removed.status().message()));
      }
    }

    lock.lock();
    writing_ = false;
    stats_.writing = false;
    if (m.ok()) {
      ++stats_.written;
      stats_.last_id = m->id;
      stats_.last_kind = CheckpointKindName(m->kind);
      stats_.last_unix_ms = clock_->NowMillis();
      stats_.last_write_s = seconds;
      stats_.last_rows = 0;
      stats_.last_bytes = 0;
      for (const ManifestFile& f : m->files) {
        if (!f.table.empty()) stats_.last_rows += static_cast<int64_t>(f.rows);
        stats_.last_bytes += f.bytes;
      }
      if (m->kind == CheckpointKind::kFull) {
        ++stats_.full_written;
        since_full_ = 0;
      } else {
        ++since_full_;
      }
      force_full_ = false;
      last_manifest_ = *m;
      FRESHET_LOG_INFO(
          "checkpoint: wrote {} ({}, {} rows, {:.1f} MB, {:.2f} s)",
          CheckpointDirName(m->id), CheckpointKindName(m->kind),
          stats_.last_rows, stats_.last_bytes / 1e6, seconds);
    } else {
      ++stats_.failed;
      stats_.last_error = std::string(m.status().message());
      force_full_ = true;  // the failed write took the change bits
      FRESHET_LOG_ERROR(
          "checkpoint: write to {} failed: {}; training goes on, the next "
          "checkpoint is full",
          options_.dir, stats_.last_error);
    }
    results_.insert_or_assign(ticket, std::move(m));
    while (results_.size() > 16) results_.erase(results_.begin());
    cv_.notify_all();
  }
}

uint64_t Checkpointer::Request() {
  std::lock_guard lock(mu_);
  const uint64_t ticket = ++requested_;
  if (stopped_training_ && pending_ == nullptr && !writing_) {
    CutLocked(stopped_examples_, stopped_position_, stopped_sync_version_);
  }
  return ticket;
}

absl::StatusOr<Manifest> Checkpointer::WaitFor(uint64_t ticket,
                                               double timeout_s) {
  std::unique_lock lock(mu_);
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::microseconds(static_cast<int64_t>(timeout_s * 1e6));
  while (true) {
    auto it = results_.lower_bound(ticket);
    if (it != results_.end()) return it->second;
    // Training stopped after the request: cut now.
    if (stopped_training_ && ticket > cut_ticket_ && pending_ == nullptr &&
        !writing_) {
      CutLocked(stopped_examples_, stopped_position_, stopped_sync_version_);
      continue;
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      it = results_.lower_bound(ticket);
      if (it != results_.end()) return it->second;
      return absl::DeadlineExceededError(
          absl::StrFormat("checkpoint not written within %.0f s", timeout_s));
    }
  }
}

void Checkpointer::TrainingStopped(int64_t examples,
                                   const std::string& position,
                                   uint64_t sync_version) {
  std::lock_guard lock(mu_);
  stopped_training_ = true;
  stopped_examples_ = examples;
  stopped_position_ = position;
  stopped_sync_version_ = sync_version;
  cv_.notify_all();
}

absl::StatusOr<Manifest> Checkpointer::Final(int64_t examples,
                                             const std::string& position,
                                             uint64_t sync_version) {
  std::unique_lock lock(mu_);
  stopped_training_ = true;
  stopped_examples_ = examples;
  stopped_position_ = position;
  stopped_sync_version_ = sync_version;
  WaitIdleLocked(lock);
  if (last_manifest_ && last_manifest_->metadata.stream_position == position &&
      last_manifest_->metadata.examples == examples) {
    return *last_manifest_;
  }
  const uint64_t ticket = ++requested_;
  CutLocked(examples, position, sync_version);
  lock.unlock();
  return WaitFor(ticket, 24 * 3600.0);
}

CheckpointerStats Checkpointer::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Checkpointer::AppendMetrics(std::string* out) const {
  const CheckpointerStats s = Stats();
  absl::StrAppend(
      out,
      "# HELP freshet_checkpoints_written_total Checkpoints published.\n"
      "# TYPE freshet_checkpoints_written_total counter\n",
      "freshet_checkpoints_written_total ", s.written, "\n",
      "# HELP freshet_checkpoint_failures_total Checkpoint writes that "
      "failed.\n"
      "# TYPE freshet_checkpoint_failures_total counter\n",
      "freshet_checkpoint_failures_total ", s.failed, "\n",
      "# HELP freshet_checkpoint_last_id Id of the newest checkpoint "
      "written.\n"
      "# TYPE freshet_checkpoint_last_id gauge\n",
      "freshet_checkpoint_last_id ", s.last_id, "\n",
      "# HELP freshet_checkpoint_last_success_unix_seconds When the newest "
      "checkpoint was published.\n"
      "# TYPE freshet_checkpoint_last_success_unix_seconds gauge\n",
      "freshet_checkpoint_last_success_unix_seconds ",
      absl::StrFormat("%.3f", s.last_unix_ms / 1000.0), "\n",
      "# HELP freshet_checkpoint_write_seconds Duration of the last "
      "successful write.\n"
      "# TYPE freshet_checkpoint_write_seconds gauge\n",
      "freshet_checkpoint_write_seconds ",
      absl::StrFormat("%.3f", s.last_write_s), "\n",
      "# HELP freshet_checkpoint_stall_seconds Training pause for the last "
      "cut.\n"
      "# TYPE freshet_checkpoint_stall_seconds gauge\n",
      "freshet_checkpoint_stall_seconds ",
      absl::StrFormat("%.6f", s.last_stall_ms / 1000.0), "\n",
      "# HELP freshet_checkpoint_writing Whether a checkpoint is being "
      "written.\n"
      "# TYPE freshet_checkpoint_writing gauge\n",
      "freshet_checkpoint_writing ", s.writing ? 1 : 0, "\n");
}

}  // namespace freshet
