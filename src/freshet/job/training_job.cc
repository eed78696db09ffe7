#include "freshet/job/training_job.h"

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

}  // namespace freshet
