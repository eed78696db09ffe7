// Rng: a small seeded pseudo-random generator for parameter initialisation.
//
// SplitMix64 (Steele, Lea, Flood 2014). Unlike the standard library
// distributions, its output is specified bit for bit, so the same seed gives
// the same parameters on every platform and compiler; deterministic mode and
// recovery tests rely on that. Not thread-safe; use one per thread.
#ifndef FRESHET_MODEL_RNG_H_
#define FRESHET_MODEL_RNG_H_

#include <cstdint>

namespace freshet {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform in [-range, range).
  double Symmetric(double range) { return (2.0 * Uniform() - 1.0) * range; }

 private:
  uint64_t state_;
};

}  // namespace freshet

#endif  // FRESHET_MODEL_RNG_H_
