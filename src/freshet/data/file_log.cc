#include "freshet/data/file_log.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/text_scan.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// A sink's records are written in pieces of about this size.
constexpr size_t kSinkBufferBytes = 64 << 10;

// "WHAT 'PATH': reason", with the code of the file system's error.
absl::Status FileError(const absl::Status& s, std::string_view what,
                       const std::string& path) {
  return absl::Status(s.code(), Cat(what, " '", path, "': ", s.message()));
}

}  // namespace

FileLogSource::FileLogSource(std::string path, bool is_dir,
                             const FileLogOptions& options)
    : path_(std::move(path)),
      is_dir_(is_dir),
      options_(options),
      fs_(FileSystem::OrDefault(options.file_system)) {}

FileLogSource::~FileLogSource() = default;

absl::StatusOr<std::unique_ptr<FileLogSource>> FileLogSource::Open(
    const std::string& path, const FileLogOptions& options) {
  if (options.max_record_bytes <= 0 || options.block_bytes == 0) {
    return absl::InvalidArgumentError(
        "file log: max_record_bytes and block_bytes must be > 0");
  }
  absl::StatusOr<FileInfo> info =
      FileSystem::OrDefault(options.file_system)->Stat(path);
  if (!info.ok()) {
    return absl::NotFoundError(
        Cat("file log '", path, "': no such file or folder"));
  }
  const bool is_dir = info->type == FileType::kDirectory;
  std::unique_ptr<FileLogSource> source(
      new FileLogSource(path, is_dir, options));
  source->capacity_ =
      std::max<size_t>(options.block_bytes,
                       static_cast<size_t>(options.max_record_bytes) + 1) +
      options.block_bytes;
  source->buf_.reset(new char[source->capacity_]);
  if (is_dir) {
    RETURN_IF_ERROR(source->ListSegments());
    if (source->segments_.empty() && !options.follow) {
      return absl::NotFoundError(
          Cat("file log '", path, "': folder has no segment files"));
    }
  } else {
    source->segments_.push_back(fs::path(path).filename().string());
  }
  if (!source->segments_.empty()) RETURN_IF_ERROR(source->OpenSegment(0, 0));
  return source;
}

absl::Status FileLogSource::ListSegments() {
  absl::StatusOr<std::vector<DirEntry>> entries = fs_->ListDir(path_);
  if (!entries.ok()) {
    return absl::InternalError(Cat(
        "file log '", path_, "': cannot list: ", entries.status().message()));
  }
  std::vector<std::string> names;
  for (DirEntry& e : *entries) {
    if (e.name.empty() || e.name[0] == '.') continue;
    if (e.type != FileType::kRegular) continue;
    names.push_back(std::move(e.name));
  }
  std::sort(names.begin(), names.end());
  if (file_ != nullptr && !segments_.empty()) {
    // Keep pointing at the open segment, even if it was removed meanwhile.
    const std::string& current = segments_[segment_index_];
    auto it = std::lower_bound(names.begin(), names.end(), current);
    if (it == names.end() || *it != current) it = names.insert(it, current);
    segment_index_ = static_cast<size_t>(it - names.begin());
  }
  segments_ = std::move(names);
  return absl::OkStatus();
}

absl::Status FileLogSource::OpenSegment(size_t index, int64_t offset) {
  file_.reset();
  const std::string file =
      is_dir_ ? (fs::path(path_) / segments_[index]).string() : path_;
  absl::StatusOr<std::unique_ptr<SequentialFile>> opened =
      fs_->NewSequentialFile(file);
  if (!opened.ok()) return FileError(opened.status(), "cannot open", file);
  file_ = *std::move(opened);
  if (offset > 0) {
    absl::Status s = file_->Skip(static_cast<uint64_t>(offset));
    if (!s.ok()) return FileError(s, "cannot seek in", file);
  }
  segment_index_ = index;
  offset_ = offset;
  begin_ = end_ = 0;
  skipping_ = false;
  long_prefix_.clear();
  return absl::OkStatus();
}

