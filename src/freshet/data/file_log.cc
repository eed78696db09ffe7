#include "freshet/data/file_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  const int e = errno;
  const std::string msg = Cat(what, " '", path, "': ", strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  return absl::InternalError(msg);
}

}  // namespace

FileLogSource::FileLogSource(std::string path, bool is_dir,
                             const FileLogOptions& options)
    : path_(std::move(path)), is_dir_(is_dir), options_(options) {}

FileLogSource::~FileLogSource() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::unique_ptr<FileLogSource>> FileLogSource::Open(
    const std::string& path, const FileLogOptions& options) {
  if (options.max_record_bytes <= 0 || options.block_bytes == 0) {
    return absl::InvalidArgumentError(
        "file log: max_record_bytes and block_bytes must be > 0");
  }
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return absl::NotFoundError(
        Cat("file log '", path, "': no such file or folder"));
  }
  const bool is_dir = fs::is_directory(st);
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
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(path_, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    names.push_back(name);
  }
  if (ec) {
    return absl::InternalError(
        Cat("file log '", path_, "': cannot list: ", ec.message()));
  }
  std::sort(names.begin(), names.end());
  if (fd_ >= 0 && !segments_.empty()) {
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
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  const std::string file =
      is_dir_ ? (fs::path(path_) / segments_[index]).string() : path_;
  fd_ = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return ErrnoError("cannot open", file);
  if (offset > 0 && lseek(fd_, offset, SEEK_SET) < 0) {
    return ErrnoError("cannot seek in", file);
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
  while (true) {
    const ssize_t n = read(fd_, buf_.get() + end_, capacity_ - end_);
    if (n >= 0) {
      end_ += static_cast<size_t>(n);
      return static_cast<size_t>(n);
    }
    if (errno != EINTR) return ErrnoError("cannot read", path_);
  }
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
    if (fd_ < 0) {
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

    if (fd_ >= 0) {
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
  struct stat st;
  if (stat(file.c_str(), &st) != 0) return ErrnoError("cannot stat", file);
  if (position.offset < 0 || position.offset > st.st_size) {
    return absl::OutOfRangeError(
        Cat("file log '", path_, "': offset ", position.offset,
            " is past the end of segment '", segments_[index], "' (",
            st.st_size, " bytes)"));
  }
  RETURN_IF_ERROR(OpenSegment(index, position.offset));
  at_end_ = false;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileLogSink>> FileLogSink::Open(
    const std::string& path, bool fsync_on_flush) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) {
      return absl::InternalError(
          Cat("cannot create folder '", parent.string(), "': ", ec.message()));
    }
  }
  FILE* f = std::fopen(path.c_str(), "ab");
  if (f == nullptr) return ErrnoError("cannot open for appending", path);
  return std::unique_ptr<FileLogSink>(new FileLogSink(path, f, fsync_on_flush));
}

FileLogSink::~FileLogSink() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status FileLogSink::Append(std::string_view record) {
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fputc('\n', file_) == EOF) {
    return ErrnoError("cannot write", path_);
  }
  return absl::OkStatus();
}

absl::Status FileLogSink::Flush() {
  if (std::fflush(file_) != 0) return ErrnoError("cannot flush", path_);
  if (fsync_ && fsync(fileno(file_)) != 0) {
    return ErrnoError("cannot fsync", path_);
  }
  return absl::OkStatus();
}

}  // namespace freshet
