// Dense optimizers for the dense part of a model (MLP weights, biases).
//
// A DenseOptimizer owns the state for one flat parameter vector of a fixed
// size and updates it in place from a gradient of the same size. It is not
// thread-safe: one trainer thread (or the PS shard holding the dense part)
// owns it.
//
// Update formulas (lr = learning_rate, eps = epsilon, t = Step() after the
// increment, g' = g + l2 * p for sgd, momentum, adagrad and adam):
//
//   sgd       p -= lr * g'
//   momentum  u = momentum * u + g';  p -= lr * u           (state u[n])
//   adagrad   a += g'^2;  p -= lr * g' / (sqrt(a) + eps)    (state a[n],
//             a starts at initial_accumulator)
//   adam      m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//             p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//   adamw     as adam on the raw g, plus decoupled weight decay
//             (Loshchilov & Hutter): p -= lr * weight_decay * p, applied
//             before the adam step.
#ifndef FRESHET_OPTIM_DENSE_OPTIMIZER_H_
#define FRESHET_OPTIM_DENSE_OPTIMIZER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/base/config.h"

namespace freshet {

enum class DenseOptimizerType { kSgd, kMomentum, kAdagrad, kAdam, kAdamW };

class DenseOptimizer {
 public:
  // Returns an optimizer for `size` parameters, or InvalidArgument for an
  // unknown type ("sgd", "momentum", "adagrad", "adam", "adamw") or a
  // hyper-parameter out of range.
  static absl::StatusOr<DenseOptimizer> Create(const OptimizerSpec& spec,
                                               size_t size);

  DenseOptimizerType type() const { return type_; }
  size_t size() const { return size_; }

  // Applies one step. Returns InvalidArgument if the spans are not size()
  // long.
  absl::Status Step(absl::Span<float> params, absl::Span<const float> grads);

  // Steps taken so far.
  int64_t steps() const { return steps_; }

  // The optimizer state (for checkpoints): the concatenation of its vectors
  // (momentum: u; adagrad: a; adam/adamw: m then v; sgd: empty).
  absl::Span<const float> state() const { return state_; }

  // Restores state and step count saved from state() and steps().
  absl::Status Restore(absl::Span<const float> state, int64_t steps);

 private:
  DenseOptimizer() = default;

  DenseOptimizerType type_ = DenseOptimizerType::kSgd;
  size_t size_ = 0;
  float lr_ = 0;
  float beta1_ = 0;
  float beta2_ = 0;
  float epsilon_ = 0;
  float momentum_ = 0;
  float weight_decay_ = 0;
  float l2_ = 0;
  int64_t steps_ = 0;
  std::vector<float> state_;
};

}  // namespace freshet

#endif  // FRESHET_OPTIM_DENSE_OPTIMIZER_H_