absl::StatusOr<size_t> FileLogSource::Fill() {
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  absl::StatusOr<size_t> n = file_->Read(buf_.get() + end_, capacity_ - end_);
  if (!n.ok()) return FileError(n.status(), "cannot read", path_);
  end_ += *n;
  return *n;
}

void FileLogSource::Emit(RecordBatch* batch, std::vector<size_t>* ends,
                         const char* data, size_t len, int64_t start_offset) {
  if (len > 0 && data[len - 1] == '\r') --len;
  batch->storage.append(data, len);
  ends->push_back(batch->storage.size());
  RecordBatch::Record r;
  r.position.segment = segments_[segment_index_];
  r.position.offset = start_offset;
  batch->records.push_back(std::move(r));
}

absl::StatusOr<bool> FileLogSource::NextSegment() {
  if (!is_dir_) return false;
  if (options_.follow) RETURN_IF_ERROR(ListSegments());
  return segment_index_ + 1 < segments_.size();
}

absl::Status FileLogSource::Poll(size_t max_records, int timeout_ms,
                                 RecordBatch* batch) {
  batch->Clear();
  std::vector<size_t> ends;
  ends.reserve(std::min<size_t>(max_records, 4096));
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max(timeout_ms, 0));
  const size_t max_len = static_cast<size_t>(options_.max_record_bytes);

  // Emits what is left of the current segment as its final record.
  auto flush_partial = [&] {
    if (skipping_) {
      Emit(batch, &ends, long_prefix_.data(), long_prefix_.size(), long_start_);
      skipping_ = false;
      long_prefix_.clear();
    } else if (begin_ < end_) {
      const size_t len = end_ - begin_;
      Emit(batch, &ends, buf_.get() + begin_, std::min(len, max_len + 1),
           offset_);
      offset_ += static_cast<int64_t>(len);
      begin_ = end_;
    }
  };

  while (batch->records.size() < max_records && !at_end_) {
    if (file_ == nullptr) {
      // A followed folder that was empty so far.
      RETURN_IF_ERROR(ListSegments());
      if (!segments_.empty()) {
        RETURN_IF_ERROR(OpenSegment(0, 0));
        continue;
      }
    } else if (skipping_) {
      const char* start = buf_.get() + begin_;
      const char* nl =
          static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
      if (nl != nullptr) {
        const size_t used = static_cast<size_t>(nl - start) + 1;
        begin_ += used;
        offset_ += static_cast<int64_t>(used);
        skipping_ = false;
        Emit(batch, &ends, long_prefix_.data(), long_prefix_.size(),
             long_start_);
        long_prefix_.clear();
        continue;
      }
      offset_ += static_cast<int64_t>(end_ - begin_);
      begin_ = end_ = 0;
    } else if (begin_ < end_) {
      const char* start = buf_.get() + begin_;
      const char* nl =
          static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
      if (nl != nullptr) {
        const size_t len = static_cast<size_t>(nl - start);
        Emit(batch, &ends, start, len, offset_);
        begin_ += len + 1;
        offset_ += static_cast<int64_t>(len + 1);
        continue;
      }
      if (end_ - begin_ > max_len) {
        long_prefix_.assign(start, max_len + 1);
        long_start_ = offset_;
        skipping_ = true;
        offset_ += static_cast<int64_t>(end_ - begin_);
        begin_ = end_ = 0;
        continue;
      }
    }

    if (file_ != nullptr) {
      ASSIGN_OR_RETURN(size_t n, Fill());
      if (n > 0) continue;
      // End of the current segment's data so far.
      ASSIGN_OR_RETURN(bool has_next, NextSegment());
      if (has_next) {
        // Catch bytes appended between the read and the listing.
        ASSIGN_OR_RETURN(n, Fill());
        if (n > 0) continue;
        flush_partial();
        RETURN_IF_ERROR(OpenSegment(segment_index_ + 1, 0));
        continue;
      }
      if (!options_.follow) {
        flush_partial();
        at_end_ = true;
        break;
      }
    }
    // Follow mode: wait for more data unless we have something to return.
    if (!batch->records.empty()) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    const auto wait = std::min<std::chrono::steady_clock::duration>(
        deadline - now, std::chrono::milliseconds(options_.poll_interval_ms));
    std::this_thread::sleep_for(wait);
  }

  size_t start = 0;
  for (size_t i = 0; i < batch->records.size(); ++i) {
    batch->records[i].data =
        std::string_view(batch->storage.data() + start, ends[i] - start);
    start = ends[i];
  }
  batch->end = Position();
  return absl::OkStatus();
}

