#include "freshet/ckpt/shard_file.h"

#include <zstd.h>

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/status_macros.h"

namespace freshet {

static_assert(std::endian::native == std::endian::little,
              "checkpoint files are little-endian; this code writes them "
              "with memcpy");

namespace {

// The fixed part of the header, before the name: magic, version, type, dim,
// state floats (4 x u32), num_params, num_state, steps (3 x u64), name length.
constexpr size_t kHeaderFixedSize = 8 + 4 * 4 + 3 * 8 + 4;
// A raw block larger than this is refused when reading (a damaged size).
constexpr uint64_t kMaxRawBlock = uint64_t{1} << 31;
constexpr uint32_t kMaxNameLength = 4096;

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}

// "PATH: WHAT: reason", with the code of the file system's error.
absl::Status FileError(const absl::Status& s, const std::string& what,
                       const std::string& path) {
  return absl::Status(s.code(),
                      absl::StrCat(path, ": ", what, ": ", s.message()));
}

}  // namespace

uint64_t DecodeU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
int64_t DecodeI64(const char* p) {
  int64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t DecodeU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
float DecodeF32(const char* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---------------------------------------------------------------- writer

ShardWriter::ShardWriter(std::string path, std::unique_ptr<WritableFile> file,
                         const ShardHeader& header,
                         const ShardWriterOptions& options)
    : path_(std::move(path)),
      file_(std::move(file)),
      header_(header),
      options_(options) {}

ShardWriter::~ShardWriter() = default;

absl::StatusOr<std::unique_ptr<ShardWriter>> ShardWriter::Create(
    const std::string& path, const ShardHeader& header,
    const ShardWriterOptions& options) {
  if (header.name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": shard name too long"));
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      FileSystem::OrDefault(options.file_system)->NewWritableFile(path);
  if (!file.ok()) return FileError(file.status(), "open", path);
  std::unique_ptr<ShardWriter> w(
      new ShardWriter(path, *std::move(file), header, options));
  std::string h(kShardMagic, sizeof(kShardMagic));
  Put<uint32_t>(&h, kShardFormatVersion);
  Put<uint32_t>(&h, static_cast<uint32_t>(header.type));
  Put<uint32_t>(&h, header.dim);
  Put<uint32_t>(&h, header.state_floats);
  Put<uint64_t>(&h, header.num_params);
  Put<uint64_t>(&h, header.num_state);
  Put<int64_t>(&h, header.steps);
  Put<uint32_t>(&h, static_cast<uint32_t>(header.name.size()));
  h += header.name;
  Put<uint32_t>(&h, ComputeCrc32c(h));
  RETURN_IF_ERROR(w->WriteBytes(h));
  return w;
}

absl::Status ShardWriter::WriteBytes(std::string_view bytes) {
  absl::Status s = file_->Append(bytes);
  if (!s.ok()) return FileError(s, "write", path_);
  file_crc_.Update(bytes);
  summary_.bytes += bytes.size();
  return absl::OkStatus();
}

absl::Status ShardWriter::StartRecord(BlockType type) {
  if (!raw_.empty() && (static_cast<BlockType>(raw_[0]) != type ||
                        raw_.size() >= options_.block_bytes)) {
    RETURN_IF_ERROR(FlushBlock());
  }
  if (raw_.empty()) raw_.push_back(static_cast<char>(type));
  return absl::OkStatus();
}

absl::Status ShardWriter::FlushBlock() {
  if (raw_.empty()) return absl::OkStatus();
  compressed_.resize(ZSTD_compressBound(raw_.size()));
  size_t n = ZSTD_compress(compressed_.data(), compressed_.size(), raw_.data(),
                           raw_.size(), options_.zstd_level);
  if (ZSTD_isError(n)) {
    return absl::InternalError(
        absl::StrCat(path_, ": zstd: ", ZSTD_getErrorName(n)));
  }
  compressed_.resize(n);
  std::string trailer;
  Put<uint32_t>(&trailer, static_cast<uint32_t>(n));
  Put<uint32_t>(&trailer, static_cast<uint32_t>(raw_.size()));
  Put<uint32_t>(&trailer, ComputeCrc32c(compressed_));
  RETURN_IF_ERROR(WriteBytes(compressed_));
  RETURN_IF_ERROR(WriteBytes(trailer));
  ++summary_.blocks;
  raw_.clear();
  return absl::OkStatus();
}

absl::Status ShardWriter::AddRow(uint64_t key, int64_t last_update_ms,
                                 float score, absl::Span<const float> weights,
                                 absl::Span<const float> state) {
  if (header_.type != ShardFileType::kTable || weights.size() != header_.dim ||
      state.size() != header_.state_floats) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: row of %d weights and %d state floats for a shard of %d and %d",
        path_, weights.size(), state.size(), header_.dim,
        header_.state_floats));
  }
  RETURN_IF_ERROR(StartRecord(BlockType::kRows));
  Put<uint64_t>(&raw_, key);
  Put<int64_t>(&raw_, last_update_ms);
  Put<float>(&raw_, score);
  raw_.append(reinterpret_cast<const char*>(weights.data()),
              weights.size() * sizeof(float));
  raw_.append(reinterpret_cast<const char*>(state.data()),
              state.size() * sizeof(float));
  ++summary_.rows;
  return absl::OkStatus();
}

