// DeltaSink: where a SyncPublisher's delta batches go (an in-process
// replica, a network stream, a log), and what its answer means.
//
// Delivery is acknowledged. Send() returning OK means the sink has taken the
// batch (applied it, or made it durable); only then do the batch's rows leave
// the publisher's pending set. Any other answer keeps them pending, and the
// publisher merges them into its next batch, which builds on the same
// acknowledged version (DeltaBatch::base_version), so a batch that was
// delivered although its send reported an error (a timeout after the write)
// is harmless: the next one carries everything it carried.
//
// Two answers are special:
//   * AlreadyExists: the sink already holds this version (a duplicate). It
//     counts as acknowledged.
//   * SyncGapError() (OutOfRange): the sink did not apply the batch because
//     it lacks changes the batch builds on (its version is below the batch's
//     base_version). The publisher's next batch is full.
//
// Implementations say whether they are thread-safe; a SyncPublisher calls
// Send() from one thread at a time.
#ifndef FRESHET_SYNC_DELTA_SINK_H_
#define FRESHET_SYNC_DELTA_SINK_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "freshet/sync/delta_batch.h"

namespace freshet {

class DeltaSink {
 public:
  virtual ~DeltaSink() = default;
  // Delivers one batch. `encoded` is its byte form (docs/sync_format.md),
  // or empty when wants_bytes() is false: an in-process sink applies `batch`
  // itself and the publisher skips encoding. See above for the answers.
  virtual absl::Status Send(std::string_view encoded,
                            const DeltaBatch& batch) = 0;
  // Whether Send() needs the byte form.
  virtual bool wants_bytes() const { return true; }
};

// The answer of a sink (or replica) that cannot apply a batch because it
// misses changes the batch builds on.
inline absl::Status SyncGapError(std::string_view message) {
  return absl::OutOfRangeError(std::string(message));
}
inline bool IsSyncGap(const absl::Status& status) {
  return status.code() == absl::StatusCode::kOutOfRange;
}
// The answer of a sink that already holds the batch's version.
inline bool IsDuplicateBatch(const absl::Status& status) {
  return status.code() == absl::StatusCode::kAlreadyExists;
}

}  // namespace freshet

#endif  // FRESHET_SYNC_DELTA_SINK_H_
