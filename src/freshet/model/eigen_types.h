// Eigen aliases for the model layer.
//
// All dense math is batch-major: a batch is a row-major matrix with one row
// per example. Layers read and write caller-owned buffers through these maps,
// so no layer owns memory and nothing allocates on the hot path.
#ifndef FRESHET_MODEL_EIGEN_TYPES_H_
#define FRESHET_MODEL_EIGEN_TYPES_H_

// GCC 12 reports false -Wmaybe-uninitialized and -Warray-bounds warnings
// inside Eigen's AVX-512 packet code (exp, tanh; tiny fixed-size buffers whose
// full-packet branch is dead); they point into the intrinsics headers parsed
// here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Warray-bounds"
#include <Eigen/Core>
#pragma GCC diagnostic pop

namespace freshet {

template <typename T>
using RowMatrix =
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;

template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <typename T>
using VectorMap = Eigen::Map<RowVector<T>>;
template <typename T>
using ConstVectorMap = Eigen::Map<const RowVector<T>>;

// Reductions in a fixed order. Eigen's vectorised reductions (sum(),
// colwise().sum(), squaredNorm()) peel leading elements according to the
// runtime address of the data, so the same values at another address can
// round differently; the model layer uses these instead so that results are
// bit-identical wherever the caller's buffers live.

// out += Σ_r m.row(r), rows added in order (element-wise, so vectorising
// does not change the rounding).
template <typename T, typename Out>
void AddColumnSums(const ConstMatrixMap<T>& m, Out&& out) {
  for (Eigen::Index r = 0; r < m.rows(); ++r) out += m.row(r);
}

// Σ_i x_i, left to right.
template <typename T>
T SequentialSum(const T* x, int n) {
  T s = 0;
  for (int i = 0; i < n; ++i) s += x[i];
  return s;
}

// Σ_i a_i · b_i, left to right.
template <typename T>
T SequentialDot(const T* a, const T* b, int n) {
  T s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace freshet

#endif  // FRESHET_MODEL_EIGEN_TYPES_H_
