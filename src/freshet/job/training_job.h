// TrainingJob: what `freshet train` runs — one Trainer over the job's
// source, in stream order, with the job's checkpoints (CheckpointedTraining)
// when it has a checkpoint folder. Nothing serves from it, so the tables
// keep no sync change tracking.
//
// Create() builds the trainer; Start() resumes from the newest good chain of
// job.checkpoint.dir; Run() trains until the stream ends, max_examples or
// Stop(); Finish() writes the final checkpoint.
//
// Thread safety: Create(), Start(), Run() and Finish() from one thread, in
// that order. Stop() from any thread, also from a signal handler (it only
// stores an atomic flag).
#ifndef FRESHET_JOB_TRAINING_JOB_H_
#define FRESHET_JOB_TRAINING_JOB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/job/checkpointed_training.h"
#include "freshet/train/trainer.h"

namespace freshet {

class TrainingJob {
 public:
  // Builds the trainer of `job` with `options` (its deterministic,
  // max_examples, progress and window-log settings and its file system,
  // which the source and its dead letters use too; the hooks and change
  // tracking are the job's). Errors are the config's.
  static absl::StatusOr<std::unique_ptr<TrainingJob>> Create(
      const JobConfig& job, TrainerOptions options = {});

  // With a checkpoint folder: resumes from it (CheckpointedTraining::Start
  // and its errors). Without: nothing to do.
  absl::Status Start();

  // Trainer::Run(); checkpoints are written per the job's triggers.
  absl::Status Run(
      const std::function<void(const TrainerProgress&)>& on_progress = {});

  // After Run(): the final checkpoint (CheckpointedTraining::Finish);
  // nullopt without a checkpoint folder or with checkpoint.on_exit off.
  std::optional<absl::StatusOr<Manifest>> Finish();

  void Stop() { trainer_->Stop(); }

  // The dense part's GFLOP/s at `examples_per_sec`: forward + backward, about
  // three forward passes per example.
  double DenseGflops(double examples_per_sec) const;

  Trainer& trainer() { return *trainer_; }
  LocalStore& store() { return *store_; }
  // Null without a checkpoint folder or before Start().
  CheckpointedTraining* checkpoints() { return checkpoints_.get(); }

 private:
  explicit TrainingJob(const JobConfig& job) : job_(job) {}

  const JobConfig job_;
  std::unique_ptr<LocalStore> store_;
  std::unique_ptr<Trainer> trainer_;
  // Set by Start(), before Run() calls the hooks that read it.
  std::unique_ptr<CheckpointedTraining> checkpoints_;
};

// The final metrics of a run as one JSON object, as `freshet train
// --metrics-json` writes them: the counters and metrics of `p` (examples,
// records, malformed, seconds, examples_per_sec, logloss, auc, calibration,
// window_logloss, window_auc, table_rows, table_bytes, position,
// window_log_failures, dead_letter_failures), `digest`
// as 16 hex digits and `dense_gflops`; a metric that is not finite (no
// example yet) is null.
nlohmann::json TrainingMetricsJson(const TrainerProgress& p, uint64_t digest,
                                   double dense_gflops);

// The summary line of side outputs that could not be written, ending in a
// newline, or "" when every one was: "side writes  3 window-log lines, 0
// dead letters not written; training went on". `freshet train` and `freshet
// run` print it with their summaries.
std::string SideWriteFailuresLine(const TrainerProgress& p);

// The progress line of `freshet train`, without a newline: "1200 examples
// 480 ex/s  window auc 0.8000 logloss 0.4500  |  auc 0.7500 logloss 0.5000
// |  333 rows 4.0 KiB".
std::string TrainingProgressLine(const TrainerProgress& p);

// The summary `freshet train` prints at exit, one line each ending in a
// newline: "trained MODEL on ...", "progressive ...", "last window ..." (of
// at most `window_examples` examples), "tables ...", "digest ..." (16 hex
// digits, as `freshet ckpt digest` prints it), when `checkpoint` is not
// empty "checkpoint   CHECKPOINT", and SideWriteFailuresLine(p).
std::string TrainingSummaryText(const std::string& model_type,
                                const TrainerProgress& p,
                                int64_t window_examples, uint64_t digest,
                                const std::string& checkpoint);

}  // namespace freshet

#endif  // FRESHET_JOB_TRAINING_JOB_H_
