// FmInteraction: the second-order term of a factorization machine.
//
// For one example with field factors v_1..v_F (each of dim k, stored one
// after the other in a row of F*k floats):
//
//   y = Σ_{i<j} <v_i, v_j> = 0.5 · Σ_f ((Σ_i v_if)² − Σ_i v_if²),
//
// computed in O(F·k) (Rendle, 2010). The layer has no parameters; the
// per-example sums Σ_i v_i are kept in a caller buffer ([batch x k]) for the
// backward pass, where dy/dv_if = Σ_j v_jf − v_if.
//
// Immutable; const methods are thread-safe given separate buffers.
#ifndef FRESHET_MODEL_FM_INTERACTION_H_
#define FRESHET_MODEL_FM_INTERACTION_H_

#include "freshet/model/eigen_types.h"

namespace freshet {

template <typename T>
class FmInteraction {
 public:
  FmInteraction(int num_fields, int dim) : num_fields_(num_fields), dim_(dim) {}

  int num_fields() const { return num_fields_; }
  int dim() const { return dim_; }
  size_t StateFloats() const { return dim_; }

  // v: [batch x F*k]; writes y[batch] (overwritten) and sums [batch x k].
  void Forward(int batch, const T* v, T* y, T* sums) const {
    const size_t width = static_cast<size_t>(num_fields_) * dim_;
    for (int b = 0; b < batch; ++b) {
      ConstMatrixMap<T> vb(v + b * width, num_fields_, dim_);
      VectorMap<T> s(sums + static_cast<size_t>(b) * dim_, dim_);
      s.setZero();
      AddColumnSums<T>(vb, s);
      const T* vp = vb.data();
      const size_t n = width;
      y[b] = T(0.5) * (SequentialDot(s.data(), s.data(), dim_) -
                       SequentialDot(vp, vp, static_cast<int>(n)));
    }
  }

  // Given dy [batch]: dv += dy · (sums − v), row by row.
  void Backward(int batch, const T* v, const T* sums, const T* dy,
                T* dv) const {
    const size_t width = static_cast<size_t>(num_fields_) * dim_;
    for (int b = 0; b < batch; ++b) {
      ConstMatrixMap<T> vb(v + b * width, num_fields_, dim_);
      MatrixMap<T> dvb(dv + b * width, num_fields_, dim_);
      ConstVectorMap<T> s(sums + static_cast<size_t>(b) * dim_, dim_);
      const T g = dy[b];
      dvb.rowwise() += g * s;
      dvb -= g * vb;
    }
  }

 private:
  int num_fields_;
  int dim_;
};

}  // namespace freshet

#endif  // FRESHET_MODEL_FM_INTERACTION_H_
