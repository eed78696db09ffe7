// Quality metrics of a click model: AUC, logloss, calibration.
//
// The free functions compute exact metrics of a finite set of (score, label,
// weight) triples. ProgressiveMetrics accumulates the same metrics over a
// stream, as progressive validation needs (every example is scored before it
// is trained on): cumulatively over everything seen and over a sliding
// window of the last N examples.
//
// Labels are in [0, 1]; for AUC an example is positive when its label is
// > 0.5. Weights scale an example's contribution (for AUC, a pair counts w_i ·
// w_j). A metric that is undefined on its data (AUC without both classes,
// anything on an empty set, calibration without positives) is NaN.
#ifndef FRESHET_MODEL_METRICS_H_
#define FRESHET_MODEL_METRICS_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace freshet {

// Area under the ROC curve: the probability that a random positive scores
// above a random negative, ties counting 1/2. Exact, O(n log n). Any
// monotone transform of the scores (logit or probability) gives the same
// value. `weights` may be empty (all 1).
double Auc(absl::Span<const float> scores, absl::Span<const float> labels,
           absl::Span<const float> weights = {});

// Weighted mean of −(y·log p + (1 − y)·log(1 − p)), p clipped to
// [1e-7, 1 − 1e-7].
double LogLoss(absl::Span<const float> probabilities,
               absl::Span<const float> labels,
               absl::Span<const float> weights = {});

// Σ w·p / Σ w·y: 1 is calibrated, above 1 over-predicts.
double Calibration(absl::Span<const float> probabilities,
                   absl::Span<const float> labels,
                   absl::Span<const float> weights = {});

struct ProgressiveMetricsOptions {
  // Cumulative AUC bins logits uniformly over [−logit_range, logit_range]
  // (values outside fall into the end bins).
  int num_buckets = 1 << 16;
  double logit_range = 16.0;
  // Examples in the sliding window; 0 disables it.
  int64_t window = 10000;
};

// Streaming progressive-validation metrics over (logit, label, weight).
//
// Cumulative logloss and calibration are exact. Cumulative AUC comes from a
// histogram of logits: only pairs of a positive and a negative in the same
// bucket are scored as ties (1/2) instead of by their exact order, so
//
//   |Auc() − exact AUC| ≤ AucErrorBound() = ½ · Σ_k P_k·N_k / (P·N),
//
// where P_k, N_k are the positive and negative weights in bucket k. The
// bound is computed from the data; with the default 65536 buckets (logit
// width 4.9e-4, i.e. a probability width of at most 1.2e-4) it is typically
// below 1e-4 for a model whose scores are spread at all. Window metrics are
// exact over the last `window` examples (AUC by sorting them when asked).
//
// Memory: 16 bytes per bucket + 12 bytes per window slot, allocated at
// construction; Add() never allocates. Not thread-safe (the window AUC uses
// scratch space); guard with a mutex when shared.
class ProgressiveMetrics {
 public:
  explicit ProgressiveMetrics(const ProgressiveMetricsOptions& options = {});

  // A non-finite logit, label or weight is not added: it is counted in
  // non_finite() instead, so one broken score cannot poison the metrics.
  void Add(float logit, float label, float weight = 1.0f);
  // `weights` may be empty (all 1).
  void AddBatch(absl::Span<const float> logits, absl::Span<const float> labels,
                absl::Span<const float> weights = {});
  void Reset();

  // Cumulative.
  int64_t count() const { return count_; }
  int64_t non_finite() const { return non_finite_; }
  double LogLoss() const;
  double Auc() const;
  double AucErrorBound() const;
  double Calibration() const;

  // Over the last min(count(), window) examples.
  int64_t window_count() const { return window_size_; }
  double WindowLogLoss() const;
  double WindowAuc() const;
  double WindowCalibration() const;

 private:
  int Bucket(float logit) const;

  ProgressiveMetricsOptions options_;
  double bucket_scale_;
  std::vector<double> positives_;  // weight per bucket
  std::vector<double> negatives_;
  int64_t count_ = 0;
  int64_t non_finite_ = 0;
  double weight_sum_ = 0.0;
  double loss_sum_ = 0.0;
  double prediction_sum_ = 0.0;  // Σ w·p
  double label_sum_ = 0.0;       // Σ w·y

  // Ring buffer of the window.
  std::vector<float> window_logits_;
  std::vector<float> window_labels_;
  std::vector<float> window_weights_;
  int64_t window_next_ = 0;
  int64_t window_size_ = 0;
  mutable std::vector<int> scratch_;
};

}  // namespace freshet

#endif  // FRESHET_MODEL_METRICS_H_