StreamPosition FileLogSource::Position() const {
  StreamPosition pos;
  if (segments_.empty()) return pos;
  pos.segment = segments_[segment_index_];
  pos.offset = skipping_ ? long_start_ : offset_;
  return pos;
}

absl::Status FileLogSource::Seek(const StreamPosition& position) {
  if (is_dir_) RETURN_IF_ERROR(ListSegments());
  if (segments_.empty()) {
    if (position.segment.empty() && position.offset == 0)
      return absl::OkStatus();
    return absl::NotFoundError(
        Cat("file log '", path_, "': no segment '", position.segment, "'"));
  }
  size_t index = 0;
  if (!position.segment.empty()) {
    auto it = std::find(segments_.begin(), segments_.end(), position.segment);
    if (it == segments_.end()) {
      return absl::NotFoundError(
          Cat("file log '", path_, "': no segment '", position.segment, "'"));
    }
    index = static_cast<size_t>(it - segments_.begin());
  }
  const std::string file =
      is_dir_ ? (fs::path(path_) / segments_[index]).string() : path_;
  absl::StatusOr<FileInfo> info = fs_->Stat(file);
  if (!info.ok()) return FileError(info.status(), "cannot stat", file);
  if (position.offset < 0 ||
      static_cast<uint64_t>(position.offset) > info->size) {
    return absl::OutOfRangeError(
        Cat("file log '", path_, "': offset ", position.offset,
            " is past the end of segment '", segments_[index], "' (",
            info->size, " bytes)"));
  }
  RETURN_IF_ERROR(OpenSegment(index, position.offset));
  at_end_ = false;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileLogSink>> FileLogSink::Open(
    const std::string& path, bool fsync_on_flush, FileSystem* fs) {
  FileSystem* fsys = FileSystem::OrDefault(fs);
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    absl::Status s = fsys->CreateDirs(parent.string());
    if (!s.ok()) {
      return absl::InternalError(
          Cat("cannot create folder '", parent.string(), "': ", s.message()));
    }
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> f =
      fsys->NewAppendableFile(path);
  if (!f.ok()) return FileError(f.status(), "cannot open for appending", path);
  return std::unique_ptr<FileLogSink>(
      new FileLogSink(path, *std::move(f), fsync_on_flush));
}

FileLogSink::~FileLogSink() {
  WriteBuffer("cannot write").IgnoreError();
  file_->Close().IgnoreError();
}

absl::Status FileLogSink::WriteBuffer(std::string_view what) {
  if (buffer_.empty()) return absl::OkStatus();
  absl::Status s = file_->Append(buffer_);
  // What failed is dropped, as a stdio buffer drops it: a later record is
  // not written behind a torn one twice.
  buffer_.clear();
  return s.ok() ? s : FileError(s, what, path_);
}

absl::Status FileLogSink::Append(std::string_view record) {
  buffer_.append(record);
  buffer_.push_back('\n');
  if (buffer_.size() < kSinkBufferBytes) return absl::OkStatus();
  return WriteBuffer("cannot write");
}

absl::Status FileLogSink::Flush() {
  RETURN_IF_ERROR(WriteBuffer("cannot flush"));
  if (fsync_) {
    absl::Status s = file_->Sync();
    if (!s.ok()) return FileError(s, "cannot fsync", path_);
  }
  return absl::OkStatus();
}

}  // namespace freshet
