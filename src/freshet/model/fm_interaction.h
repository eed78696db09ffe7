// FmInteraction: the second-order term of a factorization machine.
//
// For one example with field factors v_1..v_F (each of dim k, stored one
// after the other in a row of F*k floats):
//
//   y = Σ_{i<j} <v_i, v_j> = 0.5 · Σ_f ((Σ_i v_if)² − Σ_i v_if²),
//
// computed in O(F·k) (Rendle, 2010). The layer has no parameters; the
// per-example sums Σ_i v_i (and Σ_i v_i²) are kept in a caller buffer for the
// backward pass, where dy/dv_if = Σ_j v_jf − v_if.
//
// Immutable; const methods are thread-safe given separate buffers.
#ifndef FRESHET_MODEL_FM_INTERACTION_H_
#define FRESHET_MODEL_FM_INTERACTION_H_

#include <cstddef>

namespace freshet {

template <typename T>
class FmInteraction {
 public:
  FmInteraction(int num_fields, int dim) : num_fields_(num_fields), dim_(dim) {}

  int num_fields() const { return num_fields_; }
  int dim() const { return dim_; }
  // Per example: the factor sums, then the sums of squares.
  size_t StateFloats() const { return 2 * static_cast<size_t>(dim_); }

  // v: [batch x F*k]; writes y[batch] (overwritten) and the state
  // [batch x StateFloats()]. The loops over the factor dim are element-wise
  // (vectorised, and rounded the same at any address); only the final k-term
  // sum is sequential.
  void Forward(int batch, const T* v, T* y, T* state) const {
    const size_t width = static_cast<size_t>(num_fields_) * dim_;
    for (int b = 0; b < batch; ++b) {
      const T* vb = v + b * width;
      T* s = state + b * StateFloats();
      T* q = s + dim_;
      for (int f = 0; f < dim_; ++f) {
        s[f] = vb[f];
        q[f] = vb[f] * vb[f];
      }
      for (int i = 1; i < num_fields_; ++i) {
        const T* vi = vb + static_cast<size_t>(i) * dim_;
        for (int f = 0; f < dim_; ++f) {
          s[f] += vi[f];
          q[f] += vi[f] * vi[f];
        }
      }
      T sum = 0;
      for (int f = 0; f < dim_; ++f) sum += s[f] * s[f] - q[f];
      y[b] = T(0.5) * sum;
    }
  }

  // Given dy [batch]: dv += dy · (sums − v), row by row.
  void Backward(int batch, const T* v, const T* state, const T* dy,
                T* dv) const {
    const size_t width = static_cast<size_t>(num_fields_) * dim_;
    for (int b = 0; b < batch; ++b) {
      const T* vb = v + b * width;
      T* dvb = dv + b * width;
      const T* s = state + b * StateFloats();
      const T g = dy[b];
      for (int i = 0; i < num_fields_; ++i) {
        const size_t at = static_cast<size_t>(i) * dim_;
        for (int f = 0; f < dim_; ++f) {
          dvb[at + f] += g * (s[f] - vb[at + f]);
        }
      }
    }
  }

 private:
  int num_fields_;
  int dim_;
};

}  // namespace freshet

#endif  // FRESHET_MODEL_FM_INTERACTION_H_
