// CRC-32C (Castagnoli) of byte strings, for checkpoint files.
//
// On x86-64 CPUs with SSE4.2 the checksum is computed with the CRC32
// instruction (about 8 bytes per cycle): Debian's RocksDB is built portable
// and takes its table-driven path, which made checksums a visible part of a
// checkpoint write. Elsewhere it is computed by RocksDB's public
// file-checksum generator (rocksdb::GetFileChecksumGenCrc32cFactory(),
// rocksdb/file_checksum.h), which is also the reference the tests hold the
// fast path to. That generator returns its result from GetChecksum() as 4
// bytes, most significant first (big-endian), and unmasked (unlike the
// masked little-endian CRCs inside RocksDB's own files). Value() gives the
// plain CRC-32C value, so Crc32c of "123456789" is 0xE3069283, as in RFC
// 3720. Checkpoint files store the value little-endian, like every other
// integer in them.
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
  enum class Impl { kAuto, kPortable };
  // kPortable forces RocksDB's generator (for tests).
  explicit Crc32c(Impl impl = Impl::kAuto);
  ~Crc32c();
  Crc32c(const Crc32c&) = delete;
  Crc32c& operator=(const Crc32c&) = delete;

  void Update(const void* data, size_t n);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // The CRC of everything passed to Update(). Call once, last.
  uint32_t Value();

 private:
  std::unique_ptr<rocksdb::FileChecksumGenerator> gen_;  // portable path
  uint32_t state_ = 0xFFFFFFFFu;                         // hardware path
};

// CRC-32C of one buffer.
uint32_t ComputeCrc32c(const void* data, size_t n);
inline uint32_t ComputeCrc32c(std::string_view data) {
  return ComputeCrc32c(data.data(), data.size());
}

}  // namespace freshet

#endif  // FRESHET_CKPT_CRC32C_H_
