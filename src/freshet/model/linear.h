// Linear: a fully connected layer y = x W + b over a batch.
//
// x is [batch x in], y is [batch x out], both row-major (one row per
// example). The layer owns no memory: W ([in x out], row-major) followed by b
// ([out]) live at `offset()` in the model's flat parameter buffer, and the
// gradients at the same offset in the flat gradient buffer. Products are
// Eigen GEMMs written with noalias(), so nothing is allocated.
//
// Immutable after construction; Forward and Backward are const and safe to
// call from many threads with separate output buffers.
#ifndef FRESHET_MODEL_LINEAR_H_
#define FRESHET_MODEL_LINEAR_H_

#include <cmath>
#include <cstddef>

#include "freshet/model/eigen_types.h"
#include "freshet/model/rng.h"

namespace freshet {

enum class InitScheme {
  kXavier,  // Glorot uniform: U(-a, a), a = sqrt(6 / (in + out))
  kHe,      // He uniform for relu: U(-a, a), a = sqrt(6 / in)
};

template <typename T>
class Linear {
 public:
  Linear(int in, int out, size_t offset)
      : in_(in), out_(out), offset_(offset) {}

  int in() const { return in_; }
  int out() const { return out_; }
  size_t offset() const { return offset_; }
  size_t num_params() const { return static_cast<size_t>(in_) * out_ + out_; }
  // Multiply-adds per example of Forward (Backward does twice as many when
  // it also computes dx).
  double flops_per_example() const { return 2.0 * in_ * out_; }

  // Draws W from `scheme` and sets b = 0.
  void Init(InitScheme scheme, Rng* rng, T* params) const {
    const double range = scheme == InitScheme::kHe
                             ? std::sqrt(6.0 / in_)
                             : std::sqrt(6.0 / (in_ + out_));
    T* w = params + offset_;
    for (size_t i = 0; i < static_cast<size_t>(in_) * out_; ++i) {
      w[i] = static_cast<T>(rng->Symmetric(range));
    }
    for (int j = 0; j < out_; ++j) w[static_cast<size_t>(in_) * out_ + j] = 0;
  }

  // y = x W + b. REQUIRES: x [batch x in], y [batch x out], not overlapping.
  void Forward(const T* params, int batch, const T* x, T* y) const {
    ConstMatrixMap<T> xm(x, batch, in_);
    MatrixMap<T> ym(y, batch, out_);
    ym.rowwise() = bias(params);
    ym.noalias() += xm * weight(params);
  }

  // Given dy = dL/dy: dW += x^T dy, db += column sums of dy, and, when dx is
  // not null, dx = dy W^T (overwritten).
  void Backward(const T* params, int batch, const T* x, const T* dy, T* dparams,
                T* dx) const {
    ConstMatrixMap<T> xm(x, batch, in_);
    ConstMatrixMap<T> dym(dy, batch, out_);
    MatrixMap<T> dw(dparams + offset_, in_, out_);
    VectorMap<T> db(dparams + offset_ + static_cast<size_t>(in_) * out_, out_);
    dw.noalias() += xm.transpose() * dym;
    AddColumnSums<T>(dym, db);
    if (dx != nullptr) {
      MatrixMap<T> dxm(dx, batch, in_);
      dxm.noalias() = dym * weight(params).transpose();
    }
  }

  ConstMatrixMap<T> weight(const T* params) const {
    return ConstMatrixMap<T>(params + offset_, in_, out_);
  }
  ConstVectorMap<T> bias(const T* params) const {
    return ConstVectorMap<T>(params + offset_ + static_cast<size_t>(in_) * out_,
                             out_);
  }

 private:
  int in_;
  int out_;
  size_t offset_;
};

}  // namespace freshet

#endif  // FRESHET_MODEL_LINEAR_H_