absl::Status ShardWriter::AddDeletedKey(uint64_t key) {
  if (header_.type != ShardFileType::kTable) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": deleted key in a dense shard"));
  }
  RETURN_IF_ERROR(StartRecord(BlockType::kDeletedKeys));
  Put<uint64_t>(&raw_, key);
  ++summary_.deleted_keys;
  return absl::OkStatus();
}

absl::Status ShardWriter::AddPolicyState(std::string_view bytes) {
  if (header_.type != ShardFileType::kTable) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": policy state in a dense shard"));
  }
  if (bytes.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(FlushBlock());
  raw_.push_back(static_cast<char>(BlockType::kPolicyState));
  raw_.append(bytes.data(), bytes.size());
  return FlushBlock();
}

absl::Status ShardWriter::AddFloats(BlockType type,
                                    absl::Span<const float> values) {
  if (header_.type != ShardFileType::kDense) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": dense values in a table shard"));
  }
  const size_t per_block = std::max<size_t>(1, options_.block_bytes / 4);
  size_t i = 0;
  while (i < values.size()) {
    RETURN_IF_ERROR(StartRecord(type));
    const size_t room = (raw_.size() - 1) / 4 < per_block
                            ? per_block - (raw_.size() - 1) / 4
                            : 1;
    const size_t n = std::min(room, values.size() - i);
    raw_.append(reinterpret_cast<const char*>(values.data() + i),
                n * sizeof(float));
    i += n;
    summary_.rows += n;
  }
  return absl::OkStatus();
}

absl::Status ShardWriter::AddDenseParams(absl::Span<const float> values) {
  return AddFloats(BlockType::kDenseParams, values);
}

absl::Status ShardWriter::AddDenseState(absl::Span<const float> values) {
  return AddFloats(BlockType::kDenseState, values);
}

absl::StatusOr<ShardSummary> ShardWriter::Finish() {
  if (finished_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": Finish() called twice"));
  }
  finished_ = true;
  RETURN_IF_ERROR(FlushBlock());
  std::string footer;
  Put<uint64_t>(&footer, summary_.blocks);
  Put<uint64_t>(&footer, summary_.rows);
  Put<uint64_t>(&footer, summary_.deleted_keys);
  Put<uint32_t>(&footer, kShardFooterMagic);
  Put<uint32_t>(&footer, ComputeCrc32c(footer));
  RETURN_IF_ERROR(WriteBytes(footer));
  absl::Status s = file_->Sync();
  if (!s.ok()) return FileError(s, "fsync", path_);
  s = file_->Close();
  file_.reset();
  if (!s.ok()) return FileError(s, "close", path_);
  summary_.crc32c = file_crc_.Value();
  return summary_;
}

// ---------------------------------------------------------------- reader

ShardReader::~ShardReader() = default;

absl::StatusOr<std::unique_ptr<ShardReader>> ShardReader::Open(
    const std::string& path, FileSystem* fs) {
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> file =
      FileSystem::OrDefault(fs)->NewRandomAccessFile(path);
  if (!file.ok()) return FileError(file.status(), "open", path);
  std::unique_ptr<ShardReader> r(new ShardReader(path, *std::move(file)));
  RETURN_IF_ERROR(r->Parse());
  return r;
}

absl::Status ShardReader::ReadAt(uint64_t offset, size_t n,
                                 std::string* out) const {
  out->resize(n);
  absl::StatusOr<size_t> got = file_->ReadAt(offset, out->data(), n);
  if (!got.ok()) return FileError(got.status(), "read", path_);
  if (*got < n) {
    return absl::DataLossError(absl::StrFormat(
        "%s: truncated: wanted %d bytes at offset %d", path_, n, offset));
  }
  return absl::OkStatus();
}

