// Seeded pseudo-random numbers whose output is specified bit for bit.
//
// SplitMix64 (Steele, Lea, Flood 2014) with a few fixed draws on top. Unlike
// <random>'s distributions, whose algorithms differ between standard
// libraries, the same seed gives the same numbers on every platform and
// compiler: parameter initialisation, deterministic training and the
// synthetic stream generator rely on that. The only outside functions are
// the C library's log (Exponential). An instance is not thread-safe; distinct
// instances are independent.
#ifndef FRESHET_BASE_RANDOM_H_
#define FRESHET_BASE_RANDOM_H_

#include <cmath>
#include <cstdint>

namespace freshet {

// An approximately standard normal value derived from the 64 bits of `h`:
// the Irwin-Hall sum of four 16-bit uniforms, rescaled to unit variance.
inline double HashNormal(uint64_t h) {
  double sum = static_cast<double>((h & 0xffff) + ((h >> 16) & 0xffff) +
                                   ((h >> 32) & 0xffff) + (h >> 48)) +
               2.0;  // centres each 16-bit value at k + 0.5
  return (sum / 65536.0 - 2.0) * 1.7320508075688772;  // sqrt(3)
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

  // Uniform in [-range, range).
  double Symmetric(double range) { return (2.0 * Uniform() - 1.0) * range; }

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

}  // namespace freshet

#endif  // FRESHET_BASE_RANDOM_H_
