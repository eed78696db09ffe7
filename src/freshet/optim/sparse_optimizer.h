// Sparse (per-row) optimizers for embedding tables.
//
// A SparseOptimizer updates one row in place: `weights[dim]` and the row's
// optimizer state `state[StateFloats()]`, given the row's gradient
// `grad[dim]`. The embedding table stores the state right after the weights
// in the row and calls Update() under the row's stripe lock; the optimizer
// itself holds only hyper-parameters, so one instance is shared by every row
// and every thread (all methods are const and thread-safe).
//
// Update formulas (lr = learning_rate, eps = epsilon, g' = g + l2 * w where
// "plain L2" applies; all element-wise over the row unless noted):
//
//   sgd              state: none
//                    w -= lr * g'
//   adagrad          state: a[dim], a starts at initial_accumulator
//                    a += g'^2;  w -= lr * g' / (sqrt(a) + eps)
//   rowwise_adagrad  state: a (1 float per row), starts at initial_accumulator
//                    a += mean_i(g'_i^2);  w -= lr * g' / (sqrt(a) + eps)
//   ftrl             state: z[dim], n[dim] (FTRL-Proximal, McMahan et al.
//                    2013; alpha = lr; l1, l2, beta from the spec; the raw g)
//                    s = (sqrt(n + g^2) - sqrt(n)) / alpha
//                    z += g - s * w;  n += g^2
//                    w = |z| <= l1 ? 0
//                        : -(z - sign(z) * l1) / ((beta + sqrt(n)) / alpha +
//                        l2)
//   adam (lazy)      state: m[dim], v[dim], t (the row's own step count)
//                    t += 1;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//                    w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//                    A row's moments decay only when the row is updated.
//   radagrad         state: v, t (2 floats per row, whatever the dim)
//                    Kraken's sparsity-aware RMSProp variant: the row's
//                    coordinates share one second moment, an exponential
//                    moving average of the row's mean squared gradient, with
//                    the row's own step count for bias correction:
//                    t += 1;  v = b2 v + (1 - b2) mean_i(g'_i^2)
//                    w -= lr * g' / (sqrt(v / (1 - b2^t)) + eps)
//                    Unlike rowwise_adagrad its step size does not decay to
//                    zero for hot rows; unlike adam it keeps 2 floats per row
//                    instead of 2 * dim + 1 (at dim 16: weights + state = 18
//                    floats against adam's 49, about 1/3 of the memory).
//
// The step count t is stored as a float; it is exact up to 2^24 updates of
// one row, after which the bias corrections are 1 to float precision anyway.
#ifndef FRESHET_OPTIM_SPARSE_OPTIMIZER_H_
#define FRESHET_OPTIM_SPARSE_OPTIMIZER_H_

#include <string>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"

namespace freshet {

enum class SparseOptimizerType {
  kSgd,
  kAdagrad,
  kRowwiseAdagrad,
  kFtrl,
  kAdam,
  kRadagrad,
};

class SparseOptimizer {
 public:
  // Returns an optimizer for rows of `dim` floats, or InvalidArgument for an
  // unknown type, dim <= 0 or a hyper-parameter out of range.
  static absl::StatusOr<SparseOptimizer> Create(const OptimizerSpec& spec,
                                                int dim);

  SparseOptimizerType type() const { return type_; }
  int dim() const { return dim_; }

  // Floats of optimizer state per row (see the table above).
  int StateFloats() const { return state_floats_; }

  // Writes the initial state of a new row into state[StateFloats()].
  void InitState(float* state) const;

  // Applies one gradient to one row.
  // REQUIRES: weights[dim], state[StateFloats()], grad[dim] are valid and no
  // other thread touches this row during the call.
  void Update(float* weights, float* state, const float* grad) const;

  // Number of state floats for `type` at `dim`.
  static int StateFloatsFor(SparseOptimizerType type, int dim);

 private:
  SparseOptimizer() = default;

  void UpdateSgd(float* w, const float* g) const;
  void UpdateAdagrad(float* w, float* a, const float* g) const;
  void UpdateRowwiseAdagrad(float* w, float* a, const float* g) const;
  void UpdateFtrl(float* w, float* zn, const float* g) const;
  void UpdateAdam(float* w, float* mvt, const float* g) const;
  void UpdateRadagrad(float* w, float* vt, const float* g) const;

  SparseOptimizerType type_ = SparseOptimizerType::kSgd;
  int dim_ = 0;
  int state_floats_ = 0;
  float lr_ = 0;
  float initial_accumulator_ = 0;
  float beta1_ = 0;
  float beta2_ = 0;
  float epsilon_ = 0;
  float l1_ = 0;
  float l2_ = 0;
  float beta_ = 0;
};

// Parses an optimizer type name ("sgd", "adagrad", "rowwise_adagrad", "ftrl",
// "adam", "radagrad").
absl::StatusOr<SparseOptimizerType> ParseSparseOptimizerType(
    const std::string& name);

}  // namespace freshet

#endif  // FRESHET_OPTIM_SPARSE_OPTIMIZER_H_