absl::Status ShardReader::Parse() {
  absl::StatusOr<uint64_t> size = file_->Size();
  if (!size.ok()) return FileError(size.status(), "stat", path_);
  file_bytes_ = *size;
  if (file_bytes_ < kHeaderFixedSize + 4 + kShardFooterSize) {
    return absl::DataLossError(absl::StrFormat(
        "%s: truncated: %d bytes, shorter than a header and footer", path_,
        file_bytes_));
  }
  // Header.
  std::string h;
  RETURN_IF_ERROR(ReadAt(0, kHeaderFixedSize, &h));
  if (std::memcmp(h.data(), kShardMagic, sizeof(kShardMagic)) != 0) {
    return absl::DataLossError(
        absl::StrCat(path_, ": header: bad magic (not a shard file)"));
  }
  const char* p = h.data() + 8;
  const uint32_t version = DecodeU32(p);
  const uint32_t type = DecodeU32(p + 4);
  header_.dim = DecodeU32(p + 8);
  header_.state_floats = DecodeU32(p + 12);
  header_.num_params = DecodeU64(p + 16);
  header_.num_state = DecodeU64(p + 24);
  header_.steps = DecodeI64(p + 32);
  const uint32_t name_len = DecodeU32(p + 40);
  if (name_len > kMaxNameLength ||
      kHeaderFixedSize + name_len + 4 + kShardFooterSize > file_bytes_) {
    return absl::DataLossError(
        absl::StrCat(path_, ": header: bad name length ", name_len));
  }
  std::string rest;
  RETURN_IF_ERROR(ReadAt(kHeaderFixedSize, name_len + 4, &rest));
  h += rest;
  const uint32_t stored = DecodeU32(h.data() + h.size() - 4);
  const uint32_t computed =
      ComputeCrc32c(std::string_view(h.data(), h.size() - 4));
  if (stored != computed) {
    return absl::DataLossError(absl::StrFormat(
        "%s: header: crc32c mismatch (stored 0x%08x, computed 0x%08x)", path_,
        stored, computed));
  }
  if (version != kShardFormatVersion) {
    return absl::DataLossError(
        absl::StrCat(path_, ": header: unsupported format version ", version));
  }
  if (type != static_cast<uint32_t>(ShardFileType::kTable) &&
      type != static_cast<uint32_t>(ShardFileType::kDense)) {
    return absl::DataLossError(
        absl::StrCat(path_, ": header: unknown file type ", type));
  }
  header_.type = static_cast<ShardFileType>(type);
  header_.name = rest.substr(0, name_len);
  header_bytes_ = h.size();

  // Footer.
  std::string f;
  RETURN_IF_ERROR(ReadAt(file_bytes_ - kShardFooterSize, kShardFooterSize, &f));
  const uint32_t footer_crc =
      ComputeCrc32c(std::string_view(f.data(), kShardFooterSize - 4));
  if (DecodeU32(f.data() + 24) != kShardFooterMagic ||
      DecodeU32(f.data() + 28) != footer_crc) {
    return absl::DataLossError(absl::StrFormat(
        "%s: footer: bad magic or crc32c (file truncated or damaged at its "
        "end, %d bytes)",
        path_, file_bytes_));
  }
  const uint64_t num_blocks = DecodeU64(f.data());
  footer_rows_ = DecodeU64(f.data() + 8);
  footer_deleted_ = DecodeU64(f.data() + 16);
  const uint64_t max_blocks =
      (file_bytes_ - header_bytes_ - kShardFooterSize) / kBlockTrailerSize;
  if (num_blocks > max_blocks) {
    return absl::DataLossError(absl::StrCat(path_, ": footer: block count ",
                                            num_blocks,
                                            " does not fit in the file"));
  }

  // Walk the trailers from the footer back to the header.
  blocks_.resize(num_blocks);
  uint64_t end = file_bytes_ - kShardFooterSize;
  for (uint64_t i = num_blocks; i-- > 0;) {
    if (end < header_bytes_ + kBlockTrailerSize) {
      return absl::DataLossError(absl::StrFormat(
          "%s: block %d: trailer before the end of the header (block sizes "
          "damaged)",
          path_, i));
    }
    std::string t;
    RETURN_IF_ERROR(ReadAt(end - kBlockTrailerSize, kBlockTrailerSize, &t));
    BlockInfo& b = blocks_[i];
    b.compressed_size = DecodeU32(t.data());
    b.raw_size = DecodeU32(t.data() + 4);
    b.crc32c = DecodeU32(t.data() + 8);
    const uint64_t start = end - kBlockTrailerSize;
    if (b.compressed_size > start - header_bytes_) {
      return absl::DataLossError(absl::StrFormat(
          "%s: block %d (trailer at offset %d): compressed size %d runs "
          "into the header",
          path_, i, start, b.compressed_size));
    }
    b.offset = start - b.compressed_size;
    end = b.offset;
  }
  if (end != header_bytes_) {
    return absl::DataLossError(absl::StrFormat(
        "%s: block 0 starts at offset %d, not at the end of the header (%d): "
        "block sizes damaged",
        path_, end, header_bytes_));
  }
  return absl::OkStatus();
}

