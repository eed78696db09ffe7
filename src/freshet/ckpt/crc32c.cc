#include "freshet/ckpt/crc32c.h"

#include <string>

#include "rocksdb/file_checksum.h"

namespace freshet {

Crc32c::Crc32c() {
  static const std::shared_ptr<rocksdb::FileChecksumGenFactory> factory =
      rocksdb::GetFileChecksumGenCrc32cFactory();
  rocksdb::FileChecksumGenContext context;
  context.requested_checksum_func_name =
      rocksdb::kStandardDbFileChecksumFuncName;
  gen_ = factory->CreateFileChecksumGenerator(context);
}

Crc32c::~Crc32c() = default;

void Crc32c::Update(const void* data, size_t n) {
  gen_->Update(static_cast<const char*>(data), n);
}

uint32_t Crc32c::Value() {
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
