#include "freshet/model/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

#include "freshet/model/loss.h"

namespace freshet {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMinProbability = 1e-7;

float WeightAt(absl::Span<const float> weights, size_t i) {
  return weights.empty() ? 1.0f : weights[i];
}

// Exact AUC over the examples listed in `order`, which it sorts by score.
double SortedAuc(const float* scores, const float* labels, const float* weights,
                 std::vector<int>* order) {
  // NaN scores sort last, among themselves as ties: a strict weak order on
  // any input (a plain `<` is not one with NaNs, and std::sort may then run
  // off its range).
  std::sort(order->begin(), order->end(), [scores](int a, int b) {
    const float x = scores[a], y = scores[b];
    return x < y || (!std::isnan(x) && std::isnan(y));
  });
  double negatives_below = 0.0;
  double area = 0.0;
  double positives = 0.0;
  size_t i = 0;
  while (i < order->size()) {
    size_t j = i;
    double pos = 0.0, neg = 0.0;
    const float s = scores[(*order)[i]];
    // Every pass takes at least one score (a NaN equals nothing, itself
    // included), so the loop ends on any input.
    for (; j < order->size() &&
           (j == i || scores[(*order)[j]] == s ||
            (std::isnan(s) && std::isnan(scores[(*order)[j]])));
         ++j) {
      const int k = (*order)[j];
      const double w = weights == nullptr ? 1.0 : weights[k];
      if (labels[k] > 0.5f) {
        pos += w;
      } else {
        neg += w;
      }
    }
    area += pos * (negatives_below + 0.5 * neg);
    negatives_below += neg;
    positives += pos;
    i = j;
  }
  if (positives <= 0.0 || negatives_below <= 0.0) return kNaN;
  return area / (positives * negatives_below);
}

}  // namespace

double Auc(absl::Span<const float> scores, absl::Span<const float> labels,
           absl::Span<const float> weights) {
  assert(labels.size() == scores.size());
  assert(weights.empty() || weights.size() == scores.size());
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  return SortedAuc(scores.data(), labels.data(),
                   weights.empty() ? nullptr : weights.data(), &order);
}

double LogLoss(absl::Span<const float> probabilities,
               absl::Span<const float> labels,
               absl::Span<const float> weights) {
  double loss = 0.0, total = 0.0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    const double p = std::clamp(static_cast<double>(probabilities[i]),
                                kMinProbability, 1.0 - kMinProbability);
    const double y = labels[i];
    const double w = WeightAt(weights, i);
    loss -= w * (y * std::log(p) + (1.0 - y) * std::log(1.0 - p));
    total += w;
  }
  return total > 0.0 ? loss / total : kNaN;
}

double Calibration(absl::Span<const float> probabilities,
                   absl::Span<const float> labels,
                   absl::Span<const float> weights) {
  double predicted = 0.0, actual = 0.0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    const double w = WeightAt(weights, i);
    predicted += w * probabilities[i];
    actual += w * labels[i];
  }
  return actual > 0.0 ? predicted / actual : kNaN;
}

ProgressiveMetrics::ProgressiveMetrics(const ProgressiveMetricsOptions& options)
    : options_(options),
      bucket_scale_(options.num_buckets / (2.0 * options.logit_range)),
      positives_(std::max(options.num_buckets, 1), 0.0),
      negatives_(std::max(options.num_buckets, 1), 0.0),
      window_logits_(std::max<int64_t>(options.window, 0)),
      window_labels_(std::max<int64_t>(options.window, 0)),
      window_weights_(std::max<int64_t>(options.window, 0)) {
  scratch_.reserve(window_logits_.size());
}

int ProgressiveMetrics::Bucket(float logit) const {
  double z = std::isnan(logit) ? 0.0 : static_cast<double>(logit);
  z = std::clamp(z, -options_.logit_range, options_.logit_range);
  const int b = static_cast<int>((z + options_.logit_range) * bucket_scale_);
  return std::min(b, static_cast<int>(positives_.size()) - 1);
}