size_t ShardReader::RecordSize(BlockType type) const {
  switch (type) {
    case BlockType::kRows:
      return 8 + 8 + 4 +
             4 * (size_t{header_.dim} + size_t{header_.state_floats});
    case BlockType::kDeletedKeys:
      return 8;
    case BlockType::kDenseParams:
    case BlockType::kDenseState:
      return 4;
    case BlockType::kPolicyState:
      return 1;
  }
  return 0;
}

absl::Status ShardReader::ForEachBlock(
    const std::function<absl::Status(int index, BlockType type,
                                     std::string_view records)>& fn) {
  std::string compressed, raw;
  uint64_t rows = 0, deleted = 0, params = 0, state = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const BlockInfo& b = blocks_[i];
    const std::string where =
        absl::StrFormat("%s: block %d (offset %d)", path_, i, b.offset);
    RETURN_IF_ERROR(ReadAt(b.offset, b.compressed_size, &compressed));
    const uint32_t crc = ComputeCrc32c(compressed);
    if (crc != b.crc32c) {
      return absl::DataLossError(absl::StrFormat(
          "%s: crc32c mismatch (stored 0x%08x, computed 0x%08x)", where,
          b.crc32c, crc));
    }
    const unsigned long long content =
        ZSTD_getFrameContentSize(compressed.data(), compressed.size());
    if (content == ZSTD_CONTENTSIZE_ERROR ||
        content == ZSTD_CONTENTSIZE_UNKNOWN || content != b.raw_size ||
        content > kMaxRawBlock || content == 0) {
      return absl::DataLossError(absl::StrFormat(
          "%s: raw size %d does not match the zstd frame", where, b.raw_size));
    }
    raw.resize(b.raw_size);
    size_t n = ZSTD_decompress(raw.data(), raw.size(), compressed.data(),
                               compressed.size());
    if (ZSTD_isError(n) || n != b.raw_size) {
      return absl::DataLossError(absl::StrCat(
          where,
          ": zstd: ", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
    }
    const uint8_t type_byte = static_cast<uint8_t>(raw[0]);
    const bool table = header_.type == ShardFileType::kTable;
    const bool known =
        table ? (type_byte == 1 || type_byte == 2 || type_byte == 5)
              : (type_byte == 3 || type_byte == 4);
    if (!known) {
      return absl::DataLossError(absl::StrCat(where, ": block type ", type_byte,
                                              " not allowed in this file"));
    }
    const BlockType type = static_cast<BlockType>(type_byte);
    const size_t record = RecordSize(type);
    const size_t payload = raw.size() - 1;
    if (payload % record != 0) {
      return absl::DataLossError(absl::StrFormat(
          "%s: payload of %d bytes is not a whole number of %d-byte records",
          where, payload, record));
    }
    const uint64_t count = payload / record;
    switch (type) {
      case BlockType::kRows:
        rows += count;
        break;
      case BlockType::kDeletedKeys:
        deleted += count;
        break;
      case BlockType::kDenseParams:
        params += count;
        break;
      case BlockType::kDenseState:
        state += count;
        break;
      case BlockType::kPolicyState:
        break;
    }
    RETURN_IF_ERROR(
        fn(static_cast<int>(i), type, std::string_view(raw).substr(1)));
  }
  if (header_.type == ShardFileType::kDense) {
    rows = params + state;
    if (params != header_.num_params || state != header_.num_state) {
      return absl::DataLossError(absl::StrFormat(
          "%s: %d parameters and %d state floats, header says %d and %d", path_,
          params, state, header_.num_params, header_.num_state));
    }
  }
  if (rows != footer_rows_ || deleted != footer_deleted_) {
    return absl::DataLossError(absl::StrFormat(
        "%s: blocks hold %d rows and %d deleted keys, footer says %d and %d",
        path_, rows, deleted, footer_rows_, footer_deleted_));
  }
  return absl::OkStatus();
}

}  // namespace freshet
