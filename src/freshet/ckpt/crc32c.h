// CRC-32C (Castagnoli) of byte strings, for checkpoint files.
//
// The checksum is computed by RocksDB's public file-checksum generator
// (rocksdb::GetFileChecksumGenCrc32cFactory(), rocksdb/file_checksum.h); no
// CRC code of our own. That generator returns its result from GetChecksum()
// as 4 bytes, most significant first (big-endian), and unmasked (unlike the
// masked little-endian CRCs inside RocksDB's own files). Value() decodes
// those bytes into the plain CRC-32C value, so Crc32c of "123456789" is
// 0xE3069283, as in RFC 3720. Checkpoint files store the value
// little-endian, like every other integer in them.
//
// Thread safety: a Crc32c object is used by one thread at a time.
#ifndef FRESHET_CKPT_CRC32C_H_
#define FRESHET_CKPT_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace rocksdb {
class FileChecksumGenerator;
}  // namespace rocksdb

namespace freshet {

// An incremental CRC-32C: Update() any number of times, then Value() once.
class Crc32c {
 public:
  Crc32c();
  ~Crc32c();
  Crc32c(const Crc32c&) = delete;
  Crc32c& operator=(const Crc32c&) = delete;

  void Update(const void* data, size_t n);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // The CRC of everything passed to Update(). Call once, last.
  uint32_t Value();

 private:
  std::unique_ptr<rocksdb::FileChecksumGenerator> gen_;
};

// CRC-32C of one buffer.
uint32_t ComputeCrc32c(const void* data, size_t n);
inline uint32_t ComputeCrc32c(std::string_view data) {
  return ComputeCrc32c(data.data(), data.size());
}

}  // namespace freshet

#endif  // FRESHET_CKPT_CRC32C_H_
