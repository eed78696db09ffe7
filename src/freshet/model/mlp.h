// Mlp: a stack of Linear layers, each followed by an activation.
//
// Layer i maps dims[i-1] -> dims[i] (dims[-1] = in). Hidden layers use the
// configured activation; the last layer uses it too unless `activate_last` is
// false (a tower ending in a logit). Parameters of the layers are contiguous
// in the flat buffer from `offset()`, layer after layer.
//
// Activations of every layer are kept in a caller-provided buffer (`acts`,
// ActivationFloats() floats per example) for the backward pass; the backward
// pass needs BackwardScratchFloats() more per example. Layer i's output is at
// acts + batch * (dims[0] + ... + dims[i-1]).
//
// Immutable after construction; const methods are thread-safe given separate
// buffers.
#ifndef FRESHET_MODEL_MLP_H_
#define FRESHET_MODEL_MLP_H_

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "freshet/model/activation.h"
#include "freshet/model/linear.h"

namespace freshet {

template <typename T>
class Mlp {
 public:
  // REQUIRES: in > 0, dims non-empty, every dim > 0.
  Mlp(int in, const std::vector<int>& dims, Activation activation,
      bool activate_last, size_t offset)
      : in_(in), activation_(activation), activate_last_(activate_last) {
    size_t at = offset;
    int prev = in;
    size_t act_offset = 0;
    for (int d : dims) {
      layers_.emplace_back(prev, d, at);
      act_offsets_.push_back(act_offset);
      at += layers_.back().num_params();
      act_offset += d;
      max_dim_ = std::max(max_dim_, d);
      prev = d;
    }
    num_params_ = at - offset;
    activation_floats_ = act_offset;
  }

  int in() const { return in_; }
  int out() const { return layers_.back().out(); }
  size_t num_params() const { return num_params_; }
  const std::vector<Linear<T>>& layers() const { return layers_; }
  size_t ActivationFloats() const { return activation_floats_; }
  size_t BackwardScratchFloats() const {
    return 2 * static_cast<size_t>(max_dim_);
  }
  double flops_per_example() const {
    double f = 0;
    for (const Linear<T>& l : layers_) f += l.flops_per_example();
    return f;
  }

  // He initialisation before relu, Xavier elsewhere.
  void Init(Rng* rng, T* params) const {
    for (size_t i = 0; i < layers_.size(); ++i) {
      const bool activated = i + 1 < layers_.size() || activate_last_;
      layers_[i].Init(activated && activation_ == Activation::kRelu
                          ? InitScheme::kHe
                          : InitScheme::kXavier,
                      rng, params);
    }
  }

  // Output of the last layer inside `acts`: [batch x out()].
  T* Output(int batch, T* acts) const {
    return acts + batch * act_offsets_.back();
  }
  const T* Output(int batch, const T* acts) const {
    return acts + batch * act_offsets_.back();
  }

  // REQUIRES: x [batch x in]; acts has batch * ActivationFloats() floats.
  void Forward(const T* params, int batch, const T* x, T* acts) const {
    const T* input = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
      T* y = acts + batch * act_offsets_[i];
      layers_[i].Forward(params, batch, input, y);
      if (Activated(i)) {
        ApplyActivation<T>(activation_,
                           MatrixMap<T>(y, batch, layers_[i].out()));
      }
      input = y;
    }
  }

  // Given dout = dL/d(output) [batch x out()] and the `acts` of Forward on the
  // same x: accumulates parameter gradients into dparams and, when dx is not
  // null, writes dL/dx [batch x in] to dx. `scratch` holds batch *
  // BackwardScratchFloats() floats.
  void Backward(const T* params, int batch, const T* x, const T* acts,
                const T* dout, T* scratch, T* dparams, T* dx) const {
    T* grad = scratch;
    T* next = scratch + static_cast<size_t>(batch) * max_dim_;
    const int last = static_cast<int>(layers_.size()) - 1;
    std::copy_n(dout, static_cast<size_t>(batch) * layers_[last].out(), grad);
    for (int i = last; i >= 0; --i) {
      const Linear<T>& layer = layers_[i];
      const T* y = acts + batch * act_offsets_[i];
      if (Activated(i)) {
        ActivationBackward<T>(activation_,
                              ConstMatrixMap<T>(y, batch, layer.out()),
                              MatrixMap<T>(grad, batch, layer.out()));
      }
      const T* input = i == 0 ? x : acts + batch * act_offsets_[i - 1];
      T* dinput = i == 0 ? dx : next;
      layer.Backward(params, batch, input, grad, dparams, dinput);
      std::swap(grad, next);
    }
  }

 private:
  bool Activated(size_t i) const {
    return i + 1 < layers_.size() || activate_last_;
  }

  int in_;
  Activation activation_;
  bool activate_last_;
  std::vector<Linear<T>> layers_;
  std::vector<size_t> act_offsets_;  // per example, into acts
  size_t num_params_ = 0;
  size_t activation_floats_ = 0;
  int max_dim_ = 0;
};

}  // namespace freshet

#endif  // FRESHET_MODEL_MLP_H_
