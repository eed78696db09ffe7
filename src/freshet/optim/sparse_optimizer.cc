#include "freshet/optim/sparse_optimizer.h"

#include <cmath>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"
#include "freshet/optim/optimizer_config.h"

namespace freshet {

absl::StatusOr<SparseOptimizerType> ParseSparseOptimizerType(
    const std::string& name) {
  if (name == "sgd") return SparseOptimizerType::kSgd;
  if (name == "adagrad") return SparseOptimizerType::kAdagrad;
  if (name == "rowwise_adagrad") return SparseOptimizerType::kRowwiseAdagrad;
  if (name == "ftrl") return SparseOptimizerType::kFtrl;
  if (name == "adam") return SparseOptimizerType::kAdam;
  if (name == "radagrad") return SparseOptimizerType::kRadagrad;
  return absl::InvalidArgumentError(absl::StrCat(
      "sparse optimizer: unknown type '", name,
      "', expected one of sgd, adagrad, rowwise_adagrad, ftrl, adam, "
      "radagrad"));
}

int SparseOptimizer::StateFloatsFor(SparseOptimizerType type, int dim) {
  switch (type) {
    case SparseOptimizerType::kSgd:
      return 0;
    case SparseOptimizerType::kAdagrad:
      return dim;
    case SparseOptimizerType::kRowwiseAdagrad:
      return 1;
    case SparseOptimizerType::kFtrl:
      return 2 * dim;
    case SparseOptimizerType::kAdam:
      return 2 * dim + 1;
    case SparseOptimizerType::kRadagrad:
      return 2;
  }
  return 0;
}

absl::StatusOr<SparseOptimizer> SparseOptimizer::Create(
    const OptimizerSpec& spec, int dim) {
  auto type = ParseSparseOptimizerType(spec.type);
  if (!type.ok()) return type.status();
  if (dim <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sparse optimizer: dim must be > 0, got ", dim));
  }
  RETURN_IF_ERROR(CheckOptimizerRanges(spec, "sparse optimizer"));
  SparseOptimizer opt;
  opt.type_ = *type;
  opt.dim_ = dim;
  opt.state_floats_ = StateFloatsFor(*type, dim);
  opt.lr_ = static_cast<float>(spec.learning_rate);
  opt.initial_accumulator_ = static_cast<float>(spec.initial_accumulator);
  opt.beta1_ = static_cast<float>(spec.beta1);
  opt.beta2_ = static_cast<float>(spec.beta2);
  opt.epsilon_ = static_cast<float>(spec.epsilon);
  opt.l1_ = static_cast<float>(spec.l1);
  opt.l2_ = static_cast<float>(spec.l2);
  opt.beta_ = static_cast<float>(spec.beta);
  return opt;
}

void SparseOptimizer::InitState(float* state) const {
  switch (type_) {
    case SparseOptimizerType::kAdagrad:
      for (int i = 0; i < dim_; ++i) state[i] = initial_accumulator_;
      return;
    case SparseOptimizerType::kRowwiseAdagrad:
      state[0] = initial_accumulator_;
      return;
    default:
      for (int i = 0; i < state_floats_; ++i) state[i] = 0.0f;
      return;
  }
}

void SparseOptimizer::Update(float* weights, float* state,
                             const float* grad) const {
  switch (type_) {
    case SparseOptimizerType::kSgd:
      return UpdateSgd(weights, grad);
    case SparseOptimizerType::kAdagrad:
      return UpdateAdagrad(weights, state, grad);
    case SparseOptimizerType::kRowwiseAdagrad:
      return UpdateRowwiseAdagrad(weights, state, grad);
    case SparseOptimizerType::kFtrl:
      return UpdateFtrl(weights, state, grad);
    case SparseOptimizerType::kAdam:
      return UpdateAdam(weights, state, grad);
    case SparseOptimizerType::kRadagrad:
      return UpdateRadagrad(weights, state, grad);
  }
}

void SparseOptimizer::UpdateSgd(float* w, const float* g) const {
  const float lr = lr_, l2 = l2_;
  for (int i = 0; i < dim_; ++i) w[i] -= lr * (g[i] + l2 * w[i]);
}

void SparseOptimizer::UpdateAdagrad(float* __restrict w, float* __restrict a,
                                    const float* __restrict g) const {
  // Written with SSE/AVX intrinsics because std::sqrt may set errno, which
  // keeps GCC from vectorizing the loop; the vector and scalar paths do the
  // same IEEE operations in the same order, so results are bit-identical.
  const float lr = lr_, l2 = l2_, eps = epsilon_;
  int i = 0;
#if defined(__AVX__)
  {
    const __m256 vlr = _mm256_set1_ps(lr), vl2 = _mm256_set1_ps(l2),
                 veps = _mm256_set1_ps(eps);
    for (; i + 8 <= dim_; i += 8) {
      __m256 wv = _mm256_loadu_ps(w + i);
      const __m256 gv =
          _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(vl2, wv));
      const __m256 av =
          _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_mul_ps(gv, gv));
      _mm256_storeu_ps(a + i, av);
      const __m256 den = _mm256_add_ps(_mm256_sqrt_ps(av), veps);
      wv = _mm256_sub_ps(wv, _mm256_div_ps(_mm256_mul_ps(vlr, gv), den));
      _mm256_storeu_ps(w + i, wv);
    }
  }
