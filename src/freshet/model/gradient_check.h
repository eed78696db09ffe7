// Finite-difference helpers for the model layer's gradient tests.
//
// The layers are templates over the scalar type; tests instantiate them in
// double and compare hand-derived gradients with central differences
// (f(x + h) − f(x − h)) / 2h, whose error is O(h²) plus rounding O(ε/h).
#ifndef FRESHET_MODEL_GRADIENT_CHECK_H_
#define FRESHET_MODEL_GRADIENT_CHECK_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "freshet/model/rng.h"

namespace freshet {

// Central difference of f() with respect to *x; restores *x.
template <typename F>
double CentralDifference(const F& f, double* x, double h = 1e-6) {
  const double saved = *x;
  *x = saved + h;
  const double plus = f();
  *x = saved - h;
  const double minus = f();
  *x = saved;
  return (plus - minus) / (2 * h);
}

// |analytic − numeric| ≤ atol + rtol · max(|analytic|, |numeric|).
inline bool GradientsAgree(double analytic, double numeric, double atol = 1e-7,
                           double rtol = 1e-5) {
  return std::abs(analytic - numeric) <=
         atol + rtol * std::max(std::abs(analytic), std::abs(numeric));
}

// Values uniform in [lo, hi).
inline std::vector<double> RandomVector(size_t n, Rng* rng, double lo = -1.0,
                                        double hi = 1.0) {
  std::vector<double> v(n);
  for (double& x : v) x = lo + (hi - lo) * rng->Uniform();
  return v;
}

// Σ_i a_i · b_i.
inline double Dot(const std::vector<double>& a, const double* b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace freshet

#endif  // FRESHET_MODEL_GRADIENT_CHECK_H_
