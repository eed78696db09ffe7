#include "freshet/optim/dense_optimizer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"
#include "freshet/optim/optimizer_config.h"

namespace freshet {

absl::StatusOr<DenseOptimizer> DenseOptimizer::Create(const OptimizerSpec& spec,
                                                      size_t size) {
  DenseOptimizer opt;
  if (spec.type == "sgd") {
    opt.type_ = DenseOptimizerType::kSgd;
  } else if (spec.type == "momentum") {
    opt.type_ = DenseOptimizerType::kMomentum;
    opt.state_.assign(size, 0.0f);
  } else if (spec.type == "adagrad") {
    opt.type_ = DenseOptimizerType::kAdagrad;
    opt.state_.assign(size, static_cast<float>(spec.initial_accumulator));
  } else if (spec.type == "adam" || spec.type == "adamw") {
    opt.type_ = spec.type == "adam" ? DenseOptimizerType::kAdam
                                    : DenseOptimizerType::kAdamW;
    opt.state_.assign(2 * size, 0.0f);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("dense optimizer: unknown type '", spec.type,
                     "', expected one of sgd, momentum, adagrad, adam, adamw"));
  }
  RETURN_IF_ERROR(CheckOptimizerRanges(spec, "dense optimizer"));
  opt.size_ = size;
  opt.lr_ = static_cast<float>(spec.learning_rate);
  opt.beta1_ = static_cast<float>(spec.beta1);
  opt.beta2_ = static_cast<float>(spec.beta2);
  opt.epsilon_ = static_cast<float>(spec.epsilon);
  opt.momentum_ = static_cast<float>(spec.momentum);
  opt.weight_decay_ = static_cast<float>(spec.weight_decay);
  opt.l2_ = static_cast<float>(spec.l2);
  return opt;
}

absl::Status DenseOptimizer::Step(absl::Span<float> params,
                                  absl::Span<const float> grads) {
  if (params.size() != size_ || grads.size() != size_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dense optimizer: expected ", size_, " params and grads, got ",
        params.size(), " and ", grads.size()));
  }
  ++steps_;
  float* p = params.data();
  const float* g = grads.data();
  const size_t n = size_;
  const float lr = lr_, l2 = l2_, eps = epsilon_;
  switch (type_) {
    case DenseOptimizerType::kSgd:
      for (size_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + l2 * p[i]);
      break;
    case DenseOptimizerType::kMomentum: {
      float* u = state_.data();
      for (size_t i = 0; i < n; ++i) {
        u[i] = momentum_ * u[i] + g[i] + l2 * p[i];
        p[i] -= lr * u[i];
      }
      break;
    }
    case DenseOptimizerType::kAdagrad: {
      float* a = state_.data();
      for (size_t i = 0; i < n; ++i) {
        const float gi = g[i] + l2 * p[i];
        a[i] += gi * gi;
        p[i] -= lr * gi / (std::sqrt(a[i]) + eps);
      }
      break;
    }
    case DenseOptimizerType::kAdam:
    case DenseOptimizerType::kAdamW: {
      const bool decoupled = type_ == DenseOptimizerType::kAdamW;
      float* m = state_.data();
      float* v = state_.data() + n;
      const double t = static_cast<double>(steps_);
      const float c1 = static_cast<float>(1.0 - std::pow(beta1_, t));
      const float c2 = static_cast<float>(1.0 - std::pow(beta2_, t));
      const float b1 = beta1_, b2 = beta2_;
      const float decay = decoupled ? lr * weight_decay_ : 0.0f;
      const float l2c = decoupled ? 0.0f : l2;
      for (size_t i = 0; i < n; ++i) {
        const float gi = g[i] + l2c * p[i];
        p[i] -= decay * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
      }
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status DenseOptimizer::Restore(absl::Span<const float> state,
                                     int64_t steps) {
  if (state.size() != state_.size() || steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dense optimizer: restore expects ", state_.size(),
        " state floats and steps >= 0, got ", state.size(), " and ", steps));
  }
  state_.assign(state.begin(), state.end());
  steps_ = steps;
  return absl::OkStatus();
}

}  // namespace freshet
