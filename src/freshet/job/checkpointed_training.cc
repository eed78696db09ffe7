#include "freshet/job/checkpointed_training.h"

#include <filesystem>

#include "absl/strings/str_format.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"
#include "freshet/job/restore_model.h"

namespace freshet {

absl::StatusOr<std::unique_ptr<CheckpointedTraining>>
CheckpointedTraining::Start(const JobConfig& job, Trainer* trainer,
                            LocalStore* store) {
  std::unique_ptr<CheckpointedTraining> c(new CheckpointedTraining());
  c->trainer_ = trainer;
  c->dir_ = job.checkpoint.dir;
  c->on_exit_ = job.checkpoint.on_exit;
  absl::StatusOr<Manifest> restored = RestoreModel(c->dir_, store);
  if (restored.ok()) {
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
      CheckpointerOptionsFromSpec(job.checkpoint, ModelShapeHash(*store));
  if (c->resumed_) options.start_examples = c->resumed_->metadata.examples;
  ASSIGN_OR_RETURN(c->checkpointer_, Checkpointer::Create(store, options));
  return c;
}

void CheckpointedTraining::OnBatch(uint64_t sync_version) {
  checkpointer_->OnBatch(trainer_->examples(), trainer_->position(),
                         sync_version);
}

std::optional<absl::StatusOr<Manifest>> CheckpointedTraining::Finish(
    uint64_t sync_version) {
  if (!on_exit_) {
    checkpointer_->TrainingStopped(trainer_->examples(), trainer_->position(),
                                   sync_version);
    return std::nullopt;
  }
  return checkpointer_->Final(trainer_->examples(), trainer_->position(),
                              sync_version);
}

void CheckpointedTraining::AppendStatus(nlohmann::json* status) const {
  const CheckpointerStats c = checkpointer_->Stats();
  (*status)["checkpoint"] = {{"dir", dir_},
                             {"written", c.written},
                             {"failed", c.failed},
                             {"last_id", c.last_id},
                             {"last_kind", c.last_kind},
                             {"last_error", c.last_error},
                             {"writing", c.writing}};
}

void CheckpointedTraining::AppendMetrics(std::string* out) const {
  checkpointer_->AppendMetrics(out);
}

AdminReply CheckpointedTraining::AdminCheckpoint() {
  const uint64_t ticket = checkpointer_->Request();
  absl::StatusOr<Manifest> m = checkpointer_->WaitFor(ticket, 300);
  if (!m.ok()) {
    return AdminReply{500, {{"error", std::string(m.status().message())}}};
  }
  return AdminReply{
      200,
      {{"checkpoint_id", m->id},
       {"kind", CheckpointKindName(m->kind)},
       {"path",
        (std::filesystem::path(dir_) / CheckpointDirName(m->id)).string()},
       {"examples", m->metadata.examples},
       {"stream_position", m->metadata.stream_position}}};
}

}  // namespace freshet
