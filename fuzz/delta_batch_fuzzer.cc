// Fuzzes DecodeDeltaBatch(), the reader of the sync delta-batch byte form
// (docs/sync_format.md). A batch ends with an XXH3-64 checksum of the bytes
// before it, which random bytes almost never match; so each input is decoded
// twice: as it is, and with the right checksum appended, to reach the length
// and field checks behind it. A decoded batch must encode (in the current
// format) and decode again to the same batch.
#include <xxhash.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "freshet/sync/delta_batch.h"
#include "fuzz/fuzz_schema.h"

namespace freshet {
namespace fuzz {
namespace {

// Bitwise, except that any two NaNs are equal: fp16 conversion keeps a NaN
// a NaN (fp16.h) but not its payload bits.
bool SameFloats(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  }
  return true;
}

bool SameBatch(const DeltaBatch& a, const DeltaBatch& b) {
  if (a.shard != b.shard || a.epoch != b.epoch ||
      a.base_version != b.base_version || a.version != b.version ||
      a.full != b.full || a.created_unix_us != b.created_unix_us ||
      a.oldest_update_unix_us != b.oldest_update_unix_us ||
      a.examples != b.examples || a.has_dense != b.has_dense ||
      !SameFloats(a.dense, b.dense) || a.tables.size() != b.tables.size()) {
    return false;
  }
  for (size_t i = 0; i < a.tables.size(); ++i) {
    const DeltaTable& x = a.tables[i];
    const DeltaTable& y = b.tables[i];
    if (x.name != y.name || x.dim != y.dim || x.precision != y.precision ||
        x.deleted_keys != y.deleted_keys || x.keys != y.keys ||
        !SameFloats(x.weights, y.weights)) {
      return false;
    }
  }
  return true;
}

void Decode(std::string_view bytes) {
  auto batch = DecodeDeltaBatch(bytes);
  if (!batch.ok()) {
    Require(absl::IsDataLoss(batch.status()),
            "unexpected status: " + batch.status().ToString());
    return;
  }
  for (const DeltaTable& t : batch->tables) {
    Require(t.weights.size() == t.keys.size() * static_cast<size_t>(t.dim),
            "weights not keys x dim");
  }
  std::string encoded;
  EncodeDeltaBatch(*batch, &encoded);
  Require(static_cast<int64_t>(encoded.size()) == EncodedDeltaBatchSize(*batch),
          "EncodedDeltaBatchSize disagrees with EncodeDeltaBatch");
  auto again = DecodeDeltaBatch(encoded);
  Require(again.ok(),
          "re-encoded batch rejected: " + again.status().ToString());
  Require(SameBatch(*batch, *again), "batch does not round-trip");
}

}  // namespace
}  // namespace fuzz
}  // namespace freshet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  freshet::fuzz::Decode(bytes);
  std::string sealed(bytes);
  const uint64_t checksum = XXH3_64bits(sealed.data(), sealed.size());
  sealed.append(reinterpret_cast<const char*>(&checksum), sizeof(checksum));
  freshet::fuzz::Decode(sealed);
  return 0;
}
