#include "freshet/ckpt/crc32c.h"

#include <cstring>
#include <string>

#include "rocksdb/file_checksum.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace freshet {
namespace {

#if defined(__x86_64__)
bool HaveHardwareCrc() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc,
                                                          const char* p,
                                                          size_t n) {
  uint64_t c = crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    --n;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    --n;
  }
  return static_cast<uint32_t>(c);
}
#else
bool HaveHardwareCrc() { return false; }
uint32_t ExtendHardware(uint32_t crc, const char*, size_t) { return crc; }
#endif

}  // namespace

Crc32c::Crc32c(Impl impl) {
  if (impl == Impl::kAuto && HaveHardwareCrc()) return;
  static const std::shared_ptr<rocksdb::FileChecksumGenFactory> factory =
      rocksdb::GetFileChecksumGenCrc32cFactory();
  rocksdb::FileChecksumGenContext context;
  context.requested_checksum_func_name =
      rocksdb::kStandardDbFileChecksumFuncName;
  gen_ = factory->CreateFileChecksumGenerator(context);
}

Crc32c::~Crc32c() = default;

void Crc32c::Update(const void* data, size_t n) {
  if (gen_ == nullptr) {
    state_ = ExtendHardware(state_, static_cast<const char*>(data), n);
    return;
  }
  gen_->Update(static_cast<const char*>(data), n);
}

uint32_t Crc32c::Value() {
  if (gen_ == nullptr) return ~state_;
  gen_->Finalize();
  const std::string bytes = gen_->GetChecksum();
  // Big-endian: the first byte is the most significant.
  uint32_t v = 0;
  for (size_t i = 0; i < bytes.size() && i < 4; ++i) {
    v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return v;
}

uint32_t ComputeCrc32c(const void* data, size_t n) {
  Crc32c crc;
  crc.Update(data, n);
  return crc.Value();
}

}  // namespace freshet
