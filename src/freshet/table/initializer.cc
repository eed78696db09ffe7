#include "freshet/table/initializer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "freshet/base/hash.h"

namespace freshet {
namespace {

// Uniform in (0, 1): 24 random bits, offset by half a step.
inline float Unit(uint64_t bits) {
  return (static_cast<float>(bits >> 40) + 0.5f) * 0x1.0p-24f;
}

}  // namespace

absl::StatusOr<RowInitializer> RowInitializer::Create(
    const InitializerSpec& spec, int dim, uint64_t seed) {
  RowInitializer init;
  if (spec.type == "normal") {
    init.kind_ = Kind::kNormal;
  } else if (spec.type == "uniform") {
    init.kind_ = Kind::kUniform;
  } else if (spec.type == "zeros") {
    init.kind_ = Kind::kZeros;
  } else if (spec.type == "constant") {
    init.kind_ = Kind::kConstant;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("initializer: unknown type '", spec.type,
                     "', expected one of normal, uniform, zeros, constant"));
  }
  if (spec.stddev < 0 || spec.range < 0) {
    return absl::InvalidArgumentError(
        "initializer: stddev and range must be >= 0");
  }
  init.dim_ = dim;
  init.stddev_ = static_cast<float>(spec.stddev);
  init.range_ = static_cast<float>(spec.range);
  init.value_ = static_cast<float>(spec.value);
  init.seed_ = Mix64(seed ^ 0x1217a11ce5eedULL);
  return init;
}

void RowInitializer::Default(float* out) const {
  const float v = kind_ == Kind::kConstant ? value_ : 0.0f;
  for (int i = 0; i < dim_; ++i) out[i] = v;
}

void RowInitializer::Init(uint64_t key, float* out) const {
  const uint64_t base = Mix64(key ^ seed_);
  switch (kind_) {
    case Kind::kZeros:
    case Kind::kConstant:
      Default(out);
      return;
    case Kind::kUniform:
      for (int i = 0; i < dim_; ++i) {
        const float u = Unit(Mix64(base + 0x9e3779b97f4a7c15ULL * (i + 1)));
        out[i] = (2.0f * u - 1.0f) * range_;
      }
      return;
    case Kind::kNormal:
      // Box-Muller on pairs of counter-based uniforms.
      for (int i = 0; i < dim_; i += 2) {
        const float u1 = Unit(Mix64(base + 0x9e3779b97f4a7c15ULL * (i + 1)));
        const float u2 = Unit(Mix64(base + 0x9e3779b97f4a7c15ULL * (i + 2)));
        const float r = std::sqrt(-2.0f * std::log(u1)) * stddev_;
        const float theta = 6.28318530718f * u2;
        out[i] = r * std::cos(theta);
        if (i + 1 < dim_) out[i + 1] = r * std::sin(theta);
      }
      return;
  }
}

}  // namespace freshet
