// Checkpoint shard files: one embedding table, or the dense parameters and
// dense optimizer state, as a header followed by zstd-compressed blocks and a
// footer (docs/checkpoint_format.md has the bytes).
//
//   header  magic "FRSHCKPT", version, file type, dim, state floats, dense
//           sizes and steps, name, CRC-32C of the header
//   block*  zstd frame, then trailer: compressed size u32, raw size u32,
//           CRC-32C of the compressed bytes u32
//   footer  blocks u64, rows u64, deleted keys u64, magic u32, CRC-32C u32
//
// A block's raw payload is one type byte and records of that type: rows
// (key u64, last update i64, score f32, weights f32 x dim, state f32 x
// state_floats), deleted keys (u64), the table's policy state (opaque
// bytes: admission sketches and counters), dense parameters or dense
// optimizer state (f32). All integers and floats are little-endian.
//
// Thread safety: a ShardWriter or ShardReader is used by one thread at a
// time.
#ifndef FRESHET_CKPT_SHARD_FILE_H_
#define FRESHET_CKPT_SHARD_FILE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/base/config.h"
#include "freshet/base/file_system.h"
#include "freshet/ckpt/crc32c.h"

namespace freshet {

inline constexpr char kShardMagic[8] = {'F', 'R', 'S', 'H', 'C', 'K', 'P', 'T'};
inline constexpr uint32_t kShardFormatVersion = 1;
inline constexpr uint32_t kShardFooterMagic = 0x46545246;  // "FRTF" in LE
inline constexpr size_t kBlockTrailerSize = 12;
inline constexpr size_t kShardFooterSize = 32;

enum class ShardFileType : uint32_t { kTable = 1, kDense = 2 };

enum class BlockType : uint8_t {
  kRows = 1,         // table rows
  kDeletedKeys = 2,  // u64 keys deleted since the previous checkpoint
  kDenseParams = 3,  // f32 dense parameters, in order
  kDenseState = 4,   // f32 dense optimizer state, in order
  kPolicyState = 5,  // table: EmbeddingTable::PolicyState() bytes, one block
};

struct ShardHeader {
  ShardFileType type = ShardFileType::kTable;
  std::string name;           // the table's name; "dense" for the dense file
  uint32_t dim = 0;           // table: weights per row
  uint32_t state_floats = 0;  // table: optimizer state floats per row
  uint64_t num_params = 0;    // dense: parameters
  uint64_t num_state = 0;     // dense: optimizer state floats
  int64_t steps = 0;          // dense: optimizer steps taken
};

struct ShardWriterOptions {
  size_t block_bytes =
      1 << 20;  // a block is cut once its raw size reaches this
  int zstd_level = kDefaultZstdLevel;
  FileSystem* file_system = nullptr;  // null: FileSystem::Default()
};

// What a finished file holds; goes into the manifest.
struct ShardSummary {
  uint64_t bytes = 0;
  uint64_t rows = 0;  // table rows, or dense floats (parameters + state)
  uint64_t deleted_keys = 0;
  uint64_t blocks = 0;
  uint32_t crc32c = 0;  // of the whole file
};

// Writes one shard file: Create(), Add*() in any order (records of one type
// are grouped into blocks), then Finish(), which writes the footer, fsyncs
// and closes. A writer destroyed without Finish() leaves a partial file.
class ShardWriter {
 public:
  static absl::StatusOr<std::unique_ptr<ShardWriter>> Create(
      const std::string& path, const ShardHeader& header,
      const ShardWriterOptions& options = {});
  ~ShardWriter();

  absl::Status AddRow(uint64_t key, int64_t last_update_ms, float score,
                      absl::Span<const float> weights,
                      absl::Span<const float> state);
  absl::Status AddDeletedKey(uint64_t key);
  // The table's policy state, as one block of its own.
  absl::Status AddPolicyState(std::string_view bytes);
  absl::Status AddDenseParams(absl::Span<const float> values);
  absl::Status AddDenseState(absl::Span<const float> values);
  absl::StatusOr<ShardSummary> Finish();

 private:
  ShardWriter(std::string path, std::unique_ptr<WritableFile> file,
              const ShardHeader& header, const ShardWriterOptions& options);
  absl::Status StartRecord(BlockType type);
  absl::Status AddFloats(BlockType type, absl::Span<const float> values);
  absl::Status FlushBlock();
  absl::Status WriteBytes(std::string_view bytes);

  const std::string path_;
  std::unique_ptr<WritableFile> file_;  // null once closed
  const ShardHeader header_;
  const ShardWriterOptions options_;
  std::string raw_;  // the open block's raw payload, type byte first
  std::string compressed_;
  Crc32c file_crc_;
  ShardSummary summary_;
  bool finished_ = false;
};

// Where a block sits in its file.
struct BlockInfo {
  uint64_t offset = 0;  // of the compressed bytes
  uint32_t compressed_size = 0;
  uint32_t raw_size = 0;
  uint32_t crc32c = 0;  // stored in the trailer
};

// Reads one shard file. Open() checks the header, the footer and that the
// block trailers chain from the footer back to the header; ForEachBlock()
// then reads, checks and decompresses the blocks in order. Errors
// (DataLoss, NotFound) name the file and, for a block, its index and offset.
class ShardReader {
 public:
  // `fs` null: FileSystem::Default().
  static absl::StatusOr<std::unique_ptr<ShardReader>> Open(
      const std::string& path, FileSystem* fs = nullptr);
  ~ShardReader();

  const ShardHeader& header() const { return header_; }
  const std::vector<BlockInfo>& blocks() const { return blocks_; }
  uint64_t file_bytes() const { return file_bytes_; }
  uint64_t footer_rows() const { return footer_rows_; }
  uint64_t footer_deleted_keys() const { return footer_deleted_; }

  // Calls fn(index, type, records) for every block, where `records` is the
  // raw payload after the type byte, its size a whole number of records of
  // that type. Stops at the first error, from a block or from fn. Also checks
  // that the counts add up to the footer's (and for a dense file, to the
  // header's sizes).
  absl::Status ForEachBlock(
      const std::function<absl::Status(int index, BlockType type,
                                       std::string_view records)>& fn);

  // Size of one record of `type` in this file.
  size_t RecordSize(BlockType type) const;

 private:
  ShardReader(std::string path, std::unique_ptr<RandomAccessFile> file)
      : path_(std::move(path)), file_(std::move(file)) {}
  absl::Status ReadAt(uint64_t offset, size_t n, std::string* out) const;
  absl::Status Parse();

  const std::string path_;
  std::unique_ptr<RandomAccessFile> file_;
  ShardHeader header_;
  uint64_t header_bytes_ = 0;
  uint64_t file_bytes_ = 0;
  uint64_t footer_rows_ = 0;
  uint64_t footer_deleted_ = 0;
  std::vector<BlockInfo> blocks_;
};

// Decoders for records of a ShardReader block (little-endian).
uint64_t DecodeU64(const char* p);
int64_t DecodeI64(const char* p);
uint32_t DecodeU32(const char* p);
float DecodeF32(const char* p);

}  // namespace freshet

#endif  // FRESHET_CKPT_SHARD_FILE_H_
