// The checkpoint side of `freshet train` and `freshet run`: resume from the
// newest good checkpoint of the job's checkpoint folder, checkpoints while
// training (Checkpointer), and the final one when training stops.
#ifndef FRESHET_APPS_FRESHET_CHECKPOINTING_H_
#define FRESHET_APPS_FRESHET_CHECKPOINTING_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/ckpt/checkpointer.h"
#include "freshet/train/trainer.h"

namespace freshet {

class JobCheckpoints {
 public:
  // Restores `trainer`'s model from the newest good chain in
  // job.checkpoint.dir and seeks its source to the cut; a folder without
  // checkpoints starts from the beginning. Errors: a folder whose
  // checkpoints are all damaged (refusing to start afresh silently), a
  // checkpoint of another model shape. Call before trainer->Run().
  static absl::StatusOr<std::unique_ptr<JobCheckpoints>> Start(
      const JobConfig& job, Trainer* trainer);

  // From TrainerOptions::after_batch.
  void OnBatch(uint64_t sync_version = 0);

  // Training has stopped: writes the final checkpoint when
  // job.checkpoint.on_exit (nullopt otherwise) and lets later requests cut
  // at once.
  std::optional<absl::StatusOr<Manifest>> Finish(uint64_t sync_version = 0);

  Checkpointer& checkpointer() { return *checkpointer_; }
  const std::optional<Manifest>& resumed() const { return resumed_; }
  const std::string& dir() const { return dir_; }

 private:
  JobCheckpoints() = default;

  Trainer* trainer_ = nullptr;
  std::string dir_;
  bool on_exit_ = true;
  std::optional<Manifest> resumed_;
  std::unique_ptr<Checkpointer> checkpointer_;
};

// "ckpt-0000000012 (full, 1234 rows, 5.6 MB)".
std::string DescribeCheckpoint(const Manifest& m);

}  // namespace freshet

#endif  // FRESHET_APPS_FRESHET_CHECKPOINTING_H_
