#include "freshet/job/training_job.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/human_bytes.h"
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
  ASSIGN_OR_RETURN(
      std::unique_ptr<ExampleReader> source,
      ExampleReader::Open(job.source, schema, options.file_system));
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

double TrainingJob::DenseGflops(double examples_per_sec) const {
  return 3.0 * store_->dense().forward_flops_per_example() * examples_per_sec /
         1e9;
}

std::string SideWriteFailuresLine(const TrainerProgress& p) {
  if (p.window_log_failures == 0 && p.dead_letter_failures == 0) return "";
  return absl::StrFormat(
      "side writes  %lld window-log lines, %lld dead letters not written; "
      "training went on\n",
      static_cast<long long>(p.window_log_failures),
      static_cast<long long>(p.dead_letter_failures));
}

std::string TrainingProgressLine(const TrainerProgress& p) {
  return absl::StrFormat(
      "%lld examples  %.0f ex/s  window auc %.4f logloss %.4f  |  auc %.4f "
      "logloss %.4f  |  %lld rows %s",
      static_cast<long long>(p.examples), p.examples_per_sec, p.window_auc,
      p.window_logloss, p.auc, p.logloss, static_cast<long long>(p.table_rows),
      HumanBytes(static_cast<uint64_t>(p.table_bytes)));
}

std::string TrainingSummaryText(const std::string& model_type,
                                const TrainerProgress& p,
                                int64_t window_examples, uint64_t digest,
                                const std::string& checkpoint) {
  std::string text = absl::StrFormat(
      "trained %s on %lld examples (%lld records, %lld malformed) in %.2f s: "
      "%.0f examples/s\n",
      model_type, static_cast<long long>(p.examples),
      static_cast<long long>(p.records), static_cast<long long>(p.malformed),
      p.seconds, p.examples_per_sec);
  if (p.rotations > 0) {
    absl::StrAppendFormat(
        &text,
        "rotations    %lld of the source's files (%lld with records possibly "
        "missing, %lld bytes seen but not read)\n",
        static_cast<long long>(p.rotations),
        static_cast<long long>(p.rotation_gaps),
        static_cast<long long>(p.rotation_lost_bytes));
  }
  absl::StrAppendFormat(
      &text, "progressive  auc %.4f  logloss %.4f  calibration %.3f\n", p.auc,
      p.logloss, p.calibration);
  absl::StrAppendFormat(
      &text, "last window  auc %.4f  logloss %.4f  (%lld examples)\n",
      p.window_auc, p.window_logloss,
      static_cast<long long>(std::min<int64_t>(p.examples, window_examples)));
  absl::StrAppendFormat(&text, "tables       %lld rows, %s\n",
                        static_cast<long long>(p.table_rows),
                        HumanBytes(static_cast<uint64_t>(p.table_bytes)));
  absl::StrAppendFormat(&text, "digest       %016x\n", digest);
  if (!checkpoint.empty()) {
    absl::StrAppend(&text, "checkpoint   ", checkpoint, "\n");
  }
  absl::StrAppend(&text, SideWriteFailuresLine(p));
  return text;
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
          {"rotations", p.rotations},
          {"rotation_gaps", p.rotation_gaps},
          {"rotation_lost_bytes", p.rotation_lost_bytes},
          {"window_log_failures", p.window_log_failures},
          {"dead_letter_failures", p.dead_letter_failures},
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
