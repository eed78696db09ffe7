// RowInitializer: the initial weights of a new row, a pure function of the
// key and the table seed (a counter-based generator built on Mix64), so that
// a row gets the same weights whatever thread creates it and in whatever
// order: replays and restores are bit-identical.
//
// Also gives the table default: the weights a lookup returns for an id that
// has no row (not admitted, expired, evicted): `value` for the "constant"
// initializer, zeros otherwise.
//
// Thread-safe (const).
#ifndef FRESHET_TABLE_INITIALIZER_H_
#define FRESHET_TABLE_INITIALIZER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"

namespace freshet {

class RowInitializer {
 public:
  enum class Kind { kNormal, kUniform, kZeros, kConstant };

  // InvalidArgument for an unknown type or a negative stddev / range.
  static absl::StatusOr<RowInitializer> Create(const InitializerSpec& spec,
                                               int dim, uint64_t seed);

  // Writes the initial weights of `key` into out[dim].
  void Init(uint64_t key, float* out) const;

  // Writes the table default into out[dim].
  void Default(float* out) const;

  Kind kind() const { return kind_; }

 private:
  RowInitializer() = default;

  Kind kind_ = Kind::kZeros;
  int dim_ = 0;
  float stddev_ = 0;
  float range_ = 0;
  float value_ = 0;
  uint64_t seed_ = 0;
};

}  // namespace freshet

#endif  // FRESHET_TABLE_INITIALIZER_H_
