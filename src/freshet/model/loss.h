// Logistic loss on logits, and the sigmoid.
//
// For a logit z, a label y in [0, 1] and a sample weight w:
//
//   loss(z, y) = w · (log(1 + e^z) − y·z)
//              = w · (max(z, 0) − y·z + log1p(e^−|z|)),
//
// the second form being exact and free of overflow for every finite z. Its
// derivative is dloss/dz = w · (sigmoid(z) − y). Pure functions, thread-safe.
#ifndef FRESHET_MODEL_LOSS_H_
#define FRESHET_MODEL_LOSS_H_

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>

#include "absl/types/span.h"

namespace freshet {

// 1 / (1 + e^−z), without overflow for large |z|.
template <typename T>
T Sigmoid(T z) {
  if (z >= T(0)) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

template <typename T>
T LogisticLoss(T logit, T label) {
  return std::max(logit, T(0)) - label * logit +
         std::log1p(std::exp(-std::abs(logit)));
}

template <typename T>
T LogisticLossGradient(T logit, T label) {
  return Sigmoid(logit) - label;
}

// For a batch: returns Σ_i w_i · loss(z_i, y_i) (in double) and writes
// dlogits[i] = scale · w_i · (sigmoid(z_i) − y_i). `weights` may be empty
// (every weight 1). Typical scale: 1 / batch or 1 / Σ w.
// REQUIRES: labels and dlogits (and weights, when not empty) have
// logits.size() elements.
template <typename T>
double LogisticLossAndGradient(absl::Span<const T> logits,
                               absl::Span<const T> labels,
                               absl::Span<const T> weights, T scale,
                               absl::Span<T> dlogits) {
  assert(labels.size() == logits.size());
  assert(dlogits.size() == logits.size());
  assert(weights.empty() || weights.size() == logits.size());
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const T w = weights.empty() ? T(1) : weights[i];
    total += static_cast<double>(w) * LogisticLoss(logits[i], labels[i]);
    dlogits[i] = scale * w * LogisticLossGradient(logits[i], labels[i]);
  }
  return total;
}

// The logit to serve from a model trained with negatives kept at rate r:
// subsampling negatives multiplies the odds by 1/r, so the calibrated logit
// is logit + ln(r). REQUIRES: 0 < rate <= 1.
inline double CorrectNegativeSampling(double logit, double rate) {
  return logit + std::log(rate);
}

// The same, in place over a batch.
inline void CorrectNegativeSampling(double rate, absl::Span<float> logits) {
  const float offset = static_cast<float>(std::log(rate));
  for (float& z : logits) z += offset;
}

}  // namespace freshet

#endif  // FRESHET_MODEL_LOSS_H_
