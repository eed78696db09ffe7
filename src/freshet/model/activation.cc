#include "freshet/model/activation.h"

#include "absl/strings/str_cat.h"

namespace freshet {

absl::StatusOr<Activation> ParseActivation(std::string_view name) {
  if (name == "identity") return Activation::kIdentity;
  if (name == "relu") return Activation::kRelu;
  if (name == "sigmoid") return Activation::kSigmoid;
  if (name == "tanh") return Activation::kTanh;
  return absl::InvalidArgumentError(
      absl::StrCat("model.activation: expected one of identity, relu, sigmoid, "
                   "tanh, got '",
                   std::string(name), "'"));
}

std::string ActivationName(Activation activation) {
  switch (activation) {
    case Activation::kIdentity:
      return "identity";
    case Activation::kRelu:
      return "relu";
    case Activation::kSigmoid:
      return "sigmoid";
    case Activation::kTanh:
      return "tanh";
  }
  return "unknown";
}

}  // namespace freshet
