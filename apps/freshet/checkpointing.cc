#include "apps/freshet/checkpointing.h"

#include <filesystem>

#include "absl/strings/str_format.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"

namespace freshet {

absl::StatusOr<std::unique_ptr<JobCheckpoints>> JobCheckpoints::Start(
    const JobConfig& job, Trainer* trainer) {
  std::unique_ptr<JobCheckpoints> c(new JobCheckpoints());
  c->trainer_ = trainer;
  c->dir_ = job.checkpoint.dir;
  c->on_exit_ = job.checkpoint.on_exit;
  RecModel& model = trainer->model();
  const std::string hash = ModelShapeHash(model);
  absl::StatusOr<Manifest> restored = RestoreCheckpoint(c->dir_, &model);
  if (restored.ok()) {
    if (!restored->metadata.model_config_hash.empty() &&
        restored->metadata.model_config_hash != hash) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s: the checkpoints are of another model (shape %s, this job's "
          "is %s)",
          c->dir_, restored->metadata.model_config_hash, hash));
    }
    absl::Status s = trainer->Resume(restored->metadata.stream_position,
                                     restored->metadata.examples);
    if (!s.ok()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s: cannot seek the source to %s: %s",
          (std::filesystem::path(c->dir_) / CheckpointDirName(restored->id))
              .string(),
          restored->metadata.stream_position, s.message()));
    }
    FRESHET_LOG_INFO("resumed from {} at {} examples (stream position {})",
                     DescribeCheckpoint(*restored), restored->metadata.examples,
                     restored->metadata.stream_position);
    c->resumed_ = *restored;
  } else if (restored.status().code() == absl::StatusCode::kNotFound) {
    FRESHET_LOG_INFO("no checkpoint in {}: starting from the beginning",
                     c->dir_);
  } else {
    return absl::Status(restored.status().code(),
                        absl::StrFormat("cannot resume from %s: %s", c->dir_,
                                        restored.status().message()));
  }
  CheckpointerOptions options =
      CheckpointerOptionsFromSpec(job.checkpoint, hash);
  if (c->resumed_) options.start_examples = c->resumed_->metadata.examples;
  ASSIGN_OR_RETURN(c->checkpointer_, Checkpointer::Create(&model, options));
  return c;
}

void JobCheckpoints::OnBatch(uint64_t sync_version) {
  checkpointer_->OnBatch(trainer_->examples(), trainer_->position(),
                         sync_version);
}

std::optional<absl::StatusOr<Manifest>> JobCheckpoints::Finish(
    uint64_t sync_version) {
  if (!on_exit_) {
    checkpointer_->TrainingStopped(trainer_->examples(), trainer_->position(),
                                   sync_version);
    return std::nullopt;
  }
  return checkpointer_->Final(trainer_->examples(), trainer_->position(),
                              sync_version);
}

std::string DescribeCheckpoint(const Manifest& m) {
  uint64_t rows = 0, bytes = 0;
  for (const ManifestFile& f : m.files) {
    if (!f.table.empty()) rows += f.rows;
    bytes += f.bytes;
  }
  return absl::StrFormat("%s (%s, %d rows, %.1f MB)", CheckpointDirName(m.id),
                         CheckpointKindName(m.kind), rows, bytes / 1e6);
}

}  // namespace freshet
