// Random numbers for the synthetic stream generator.
//
// The generator must produce the same bytes for the same seed whatever the
// standard library, so it does not use <random>'s distributions (their
// algorithms are unspecified and differ between implementations). Everything
// here is a fixed algorithm over 64-bit integers and doubles; the only
// outside functions are the C library's exp, log and pow:
//   - SplitMix64: a tiny, fast generator (Steele, Lea, Flood 2014); each
//     record gets its own generator seeded by StreamSeed(seed, salt, index),
//     so record i is a pure function of (seed, i).
//   - Uniform/Normal/Exponential draws built on it (Normal is the Irwin-Hall
//     sum of four uniforms: bounded at +-3.46, plenty for synthetic data).
//   - ZipfSampler: power-law ranks by inverting the continuous Zipf CDF.
//
// All types are small values; an instance is not thread-safe, distinct
// instances are independent. Pure functions are thread-safe.
#ifndef FRESHET_DATA_GENERATOR_RANDOM_H_
#define FRESHET_DATA_GENERATOR_RANDOM_H_

#include <cmath>
#include <cstdint>

#include "freshet/base/hash.h"

namespace freshet {

// Seed of the generator for record `index` of stream `salt` under `seed`.
inline uint64_t StreamSeed(uint64_t seed, uint64_t salt, uint64_t index) {
  return Mix64(Mix64(seed ^ Mix64(salt + 0x9e3779b97f4a7c15ULL)) +
               index * 0x9e3779b97f4a7c15ULL);
}

// An approximately standard normal value derived from the 64 bits of `h`:
// the Irwin-Hall sum of four 16-bit uniforms, rescaled to unit variance.
inline double HashNormal(uint64_t h) {
  double sum = static_cast<double>((h & 0xffff) + ((h >> 16) & 0xffff) +
                                   ((h >> 32) & 0xffff) + (h >> 48)) +
               2.0;  // centres each 16-bit value at k + 0.5
  return (sum / 65536.0 - 2.0) * 1.7320508075688772;  // sqrt(3)
}

// A uniform value in [-1, 1) from 16 bits of `h` starting at bit `shift`.
inline double HashSigned16(uint64_t h, int shift) {
  return static_cast<double>((h >> shift) & 0xffff) / 32768.0 - 1.0;
}

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n); n > 0. Lemire's multiply-shift (bias < n/2^64).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >>
                                 64);
  }

  // True with probability p.
  bool Bernoulli(double p) { return Uniform() < p; }

  double Normal() { return HashNormal(Next()); }

  // Exponential with the given mean.
  double Exponential(double mean) { return -mean * std::log1p(-Uniform()); }

 private:
  uint64_t state_;
};

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
