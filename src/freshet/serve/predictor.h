// Predictor: scores candidates for one request against a ServingReplica.
//
// A request is context features (the user, the page, ...) plus up to
// max_candidates candidates (items), encoded by ParsePredictRequest()
// (freshet/serve/predict_request.h) exactly as the record parsers encode a
// record, side-table joins included.
//
// The candidates are pooled by the training code itself (BatchEmbedder over
// the replica's copy, the context shared by every candidate: its ids are
// looked up once), an unseen id reads as its table's default in both, and
// the logits come from the trainer's own Model::Forward, so for the same
// weights a prediction equals the training forward pass. Scores are
// sigmoid(logit + ln r), the negative-sampling correction of a model trained
// with negatives kept at rate r.
//
// A slot (or dense feature) may be given in the context or in candidates,
// not both: the request is refused with a reason.
//
// Thread-safe: Predict() may run on many threads at once (each takes a
// scratch space from a pool); it reads one copy of the replica for the whole
// request, so one request sees one version.
#ifndef FRESHET_SERVE_PREDICTOR_H_
#define FRESHET_SERVE_PREDICTOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "freshet/base/mutex.h"
#include "freshet/data/example.h"
#include "freshet/serve/predict_request.h"
#include "freshet/serve/serving_replica.h"

namespace freshet {

struct PredictResult {
  std::vector<float> scores;  // one per candidate, in request order
  uint64_t model_version = 0;
  int64_t staleness_ms = 0;  // age of the served version (see docs/serving.md)
  std::string degradation;   // "fresh" or "stale"
};

struct PredictorOptions {
  int max_candidates = 1000;
  // The served version is "stale" when it was cut longer ago than this, or
  // while the replica has a sync gap open (ServingReplica::sync_gap()).
  int64_t stale_after_ms = 5000;
};

class Predictor {
 public:
  Predictor(const ServingReplica* replica, const PredictorOptions& options);
  ~Predictor();

  const PredictorOptions& options() const { return options_; }

  // Scores `request`'s candidates. InvalidArgument for a malformed request
  // (e.g. a slot in both context and a candidate); Internal when the model
  // gives a non-finite score (never answered as a score).
  absl::Status Predict(const PredictRequest& request,
                       PredictResult* result) const;

  // Age of the served version in ms and its degradation level: "stale" when
  // too old or while a sync gap is open, else "fresh".
  int64_t StalenessMs() const;
  std::string Degradation(int64_t staleness_ms) const;

 private:
  struct Scratch;
  std::unique_ptr<Scratch> AcquireScratch() const;
  void ReleaseScratch(std::unique_ptr<Scratch> scratch) const;

  const ServingReplica* const replica_;
  const PredictorOptions options_;
  mutable Mutex scratch_mu_;
  mutable std::vector<std::unique_ptr<Scratch>> free_scratch_
      ABSL_GUARDED_BY(scratch_mu_);
};

}  // namespace freshet

#endif  // FRESHET_SERVE_PREDICTOR_H_