void ProgressiveMetrics::Add(float logit, float label, float weight) {
  if (!std::isfinite(logit) || !std::isfinite(label) ||
      !std::isfinite(weight)) {
    ++non_finite_;
    return;
  }
  const double w = weight;
  ++count_;
  weight_sum_ += w;
  loss_sum_ += w * LogisticLoss<double>(logit, label);
  prediction_sum_ += w * Sigmoid<double>(logit);
  label_sum_ += w * label;
  (label > 0.5f ? positives_ : negatives_)[Bucket(logit)] += w;
  if (!window_logits_.empty()) {
    window_logits_[window_next_] = logit;
    window_labels_[window_next_] = label;
    window_weights_[window_next_] = weight;
    window_next_ = (window_next_ + 1) % options_.window;
    window_size_ = std::min(window_size_ + 1, options_.window);
  }
}

void ProgressiveMetrics::AddBatch(absl::Span<const float> logits,
                                  absl::Span<const float> labels,
                                  absl::Span<const float> weights) {
  for (size_t i = 0; i < logits.size(); ++i) {
    Add(logits[i], labels[i], WeightAt(weights, i));
  }
}

void ProgressiveMetrics::Reset() {
  std::fill(positives_.begin(), positives_.end(), 0.0);
  std::fill(negatives_.begin(), negatives_.end(), 0.0);
  count_ = 0;
  non_finite_ = 0;
  weight_sum_ = loss_sum_ = prediction_sum_ = label_sum_ = 0.0;
  window_next_ = window_size_ = 0;
}

double ProgressiveMetrics::LogLoss() const {
  return weight_sum_ > 0.0 ? loss_sum_ / weight_sum_ : kNaN;
}

double ProgressiveMetrics::Calibration() const {
  return label_sum_ > 0.0 ? prediction_sum_ / label_sum_ : kNaN;
}

double ProgressiveMetrics::Auc() const {
  double negatives_below = 0.0, area = 0.0, positives = 0.0;
  for (size_t k = 0; k < positives_.size(); ++k) {
    area += positives_[k] * (negatives_below + 0.5 * negatives_[k]);
    negatives_below += negatives_[k];
    positives += positives_[k];
  }
  if (positives <= 0.0 || negatives_below <= 0.0) return kNaN;
  return area / (positives * negatives_below);
}

double ProgressiveMetrics::AucErrorBound() const {
  double ties = 0.0, positives = 0.0, negatives = 0.0;
  for (size_t k = 0; k < positives_.size(); ++k) {
    ties += positives_[k] * negatives_[k];
    positives += positives_[k];
    negatives += negatives_[k];
  }
  if (positives <= 0.0 || negatives <= 0.0) return kNaN;
  return 0.5 * ties / (positives * negatives);
}

// The window occupies slots [0, window_size_) of the ring: before it wraps
// these are the examples so far, afterwards the whole ring.
double ProgressiveMetrics::WindowLogLoss() const {
  double loss = 0.0, total = 0.0;
  for (int64_t i = 0; i < window_size_; ++i) {
    const double w = window_weights_[i];
    loss += w * LogisticLoss<double>(window_logits_[i], window_labels_[i]);
    total += w;
  }
  return total > 0.0 ? loss / total : kNaN;
}

double ProgressiveMetrics::WindowCalibration() const {
  double predicted = 0.0, actual = 0.0;
  for (int64_t i = 0; i < window_size_; ++i) {
    const double w = window_weights_[i];
    predicted += w * Sigmoid<double>(window_logits_[i]);
    actual += w * window_labels_[i];
  }
  return actual > 0.0 ? predicted / actual : kNaN;
}

double ProgressiveMetrics::WindowAuc() const {
  scratch_.resize(window_size_);
  std::iota(scratch_.begin(), scratch_.end(), 0);
  return SortedAuc(window_logits_.data(), window_labels_.data(),
                   window_weights_.data(), &scratch_);
}

}  // namespace freshet
