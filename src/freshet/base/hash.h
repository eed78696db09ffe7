// Feature-id hashing.
//
// A feature id is the 64-bit XXH3 hash of a raw value, seeded by the table the
// value's slot maps to. Tables store and compare all 64 bits (no modulo, no
// hashing trick), so two values share a row only if their 64-bit hashes are
// equal: about 0.03 expected collisions at 10^9 ids in one table.
//
// All functions are pure and thread-safe.
#ifndef FRESHET_BASE_HASH_H_
#define FRESHET_BASE_HASH_H_

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace freshet {

// Hash of arbitrary bytes with a seed.
inline uint64_t Hash64(std::string_view bytes, uint64_t seed = 0) {
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

// Seed for a table, derived from its name so that ids are stable across runs,
// processes and checkpoint restores.
inline uint64_t TableSeed(std::string_view table_name) {
  return Hash64(table_name, 0x6672657368657421ULL);  // "freshet!"
}

// The id of raw value `value` inside the table whose seed is `table_seed`.
inline uint64_t FeatureId(uint64_t table_seed, std::string_view value) {
  return Hash64(value, table_seed);
}

// Mixes a 64-bit key into a well-distributed 64-bit value (the finaliser of
// MurmurHash3 / splitmix64). Used where a key must be re-hashed independently
// of the hash that produced it, e.g. to route keys to shards.
inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace freshet

#endif  // FRESHET_BASE_HASH_H_
