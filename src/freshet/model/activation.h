// Element-wise activations of the dense layers: identity, relu, sigmoid, tanh.
//
// Every activation's derivative is a function of its output alone, so a layer
// keeps only its post-activation output for the backward pass. The functions
// are stateless and thread-safe; they work in place on caller buffers.
#ifndef FRESHET_MODEL_ACTIVATION_H_
#define FRESHET_MODEL_ACTIVATION_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "freshet/model/eigen_types.h"

namespace freshet {

enum class Activation { kIdentity, kRelu, kSigmoid, kTanh };

// Parses "identity", "relu", "sigmoid" or "tanh".
absl::StatusOr<Activation> ParseActivation(std::string_view name);
std::string ActivationName(Activation activation);

// y = f(y), element-wise, in place.
template <typename T>
void ApplyActivation(Activation activation, MatrixMap<T> y) {
  switch (activation) {
    case Activation::kIdentity:
      return;
    case Activation::kRelu:
      y = y.cwiseMax(T(0));
      return;
    case Activation::kSigmoid:
      // exp(-y) overflows to +inf for very negative y, giving 1/inf = 0.
      y = (T(1) + (-y.array()).exp()).inverse().matrix();
      return;
    case Activation::kTanh:
      y = y.array().tanh().matrix();
      return;
  }
}

// dy *= f'(x) given y = f(x), element-wise, in place. At relu's kink (y == 0)
// the derivative is taken as 0.
template <typename T>
void ActivationBackward(Activation activation, ConstMatrixMap<T> y,
                        MatrixMap<T> dy) {
  switch (activation) {
    case Activation::kIdentity:
      return;
    case Activation::kRelu:
      dy = (y.array() > T(0)).select(dy, T(0));
      return;
    case Activation::kSigmoid:
      dy.array() *= y.array() * (T(1) - y.array());
      return;
    case Activation::kTanh:
      dy.array() *= T(1) - y.array().square();
      return;
  }
}

}  // namespace freshet

#endif  // FRESHET_MODEL_ACTIVATION_H_
