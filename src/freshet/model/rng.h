// Rng: the seeded generator of parameter initialisation, SplitMix64
// (freshet/base/random.h): the same seed gives the same parameters on every
// platform and compiler, which deterministic mode and recovery tests rely on.
#ifndef FRESHET_MODEL_RNG_H_
#define FRESHET_MODEL_RNG_H_

#include "freshet/base/random.h"

namespace freshet {

using Rng = SplitMix64;

}  // namespace freshet

#endif  // FRESHET_MODEL_RNG_H_
