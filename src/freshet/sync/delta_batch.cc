#include "freshet/sync/delta_batch.h"

#include <xxhash.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "freshet/sync/fp16.h"

namespace freshet {
namespace {

constexpr char kMagic[4] = {'F', 'S', 'D', 'B'};
constexpr uint32_t kFlagDense = 1u << 0;
constexpr uint32_t kFlagFull = 1u << 1;

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // the build targets little-endian x86-64
  out->append(buf, sizeof(T));
}

class Cursor {
 public:
  explicit Cursor(std::string_view bytes)
      : p_(bytes.data()), end_(p_ + bytes.size()) {}

  template <typename T>
  bool Get(T* v) {
    if (static_cast<size_t>(end_ - p_) < sizeof(T)) return false;
    std::memcpy(v, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  bool Bytes(size_t n, const char** data) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    *data = p_;
    p_ += n;
    return true;
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  const char* p_;
  const char* end_;
};

absl::Status Truncated(std::string_view what) {
  return absl::DataLossError(
      absl::StrCat("delta batch: truncated or corrupt at ", std::string(what)));
}

}  // namespace

absl::StatusOr<WeightPrecision> ParseWeightPrecision(std::string_view name) {
  if (name == "fp32") return WeightPrecision::kFp32;
  if (name == "fp16") return WeightPrecision::kFp16;
  return absl::InvalidArgumentError(
      absl::StrCat("serving_precision: expected fp32 or fp16, got '",
                   std::string(name), "'"));
}

int64_t DeltaBatch::num_rows() const {
  int64_t n = 0;
  for (const DeltaTable& t : tables) n += static_cast<int64_t>(t.keys.size());
  return n;
}

int64_t DeltaBatch::num_deleted() const {
  int64_t n = 0;
  for (const DeltaTable& t : tables) {
    n += static_cast<int64_t>(t.deleted_keys.size());
  }
  return n;
}

int64_t EncodedDeltaBatchSize(const DeltaBatch& batch) {
  // magic, format, shard, flags, epoch, base, version, created, oldest,
  // examples, tables
  int64_t size = 4 + 4 + 4 + 4 + 8 + 8 + 8 + 8 + 8 + 8 + 4;
  for (const DeltaTable& t : batch.tables) {
    const int64_t wbytes = t.precision == WeightPrecision::kFp16 ? 2 : 4;
    size += 2 + static_cast<int64_t>(t.name.size()) + 1 + 1 + 2 + 8 + 8 +
            8 * static_cast<int64_t>(t.deleted_keys.size() + t.keys.size()) +
            wbytes * static_cast<int64_t>(t.weights.size());
  }
  if (batch.has_dense) size += 8 + 4 * static_cast<int64_t>(batch.dense.size());
  return size + 8;  // checksum
}

void EncodeDeltaBatch(const DeltaBatch& batch, std::string* out) {
  out->clear();
  size_t size = 64 + batch.dense.size() * 4;
  for (const DeltaTable& t : batch.tables) {
    size += 32 + t.name.size() + 8 * (t.keys.size() + t.deleted_keys.size()) +
            t.weights.size() * 4;
  }
  out->reserve(size);
  out->append(kMagic, 4);
  Put<uint32_t>(out, DeltaBatch::kFormatVersion);
  Put<uint32_t>(out, batch.shard);
  Put<uint32_t>(
      out, (batch.has_dense ? kFlagDense : 0u) | (batch.full ? kFlagFull : 0u));
  Put<uint64_t>(out, batch.epoch);
  Put<uint64_t>(out, batch.base_version);
  Put<uint64_t>(out, batch.version);
  Put<int64_t>(out, batch.created_unix_us);
  Put<int64_t>(out, batch.oldest_update_unix_us);
  Put<int64_t>(out, batch.examples);
  Put<uint32_t>(out, static_cast<uint32_t>(batch.tables.size()));
  for (const DeltaTable& t : batch.tables) {
    Put<uint16_t>(out, static_cast<uint16_t>(t.name.size()));
    out->append(t.name);
    Put<uint8_t>(out, static_cast<uint8_t>(t.precision));
    Put<uint8_t>(out, 0);
    Put<uint16_t>(out, static_cast<uint16_t>(t.dim));
    Put<uint64_t>(out, t.deleted_keys.size());
    Put<uint64_t>(out, t.keys.size());
    for (uint64_t k : t.deleted_keys) Put<uint64_t>(out, k);
    for (uint64_t k : t.keys) Put<uint64_t>(out, k);
    if (t.precision == WeightPrecision::kFp16) {
      for (float w : t.weights) Put<uint16_t>(out, FloatToHalf(w));
    } else {
      for (float w : t.weights) Put<float>(out, w);
    }
  }
  if (batch.has_dense) {
    Put<uint64_t>(out, batch.dense.size());
    for (float w : batch.dense) Put<float>(out, w);
  }
  Put<uint64_t>(out, XXH3_64bits(out->data(), out->size()));
}

absl::StatusOr<DeltaBatch> DecodeDeltaBatch(std::string_view bytes) {
  if (bytes.size() < 4 + 8 || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return absl::DataLossError("delta batch: bad magic (expected 'FSDB')");
  }
  uint64_t checksum;
  std::memcpy(&checksum, bytes.data() + bytes.size() - 8, 8);
  if (XXH3_64bits(bytes.data(), bytes.size() - 8) != checksum) {
    return absl::DataLossError("delta batch: checksum mismatch");
  }
  Cursor c(bytes.substr(4, bytes.size() - 12));
  DeltaBatch b;
  uint32_t format, flags, num_tables;
  if (!c.Get(&format)) return Truncated("header");
  if (format != 1 && format != DeltaBatch::kFormatVersion) {
    return absl::DataLossError(absl::StrCat(
        "delta batch: unknown format version ", format,
        " (this build reads 1 and ", DeltaBatch::kFormatVersion, ")"));
  }
  if (!c.Get(&b.shard) || !c.Get(&flags)) return Truncated("header");
  if (format >= 2 && (!c.Get(&b.epoch) || !c.Get(&b.base_version))) {
    return Truncated("header");
  }
  if (!c.Get(&b.version) || !c.Get(&b.created_unix_us) ||
      !c.Get(&b.oldest_update_unix_us) || !c.Get(&b.examples) ||
      !c.Get(&num_tables)) {
    return Truncated("header");
  }
  const uint32_t known = format == 1 ? kFlagDense : kFlagDense | kFlagFull;
  if ((flags & ~known) != 0) {
    return absl::DataLossError(
        absl::StrCat("delta batch: unknown flags ", flags));
  }
  // Format 1 batches were consecutive: each built on the one before.
  if (format == 1 && b.version > 0) b.base_version = b.version - 1;
  b.has_dense = (flags & kFlagDense) != 0;
  b.full = (flags & kFlagFull) != 0;
  for (uint32_t i = 0; i < num_tables; ++i) {
    DeltaTable t;
    uint16_t name_len, dim;
    uint8_t precision, pad;
    const char* name;
    uint64_t num_deleted, num_keys;
    if (!c.Get(&name_len) || !c.Bytes(name_len, &name) || !c.Get(&precision) ||
        !c.Get(&pad) || !c.Get(&dim) || !c.Get(&num_deleted) ||
        !c.Get(&num_keys)) {
      return Truncated(absl::StrCat("table ", i));
    }
    if (precision > 1) {
      return absl::DataLossError(absl::StrCat("delta batch: table ", i,
                                              ": bad precision ", precision));
    }
    t.name.assign(name, name_len);
    t.dim = dim;
    t.precision = static_cast<WeightPrecision>(precision);
    const size_t wbytes = t.precision == WeightPrecision::kFp16 ? 2 : 4;
    // Bound the counts by the bytes left before allocating.
    if (num_deleted > c.remaining() / 8 ||
        num_keys > c.remaining() / (8 + wbytes * (dim == 0 ? 1 : dim))) {
      return Truncated(absl::StrCat("table '", t.name, "'"));
    }
    t.deleted_keys.resize(num_deleted);
    for (uint64_t& k : t.deleted_keys) c.Get(&k);
    t.keys.resize(num_keys);
    for (uint64_t& k : t.keys) {
      if (!c.Get(&k)) return Truncated(absl::StrCat("table '", t.name, "'"));
    }
    t.weights.resize(num_keys * dim);
    if (t.precision == WeightPrecision::kFp16) {
      for (float& w : t.weights) {
        uint16_t h;
        if (!c.Get(&h)) return Truncated(absl::StrCat("table '", t.name, "'"));
        w = HalfToFloat(h);
      }
    } else {
      for (float& w : t.weights) {
        if (!c.Get(&w)) return Truncated(absl::StrCat("table '", t.name, "'"));
      }
    }
    b.tables.push_back(std::move(t));
  }
  if (b.has_dense) {
    uint64_t n;
    if (!c.Get(&n) || n > c.remaining() / 4) return Truncated("dense");
    b.dense.resize(n);
    for (float& w : b.dense) c.Get(&w);
  }
  if (c.remaining() != 0) {
    return absl::DataLossError("delta batch: trailing bytes");
  }
  return b;
}

}  // namespace freshet
