// CrossNetV2: the cross network of DCN-V2 (Wang et al., 2021), full rank.
//
//   x_{l+1} = x_0 ⊙ (x_l W_l + b_l) + x_l,   l = 0 .. L-1,
//
// with x_l [batch x d] row-major, W_l [d x d] and b_l [d]. Layer l's W_l then
// b_l follow each other in the flat parameter buffer from `offset()`.
//
// Forward keeps x_1..x_L and u_l = x_l W_l + b_l in a caller buffer (`state`,
// StateFloats() per example); x_L, the output, is at Output(). Backward needs
// BackwardScratchFloats() more per example. With L = 0 the network is the
// identity and needs no state (Output() is then x_0 itself).
//
// Immutable after construction; const methods are thread-safe given separate
// buffers.
#ifndef FRESHET_MODEL_CROSS_NET_H_
#define FRESHET_MODEL_CROSS_NET_H_

#include <cstddef>
#include <vector>

#include "freshet/model/linear.h"

namespace freshet {

template <typename T>
class CrossNetV2 {
 public:
  CrossNetV2(int dim, int num_layers, size_t offset) : dim_(dim) {
    size_t at = offset;
    for (int l = 0; l < num_layers; ++l) {
      layers_.emplace_back(dim, dim, at);
      at += layers_.back().num_params();
    }
    num_params_ = at - offset;
  }

  int dim() const { return dim_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  size_t num_params() const { return num_params_; }
  const std::vector<Linear<T>>& layers() const { return layers_; }
  size_t StateFloats() const { return 2 * layers_.size() * dim_; }
  size_t BackwardScratchFloats() const {
    return layers_.empty() ? 0 : 2 * dim_;
  }
  double flops_per_example() const {
    return layers_.size() * (2.0 * dim_ * dim_ + 3.0 * dim_);
  }

  void Init(Rng* rng, T* params) const {
    for (const Linear<T>& l : layers_) l.Init(InitScheme::kXavier, rng, params);
  }

  // REQUIRES: x0 [batch x dim]; state has batch * StateFloats() floats.
  void Forward(const T* params, int batch, const T* x0, T* state) const {
    ConstMatrixMap<T> x0m(x0, batch, dim_);
    const T* x = x0;
    for (int l = 0; l < num_layers(); ++l) {
      T* u = U(batch, state, l);
      layers_[l].Forward(params, batch, x, u);
      MatrixMap<T> next(X(batch, state, l + 1), batch, dim_);
      next.array() = x0m.array() * ConstMatrixMap<T>(u, batch, dim_).array() +
                     ConstMatrixMap<T>(x, batch, dim_).array();
      x = next.data();
    }
  }

  // x_L: [batch x dim].
  const T* Output(int batch, const T* x0, const T* state) const {
    return layers_.empty() ? x0 : X(batch, state, num_layers());
  }

  // Given dout = dL/dx_L [batch x dim] and the state of Forward on the same
  // x0: accumulates parameter gradients into dparams and writes dL/dx0 to dx0
  // (overwritten; may not alias dout). `scratch` holds batch *
  // BackwardScratchFloats() floats.
  void Backward(const T* params, int batch, const T* x0, const T* state,
                const T* dout, T* scratch, T* dparams, T* dx0) const {
    MatrixMap<T> dx0m(dx0, batch, dim_);
    if (layers_.empty()) {
      dx0m = ConstMatrixMap<T>(dout, batch, dim_);
      return;
    }
    ConstMatrixMap<T> x0m(x0, batch, dim_);
    MatrixMap<T> g(scratch, batch, dim_);  // dL/dx_{l+1}, then dL/dx_l
    MatrixMap<T> du(scratch + static_cast<size_t>(batch) * dim_, batch, dim_);
    g = ConstMatrixMap<T>(dout, batch, dim_);
    dx0m.setZero();
    for (int l = num_layers() - 1; l >= 0; --l) {
      ConstMatrixMap<T> u(U(batch, state, l), batch, dim_);
      const T* x = l == 0 ? x0 : X(batch, state, l);
      du.array() = g.array() * x0m.array();
      dx0m.array() += g.array() * u.array();
      // dx_l = g + du W_l^T; the residual term is g itself.
      const Linear<T>& layer = layers_[l];
      ConstMatrixMap<T> xm(x, batch, dim_);
      MatrixMap<T> dw(dparams + layer.offset(), dim_, dim_);
      VectorMap<T> db(
          dparams + layer.offset() + static_cast<size_t>(dim_) * dim_, dim_);
      dw.noalias() += xm.transpose() * du;
      AddColumnSums<T>(ConstMatrixMap<T>(du.data(), batch, dim_), db);
      g.noalias() += du * layer.weight(params).transpose();
    }
    dx0m += g;
  }

 private:
  // x_l for l >= 1 and u_l, inside `state`.
  T* X(int batch, T* state, int l) const {
    return state + static_cast<size_t>(batch) * dim_ * (l - 1);
  }
  const T* X(int batch, const T* state, int l) const {
    return state + static_cast<size_t>(batch) * dim_ * (l - 1);
  }
  T* U(int batch, T* state, int l) const {
    return state + static_cast<size_t>(batch) * dim_ * (layers_.size() + l);
  }
  const T* U(int batch, const T* state, int l) const {
    return state + static_cast<size_t>(batch) * dim_ * (layers_.size() + l);
  }

  int dim_;
  std::vector<Linear<T>> layers_;
  size_t num_params_ = 0;
};

}  // namespace freshet

#endif  // FRESHET_MODEL_CROSS_NET_H_
