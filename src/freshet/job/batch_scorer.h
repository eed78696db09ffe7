// BatchScorer: scores the records of a file offline with a model restored
// from a checkpoint folder, through the training path — the job's record
// parser, the model's tables (BatchEmbedder, read-only lookups) and the
// dense forward pass — with no serving replica. `freshet predict` is built
// on it, and it is the reference a served score is compared with.
//
// The score of a record is what serving answers for it: the sigmoid of the
// model's logit plus the serving logit offset (log of
// model.negative_sampling_rate; 0 without negative sampling). An id the
// model has no row for gets its table's default, as in training.
//
// Output (ScoreFile): one line per good record, in file order,
//
//   RECORD <TAB> SCORE
//
// where RECORD is the record's 1-based number among the data records of the
// file (header lines not counted, malformed records counted, so the numbers
// of the lines after a malformed one skip it) and SCORE the score printed
// with 9 significant digits, enough to read back the same float.
// Malformed records are counted by kind and skipped, never fatal.
//
// Thread safety: one thread uses a BatchScorer at a time.
#ifndef FRESHET_JOB_BATCH_SCORER_H_
#define FRESHET_JOB_BATCH_SCORER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/base/config.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/data/example_reader.h"
#include "freshet/store/batch_embedder.h"

namespace freshet {

struct ScoreCounts {
  int64_t scored = 0;     // records scored
  ReaderCounters reader;  // records read, malformed ones by kind
};

class BatchScorer {
 public:
  // Builds the model of `job` and restores it from the newest good chain of
  // `checkpoint_dir`. Errors: no checkpoint in the folder (NotFound), none
  // good (DataLoss), checkpoints of another model shape
  // (FailedPrecondition); each message names the folder.
  static absl::StatusOr<std::unique_ptr<BatchScorer>> Create(
      const JobConfig& job, const std::string& checkpoint_dir);

  // Scores `examples`, appending one score per example to `scores`.
  absl::Status Score(absl::Span<const Example> examples,
                     std::vector<float>* scores);

  // Scores the records of `data` (a file or folder of segments, in the job's
  // source format) and writes them to `out` as above. `on_progress`, when
  // set, is called about every `progress_every` records with the counts so
  // far. Errors are I/O errors of the file or of `out`.
  absl::StatusOr<ScoreCounts> ScoreFile(
      const std::string& data, std::ostream* out,
      const std::function<void(const ScoreCounts&)>& on_progress = {},
      int64_t progress_every = 100000);

  // The checkpoint restored.
  const Manifest& checkpoint() const { return checkpoint_; }
  LocalStore& model() { return *model_; }

 private:
  BatchScorer(const JobConfig& job) : job_(job) {}

  const JobConfig job_;
  std::shared_ptr<const Schema> schema_;
  std::unique_ptr<LocalStore> model_;
  std::unique_ptr<BatchEmbedder> embedder_;
  Model::Workspace workspace_;
  std::vector<float> logits_;
  Manifest checkpoint_;
};

}  // namespace freshet

#endif  // FRESHET_JOB_BATCH_SCORER_H_
