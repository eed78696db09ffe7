// EmbeddedJob: the whole pipeline of `freshet run` in one process — source →
// Trainer → training tables → SyncPublisher → ServingReplica → HttpServer —
// with the job's checkpoints when it has a checkpoint folder.
//
// Create() builds the parts from the job's config; Start() resumes from the
// newest good checkpoint (CheckpointedTraining), publishes the initial model
// to serving as version 1, starts listening, then starts the publisher
// (every sync.interval, from the trainer's after_batch hook) and the
// training thread. When the stream ends training stops, the final checkpoint
// is written, and serving goes on with the final model until Stop().
//
// The job owns the HTTP server's extras: /metrics gets the training, sync
// and checkpoint lines (with the side outputs that could not be written:
// window-log lines, dead letters), /statusz its "training", "sync" and
// "checkpoint" sections, and POST /admin/checkpoint writes a checkpoint on
// demand.
//
// Thread safety: Create(), Start() and Stop() from one thread. The
// accessors may be called from any thread once Start() has returned; those
// marked "after Stop()" only then.
#ifndef FRESHET_JOB_EMBEDDED_JOB_H_
#define FRESHET_JOB_EMBEDDED_JOB_H_

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/base/mutex.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/job/checkpointed_training.h"
#include "freshet/job/embedded_job_report.h"
#include "freshet/serve/http_server.h"
#include "freshet/serve/serving_replica.h"
#include "freshet/sync/sync_publisher.h"
#include "freshet/train/trainer.h"

namespace freshet {

struct EmbeddedJobOptions {
  // How often progress() is refreshed while training.
  double progress_interval_s = 0.25;
  // TrainerOptions::window_log: a JSON line of window metrics per
  // train.window_examples examples (`freshet run --window-log`), written
  // through `file_system` (null: FileSystem::Default()). A line that cannot
  // be written is counted in /metrics and the summary; training goes on.
  std::string window_log;
  FileSystem* file_system = nullptr;
  // Called on the training thread once training has stopped and the final
  // checkpoint is written: `final` is its manifest or error, nullopt when
  // none was due (no checkpoint folder, checkpoint.on_exit off, or training
  // failed).
  std::function<void(const std::optional<absl::StatusOr<Manifest>>& final)>
      on_training_stopped;
  // Also called from after_batch, after the job's own hooks (tests and
  // benchmarks watch the training stream through it).
  std::function<void(ParameterStore& store, int64_t examples,
                     double batch_start_s)>
      after_batch;
};

class EmbeddedJob {
 public:
  // Builds the schema, the serving replica and the trainer of `job`. Errors
  // are the config's: a schema, model or source that cannot be built.
  static absl::StatusOr<std::unique_ptr<EmbeddedJob>> Create(
      const JobConfig& job, const EmbeddedJobOptions& options = {});
  ~EmbeddedJob();  // Stop()

  // Resumes from checkpoints (job.checkpoint.dir), publishes version 1,
  // binds the HTTP server and starts syncing and training. Errors: the
  // checkpoint folder cannot be resumed from, the first sync fails
  // ("first sync failed: ..."), the address cannot be bound.
  absl::Status Start();

  // Asks training to stop after the batch in flight; sync and serving go
  // on (training_done() tells when it has stopped). Thread-safe.
  void StopTraining() { trainer_->Stop(); }

  // Stops training (waits for the batch in flight and the final
  // checkpoint), publishes one last batch so that serving ends equal to
  // training, and stops the HTTP server. Returns training's status. Safe to
  // call twice.
  absl::Status Stop();

  // The HTTP port (after Start()).
  int port() const { return server_->port(); }

  // True once training has stopped (the stream ended or it failed);
  // training_status() is then its result.
  bool training_done() const { return training_done_.load(); }
  absl::Status training_status() const;
  // True when the final checkpoint was due and failed (after Stop()).
  bool final_checkpoint_failed() const { return final_checkpoint_failed_; }

  // The latest training progress; after Stop(), the final one.
  TrainerProgress progress() const;
  SyncStats sync_stats() const { return publisher_->stats(); }
  // progress(), sync_stats() and the replica's version, freshness and
  // requests in one value, for `freshet run`'s progress line and summary.
  EmbeddedJobReport Report() const;
  const ServingReplica& replica() const { return *replica_; }
  const HttpServer& server() const { return *server_; }
  Trainer& trainer() { return *trainer_; }
  LocalStore& store() { return *store_; }
  // Null without a checkpoint folder (before Start(), always).
  CheckpointedTraining* checkpoints() { return checkpoints_.get(); }

  double sync_interval_ms() const {
    return static_cast<double>(job_.sync.interval_ms);
  }

 private:
  EmbeddedJob(const JobConfig& job, const EmbeddedJobOptions& options);

  void AfterBatch(ParameterStore& store, int64_t examples,
                  double batch_start_s);
  void OnIdle();
  void Train();  // the training thread
  void AppendMetrics(std::string* out) const;
  void AppendStatus(nlohmann::json* status) const;
  AdminReply AdminCheckpoint();

  const JobConfig job_;
  const EmbeddedJobOptions options_;
  std::unique_ptr<ServingReplica> replica_;
  std::unique_ptr<ReplicaSink> sink_;
  std::unique_ptr<LocalStore> store_;
  std::unique_ptr<Trainer> trainer_;
  // Set by Start() before the training thread starts, read by its hooks.
  std::unique_ptr<CheckpointedTraining> checkpoints_;
  std::unique_ptr<SyncPublisher> publisher_;
  std::unique_ptr<HttpServer> server_;
  std::thread train_thread_;
  bool stopped_ = false;

  mutable Mutex mu_;
  TrainerProgress progress_ ABSL_GUARDED_BY(mu_);
  absl::Status training_status_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> training_done_{false};
  bool final_checkpoint_failed_ = false;  // training thread; read after join
};

}  // namespace freshet

#endif  // FRESHET_JOB_EMBEDDED_JOB_H_
