#include "freshet/job/training_job.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "freshet/base/status_macros.h"

namespace freshet {

absl::StatusOr<std::unique_ptr<TrainingJob>> TrainingJob::Create(
    const JobConfig& job, TrainerOptions options) {
  std::unique_ptr<TrainingJob> j(new TrainingJob(job));
  options.track_sync = false;  // nothing serves from it
  options.track_checkpoint = !job.checkpoint.dir.empty();
  if (options.track_checkpoint) {
    TrainingJob* self = j.get();
    options.after_batch = [self](ParameterStore&, int64_t, double) {
      self->checkpoints_->OnBatch();
    };
    options.on_idle = [self](ParameterStore&) {
      self->checkpoints_->OnBatch();
    };
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Schema> schema,
                   Schema::Compile(job.schema));
  ASSIGN_OR_RETURN(std::unique_ptr<ExampleReader> source,
                   ExampleReader::Open(job.source, schema));
  ASSIGN_OR_RETURN(j->store_, MakeTrainingStore(job, schema, options));
  ASSIGN_OR_RETURN(j->trainer_, Trainer::Create(job, std::move(source),
                                                j->store_.get(), options));
  return j;
}

absl::Status TrainingJob::Start() {
  if (job_.checkpoint.dir.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(checkpoints_, CheckpointedTraining::Start(
                                     job_, trainer_.get(), store_.get()));
  return absl::OkStatus();
}

absl::Status TrainingJob::Run(
    const std::function<void(const TrainerProgress&)>& on_progress) {
  if (!job_.checkpoint.dir.empty() && checkpoints_ == nullptr) {
    return absl::FailedPreconditionError(
        "TrainingJob::Run() before Start(): the checkpoints are not resumed");
  }
  return trainer_->Run(on_progress);
}

std::optional<absl::StatusOr<Manifest>> TrainingJob::Finish() {
  if (checkpoints_ == nullptr) return std::nullopt;
  return checkpoints_->Finish();
}

nlohmann::json TrainingMetricsJson(const TrainerProgress& p, uint64_t digest,
                                   double dense_gflops) {
  auto num = [](double v) -> nlohmann::json {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  };
  return {{"examples", p.examples},
          {"records", p.records},
          {"malformed", p.malformed},
          {"non_finite", p.non_finite},
          {"seconds", p.seconds},
          {"examples_per_sec", num(p.examples_per_sec)},
          {"logloss", num(p.logloss)},
          {"auc", num(p.auc)},
          {"calibration", num(p.calibration)},
          {"window_logloss", num(p.window_logloss)},
          {"window_auc", num(p.window_auc)},
          {"table_rows", p.table_rows},
          {"table_bytes", p.table_bytes},
          {"position", p.position},
          {"digest", absl::StrFormat("%016x", digest)},
          {"dense_gflops", num(dense_gflops)}};
}

}  // namespace freshet
