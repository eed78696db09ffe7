// CheckpointedTraining: the checkpoint side of a training job.
//
// Start() resumes a trainer from the newest good chain in the job's
// checkpoint folder (job.checkpoint.dir): it restores the model
// (RestoreModel) and seeks the source to the chain's stream position, so a
// restarted job trains on every example exactly once; a folder without
// checkpoints starts from the beginning. While training runs, OnBatch()
// (from the trainer's after_batch and on_idle hooks) drives the
// Checkpointer's triggers (checkpoint.every, checkpoint.every_examples,
// requests); Finish() writes the final checkpoint once training stops.
//
// It also reports for the HTTP front end: the /statusz "checkpoint" section,
// the checkpoint lines of /metrics and the POST /admin/checkpoint handler.
//
// Thread safety: Start(), OnBatch() and Finish() run on the training thread
// (Finish() after Trainer::Run() returned). AppendStatus(), AppendMetrics()
// and AdminCheckpoint() may be called from any thread at any time.
#ifndef FRESHET_JOB_CHECKPOINTED_TRAINING_H_
#define FRESHET_JOB_CHECKPOINTED_TRAINING_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/ckpt/checkpointer.h"
#include "freshet/serve/http_server.h"
#include "freshet/train/trainer.h"

namespace freshet {

class CheckpointedTraining {
 public:
  // Restores `store` (the one `trainer` trains) from the newest good chain in
  // job.checkpoint.dir and seeks its source to the cut. Errors: a folder
  // whose checkpoints are all damaged (refusing to start afresh silently), a
  // checkpoint of another model shape, a stream position the source cannot
  // seek to. REQUIRES: job.checkpoint.dir is set; trainer->Run() has not
  // started.
  static absl::StatusOr<std::unique_ptr<CheckpointedTraining>> Start(
      const JobConfig& job, Trainer* trainer, LocalStore* store);

  // From TrainerOptions::after_batch and on_idle; `sync_version` (the
  // version published to serving, if any) goes into the manifest.
  void OnBatch(uint64_t sync_version = 0);

  // Training has stopped: writes the final checkpoint when
  // job.checkpoint.on_exit (nullopt otherwise) and lets later requests cut
  // at once.
  std::optional<absl::StatusOr<Manifest>> Finish(uint64_t sync_version = 0);

  // The "checkpoint" section of /statusz: dir, written, failed, last_id,
  // last_kind, last_error, writing.
  void AppendStatus(nlohmann::json* status) const;
  // The checkpointer's Prometheus lines.
  void AppendMetrics(std::string* out) const;
  // POST /admin/checkpoint: asks for a checkpoint at the next batch and
  // waits (up to 300 s) for it; 200 with its id, kind, path, examples and
  // stream position, 500 with the error.
  AdminReply AdminCheckpoint();

  Checkpointer& checkpointer() { return *checkpointer_; }
  const std::optional<Manifest>& resumed() const { return resumed_; }
  const std::string& dir() const { return dir_; }

 private:
  CheckpointedTraining() = default;

  Trainer* trainer_ = nullptr;
  std::string dir_;
  bool on_exit_ = true;
  std::optional<Manifest> resumed_;
  std::unique_ptr<Checkpointer> checkpointer_;
};

}  // namespace freshet

#endif  // FRESHET_JOB_CHECKPOINTED_TRAINING_H_