#endif
#if defined(__SSE2__)
  {
    const __m128 vlr = _mm_set1_ps(lr), vl2 = _mm_set1_ps(l2),
                 veps = _mm_set1_ps(eps);
    for (; i + 4 <= dim_; i += 4) {
      __m128 wv = _mm_loadu_ps(w + i);
      const __m128 gv = _mm_add_ps(_mm_loadu_ps(g + i), _mm_mul_ps(vl2, wv));
      const __m128 av = _mm_add_ps(_mm_loadu_ps(a + i), _mm_mul_ps(gv, gv));
      _mm_storeu_ps(a + i, av);
      const __m128 den = _mm_add_ps(_mm_sqrt_ps(av), veps);
      wv = _mm_sub_ps(wv, _mm_div_ps(_mm_mul_ps(vlr, gv), den));
      _mm_storeu_ps(w + i, wv);
    }
  }
#endif
  for (; i < dim_; ++i) {
    const float gi = g[i] + l2 * w[i];
    a[i] += gi * gi;
    w[i] -= lr * gi / (std::sqrt(a[i]) + eps);
  }
}

void SparseOptimizer::UpdateRowwiseAdagrad(float* __restrict w,
                                           float* __restrict a,
                                           const float* __restrict g) const {
  const float l2 = l2_;
  float sum = 0;
  for (int i = 0; i < dim_; ++i) {
    const float gi = g[i] + l2 * w[i];
    sum += gi * gi;
  }
  a[0] += sum / static_cast<float>(dim_);
  const float step = lr_ / (std::sqrt(a[0]) + epsilon_);
  for (int i = 0; i < dim_; ++i) w[i] -= step * (g[i] + l2 * w[i]);
}

void SparseOptimizer::UpdateFtrl(float* __restrict w, float* __restrict zn,
                                 const float* __restrict g) const {
  float* z = zn;
  float* n = zn + dim_;
  const float alpha = lr_;
  for (int i = 0; i < dim_; ++i) {
    const float gi = g[i];
    const float n_new = n[i] + gi * gi;
    const float sigma = (std::sqrt(n_new) - std::sqrt(n[i])) / alpha;
    z[i] += gi - sigma * w[i];
    n[i] = n_new;
    const float zi = z[i];
    if (std::fabs(zi) <= l1_) {
      w[i] = 0.0f;
    } else {
      const float sign = zi < 0 ? -1.0f : 1.0f;
      w[i] = -(zi - sign * l1_) / ((beta_ + std::sqrt(n_new)) / alpha + l2_);
    }
  }
}

void SparseOptimizer::UpdateAdam(float* __restrict w, float* __restrict mvt,
                                 const float* __restrict g) const {
  float* m = mvt;
  float* v = mvt + dim_;
  float& t = mvt[2 * dim_];
  t += 1.0f;
  const float c1 = 1.0f - std::pow(beta1_, t);
  const float c2 = 1.0f - std::pow(beta2_, t);
  const float b1 = beta1_, b2 = beta2_, l2 = l2_, eps = epsilon_;
  const float lr = lr_ / c1;
  const float inv_c2 = 1.0f / c2;
  for (int i = 0; i < dim_; ++i) {
    const float gi = g[i] + l2 * w[i];
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    w[i] -= lr * m[i] / (std::sqrt(v[i] * inv_c2) + eps);
  }
}

void SparseOptimizer::UpdateRadagrad(float* __restrict w, float* __restrict vt,
                                     const float* __restrict g) const {
  const float l2 = l2_;
  float sum = 0;
  for (int i = 0; i < dim_; ++i) {
    const float gi = g[i] + l2 * w[i];
    sum += gi * gi;
  }
  float& v = vt[0];
  float& t = vt[1];
  t += 1.0f;
  v = beta2_ * v + (1.0f - beta2_) * (sum / static_cast<float>(dim_));
  const float vhat = v / (1.0f - std::pow(beta2_, t));
  const float step = lr_ / (std::sqrt(vhat) + epsilon_);
  for (int i = 0; i < dim_; ++i) w[i] -= step * (g[i] + l2 * w[i]);
}

}  // namespace freshet
