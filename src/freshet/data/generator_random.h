// Random numbers for the synthetic stream generator.
//
// The generator must produce the same bytes for the same seed whatever the
// standard library, so it does not use <random>'s distributions (their
// algorithms are unspecified and differ between implementations). Everything
// here is a fixed algorithm over 64-bit integers and doubles; the only
// outside functions are the C library's exp, log and pow:
//   - SplitMix64 (freshet/base/random.h); each record gets its own generator
//     seeded by StreamSeed(seed, salt, index), so record i is a pure function
//     of (seed, i).
//   - ZipfSampler: power-law ranks by inverting the continuous Zipf CDF.
//
// All types are small values; an instance is not thread-safe, distinct
// instances are independent. Pure functions are thread-safe.
#ifndef FRESHET_DATA_GENERATOR_RANDOM_H_
#define FRESHET_DATA_GENERATOR_RANDOM_H_

#include <cmath>
#include <cstdint>

#include "freshet/base/hash.h"
#include "freshet/base/random.h"

namespace freshet {

// Seed of the generator for record `index` of stream `salt` under `seed`.
inline uint64_t StreamSeed(uint64_t seed, uint64_t salt, uint64_t index) {
  return Mix64(Mix64(seed ^ Mix64(salt + 0x9e3779b97f4a7c15ULL)) +
               index * 0x9e3779b97f4a7c15ULL);
}

// A uniform value in [-1, 1) from 16 bits of `h` starting at bit `shift`.
inline double HashSigned16(uint64_t h, int shift) {
  return static_cast<double>((h >> shift) & 0xffff) / 32768.0 - 1.0;
}

// Samples ranks 0..n-1 with P(rank k) roughly proportional to 1/(k+1)^s, by
// inverting the CDF of the continuous power law on [1, n+1). Works in O(1)
// for any n (no table), so cardinalities of 10^7 cost nothing.
class ZipfSampler {
 public:
  ZipfSampler() = default;
  // REQUIRES: n >= 1, exponent > 0.
  ZipfSampler(uint64_t n, double exponent) : n_(n) {
    double top = static_cast<double>(n) + 1.0;
    if (std::fabs(exponent - 1.0) < 1e-9) {
      log_mode_ = true;
      scale_ = std::log(top);
    } else {
      inv_ = 1.0 / (1.0 - exponent);
      scale_ = std::pow(top, 1.0 - exponent) - 1.0;
    }
  }

  uint64_t n() const { return n_; }

  // Maps a uniform u in [0, 1) to a rank.
  uint64_t Sample(double u) const {
    double x =
        log_mode_ ? std::exp(u * scale_) : std::pow(1.0 + u * scale_, inv_);
    uint64_t rank = x < 1.0 ? 0 : static_cast<uint64_t>(x) - 1;
    return rank < n_ ? rank : n_ - 1;
  }

 private:
  uint64_t n_ = 1;
  bool log_mode_ = false;
  double scale_ = 0.0;
  double inv_ = 1.0;
};

inline double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace freshet

#endif  // FRESHET_DATA_GENERATOR_RANDOM_H_
