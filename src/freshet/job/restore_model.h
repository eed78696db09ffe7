// RestoreModel: loads a model from the newest good checkpoint chain of a
// folder and checks that the checkpoints are of the model's shape.
//
// The one place where training (CheckpointedTraining) and batch scoring
// (`freshet predict`) read a checkpoint into a LocalStore. Thread safety: the
// model must not be used by another thread during the call.
#ifndef FRESHET_JOB_RESTORE_MODEL_H_
#define FRESHET_JOB_RESTORE_MODEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/store/local_store.h"

namespace freshet {

// Restores `model` from the newest good chain in `dir` (RestoreCheckpoint)
// and returns the manifest of the last checkpoint applied. NotFound when
// `dir` holds no checkpoint, DataLoss when none is good, FailedPrecondition
// when the checkpoints are of another model shape (tables, dims, dense
// sizes or ModelShapeHash; the model may then hold some of their rows).
// Messages say what differs; the caller adds which folder it was.
absl::StatusOr<Manifest> RestoreModel(const std::string& dir,
                                      LocalStore* model);

// "ckpt-0000000012 (full, 1234 rows, 5.6 MB)".
std::string DescribeCheckpoint(const Manifest& m);

}  // namespace freshet

#endif  // FRESHET_JOB_RESTORE_MODEL_H_
