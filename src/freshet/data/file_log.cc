#include "freshet/data/file_log.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/text_scan.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// A sink's records are written in pieces of about this size.
constexpr size_t kSinkBufferBytes = 64 << 10;

// Follow mode compares this many bytes before the read position with what
// was read there, to tell a file rewritten in place.
constexpr size_t kTailBytes = 256;

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
  if (!source->segments_.empty()) {
    RETURN_IF_ERROR(source->OpenSegment(source->segments_.front(), 0));
  }
  return source;
}

std::string FileLogSource::SegmentPath(const std::string& name) const {
  return is_dir_ ? (fs::path(path_) / name).string() : path_;
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
  if (options_.follow) {
    // Only names not listed before are looked at, so a listing costs one
    // stat per new file.
    const std::string active = set_aside_ ? set_aside_->name : current_;
    std::map<std::string, FileInfo> known;
    for (const std::string& name : names) {
      auto it = known_.find(name);
      if (it != known_.end()) {
        known.insert(*it);
        continue;
      }
      absl::StatusOr<FileInfo> info = fs_->Stat(SegmentPath(name));
      if (!info.ok()) continue;  // gone again; the next listing tells
      known.emplace(name, *info);
      auto read = read_ids_.find(IdOf(*info));
      if (read != read_ids_.end() && read->second != name) {
        FRESHET_LOG_INFO(
            "file log '{}': '{}' is '{}' renamed, which is read already; not "
            "reading it again",
            path_, name, read->second);
        renamed_.insert(name);
      } else if (name < active) {
        late_.insert(name);
      }
    }
    known_ = std::move(known);
    // Forget files no longer listed, except the open ones.
    std::set<FileId> listed;
    for (const auto& [name, info] : known_) listed.insert(IdOf(info));
    if (file_ != nullptr) listed.insert(IdOf(file_info_));
    if (set_aside_) listed.insert(IdOf(set_aside_->info));
    std::erase_if(read_ids_, [&](const auto& entry) {
      return !listed.contains(entry.first);
    });
  }
  auto unlisted = [&](const std::string& name) {
    return !std::binary_search(names.begin(), names.end(), name);
  };
  std::erase_if(renamed_, unlisted);
  std::erase_if(late_, unlisted);
  segments_ = std::move(names);
  return absl::OkStatus();
}

std::string FileLogSource::NextSegmentName() const {
  if (!late_.empty()) return *late_.begin();
  // Everything up to the active segment was read.
  const std::string& active = set_aside_ ? set_aside_->name : current_;
  for (auto it = std::upper_bound(segments_.begin(), segments_.end(), active);
       it != segments_.end(); ++it) {
    if (!renamed_.contains(*it)) return *it;
  }
  return "";
}

absl::Status FileLogSource::OpenSegment(const std::string& name,
                                        int64_t offset) {
  file_.reset();
  const std::string file = SegmentPath(name);
  absl::StatusOr<std::unique_ptr<SequentialFile>> opened =
      fs_->NewSequentialFile(file);
  if (!opened.ok() && options_.follow && absl::IsNotFound(opened.status())) {
    // Removed between the listing and now: nothing of it can be read.
    FRESHET_LOG_WARN("file log '{}': '{}' was removed before it could be read",
                     path_, name);
    ++rotation_.rotations;
    ++rotation_.gaps;
    AtSegment(name, offset);
    return absl::OkStatus();
  }
  if (!opened.ok()) return FileError(opened.status(), "cannot open", file);
  tail_.clear();
  if (options_.follow) {
    absl::StatusOr<FileInfo> info = (*opened)->Stat();
    if (!info.ok()) return FileError(info.status(), "cannot stat", file);
    file_info_ = *info;
    if (is_dir_) {
      read_ids_[IdOf(*info)] = name;
      known_[name] = *info;
    }
    if (offset > 0) {
      // What was there before the offset: a rewrite changes it.
      char tail[kTailBytes];
      const int64_t n = std::min<int64_t>(offset, kTailBytes);
      absl::StatusOr<size_t> got =
          (*opened)->ReadAt(static_cast<uint64_t>(offset - n), tail, n);
      if (!got.ok()) return FileError(got.status(), "cannot read", file);
      tail_.assign(tail, *got);
    }
  }
  if (offset > 0) {
    absl::Status s = (*opened)->Skip(static_cast<uint64_t>(offset));
    if (!s.ok()) return FileError(s, "cannot seek in", file);
  }
  file_ = *std::move(opened);
  AtSegment(name, offset);
  return absl::OkStatus();
}

void FileLogSource::AtSegment(const std::string& name, int64_t offset) {
  current_ = name;
  late_.erase(name);
  offset_ = read_pos_ = offset;
  begin_ = end_ = 0;
  skipping_ = false;
  long_prefix_.clear();
}

absl::StatusOr<bool> FileLogSource::Fill() {
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  absl::StatusOr<size_t> n = file_->Read(buf_.get() + end_, capacity_ - end_);
  if (!n.ok()) {
    return FileError(n.status(), "cannot read", SegmentPath(current_));
  }
  if (*n == 0) return false;
  if (options_.follow) {
    // Checked after the read: bytes read from a file rewritten before or
    // during it are never handed out.
    ASSIGN_OR_RETURN(bool unchanged, TailUnchanged());
    if (!unchanged) return Restart();
    const char* got = buf_.get() + end_;
    if (*n >= kTailBytes) {
      tail_.assign(got + *n - kTailBytes, kTailBytes);
    } else {
      tail_.append(got, *n);
      if (tail_.size() > kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
    }
  }
  end_ += *n;
  read_pos_ += static_cast<int64_t>(*n);
  return true;
}

absl::StatusOr<bool> FileLogSource::TailUnchanged() {
  if (tail_.empty()) return true;
  char now[kTailBytes];
  absl::StatusOr<size_t> got = file_->ReadAt(
      static_cast<uint64_t>(read_pos_) - tail_.size(), now, tail_.size());
  if (!got.ok()) {
    return FileError(got.status(), "cannot read", SegmentPath(current_));
  }
  return *got == tail_.size() && std::memcmp(now, tail_.data(), *got) == 0;
}

absl::StatusOr<bool> FileLogSource::Restart() {
  absl::StatusOr<FileInfo> now = file_->Stat();
  const std::string file = SegmentPath(current_);
  if (!now.ok()) return FileError(now.status(), "cannot stat", file);
  // Bytes seen and not handed out: the held-back partial line, and what the
  // file had beyond the read position when last looked at.
  const int64_t held = read_pos_ - Position().offset;
  const int64_t beyond =
      std::max<int64_t>(0, static_cast<int64_t>(file_info_.size) - read_pos_);
  const int64_t lost = held + beyond;
  const std::string what =
      static_cast<int64_t>(now->size) < read_pos_
          ? Cat("was truncated to ", now->size,
                " bytes, below the read offset ", read_pos_, " (copytruncate?)")
          : Cat("was rewritten in place (its bytes before the read offset ",
                read_pos_, " changed)");
  FRESHET_LOG_WARN(
      "file log '{}': '{}' {}; reading it again from the start; {} bytes seen "
      "before the change were not read",
      path_, current_, what, lost);
  ++rotation_.rotations;
  ++rotation_.gaps;
  rotation_.lost_bytes += lost;
  RETURN_IF_ERROR(OpenSegment(current_, 0));
  return true;
}

absl::StatusOr<bool> FileLogSource::CheckOpenFile(RecordBatch* batch,
                                                  std::vector<size_t>* ends) {
  const std::string file = SegmentPath(current_);
  absl::StatusOr<FileInfo> open = file_->Stat();
  if (!open.ok()) return FileError(open.status(), "cannot stat", file);
  if (static_cast<int64_t>(open->size) < read_pos_) return Restart();
  ASSIGN_OR_RETURN(bool unchanged, TailUnchanged());
  if (!unchanged) return Restart();
  file_info_.size = open->size;
  absl::StatusOr<FileInfo> at_path = fs_->Stat(file);
  if (at_path.ok() && at_path->SameFile(file_info_)) return false;
  if (!at_path.ok() && !absl::IsNotFound(at_path.status())) {
    return FileError(at_path.status(), "cannot stat", file);
  }
  // The path names another file now, or none: the writer has moved on and
  // the open file holds all it will get. Read what is left of it first.
  ASSIGN_OR_RETURN(bool more, Fill());
  if (more) return true;
  const bool gone = !at_path.ok();
  FRESHET_LOG_WARN(
      "file log '{}': '{}' {}; read it to its end ({} bytes) through the open "
      "file; {}",
      path_, current_,
      gone ? "was removed or renamed away"
           : "was renamed or replaced by another file",
      read_pos_,
      gone ? (is_dir_ ? "going on with the next segment"
                      : "waiting for the file to appear again")
           : "reading the new file from the start");
  ++rotation_.rotations;
  FlushPartial(batch, ends);  // complete: the writer has moved on
  if (!gone) {
    RETURN_IF_ERROR(OpenSegment(current_, 0));
    return true;
  }
  file_.reset();
  if (is_dir_) {
    RETURN_IF_ERROR(ListSegments());
    RETURN_IF_ERROR(MoveOn(NextSegmentName(), batch, ends).status());
  }
  return true;
}

absl::StatusOr<bool> FileLogSource::OpenNext() {
  if (!is_dir_) {
    // A followed file that was removed: read it again once it is back.
    if (!fs_->Exists(path_)) return false;
    FRESHET_LOG_WARN(
        "file log '{}': the file is back; reading it from the start", path_);
    RETURN_IF_ERROR(OpenSegment(current_, 0));
    return true;
  }
  RETURN_IF_ERROR(ListSegments());
  return MoveOn(NextSegmentName(), nullptr, nullptr);
}

absl::StatusOr<bool> FileLogSource::MoveOn(const std::string& next,
                                           RecordBatch* batch,
                                           std::vector<size_t>* ends) {
  // The segment the writer writes: the set-aside one while a late one is
  // read.
  const std::string active = set_aside_ ? set_aside_->name : current_;
  const bool late = !next.empty() && !active.empty() && next < active;
  if (late && !set_aside_) {
    // Read the late segment now and come back to the active one, which the
    // writer may still be writing, afterwards; its file stays open (a
    // removed one stays where it was).
    FRESHET_LOG_WARN(
        "file log '{}': segment '{}' appeared after '{}' although it sorts "
        "before it; reading it now, then going on with '{}' at offset {}",
        path_, next, active, active, Position().offset);
    ++rotation_.rotations;
    SetAsideActive();
    RETURN_IF_ERROR(OpenSegment(next, 0));
    return true;
  }
  if (next.empty() && !set_aside_) return false;
  // The open segment is done.
  if (file_ != nullptr) {
    FlushPartial(batch, ends);
    file_.reset();
  }
  if (set_aside_ && !late) {
    ResumeActive();
    return true;
  }
  if (late) {
    FRESHET_LOG_WARN(
        "file log '{}': segment '{}' appeared after '{}' although it sorts "
        "before it; reading it now",
        path_, next, active);
    ++rotation_.rotations;
  }
  RETURN_IF_ERROR(OpenSegment(next, 0));
  return true;
}

void FileLogSource::SetAsideActive() {
  SetAside a;
  a.name = current_;
  a.file = std::move(file_);
  a.info = file_info_;
  a.offset = offset_;
  a.read_pos = read_pos_;
  a.tail = std::move(tail_);
  a.bytes.assign(buf_.get() + begin_, end_ - begin_);
  a.skipping = skipping_;
  a.long_prefix = std::move(long_prefix_);
  a.long_start = long_start_;
  set_aside_ = std::move(a);
}

void FileLogSource::ResumeActive() {
  SetAside& a = *set_aside_;
  current_ = a.name;
  file_ = std::move(a.file);
  file_info_ = a.info;
  offset_ = a.offset;
  read_pos_ = a.read_pos;
  tail_ = std::move(a.tail);
  std::memcpy(buf_.get(), a.bytes.data(), a.bytes.size());
  begin_ = 0;
  end_ = a.bytes.size();
  skipping_ = a.skipping;
  long_prefix_ = std::move(a.long_prefix);
  long_start_ = a.long_start;
  set_aside_.reset();
}

void FileLogSource::Emit(RecordBatch* batch, std::vector<size_t>* ends,
                         const char* data, size_t len, int64_t start_offset) {
  if (len > 0 && data[len - 1] == '\r') --len;
  batch->storage.append(data, len);
  ends->push_back(batch->storage.size());
  RecordBatch::Record r;
  r.position.segment = current_;
  r.position.offset = start_offset;
  batch->records.push_back(std::move(r));
}

void FileLogSource::FlushPartial(RecordBatch* batch,
                                 std::vector<size_t>* ends) {
  if (skipping_) {
    Emit(batch, ends, long_prefix_.data(), long_prefix_.size(), long_start_);
    skipping_ = false;
    long_prefix_.clear();
  } else if (begin_ < end_) {
    const size_t len = end_ - begin_;
    Emit(batch, ends, buf_.get() + begin_,
         std::min(len, static_cast<size_t>(options_.max_record_bytes) + 1),
         offset_);
    offset_ += static_cast<int64_t>(len);
    begin_ = end_;
  }
}

absl::StatusOr<bool> FileLogSource::EndOfData(RecordBatch* batch,
                                              std::vector<size_t>* ends) {
  if (options_.follow) {
    ASSIGN_OR_RETURN(bool changed, CheckOpenFile(batch, ends));
    if (changed) return true;
  }
  if (!is_dir_) return false;
  if (options_.follow) {
    absl::Status listed = ListSegments();
    if (!listed.ok()) {
      // Out of descriptors, a folder being replaced: a followed folder is
      // listed again at the next poll, and the stream goes on meanwhile.
      ++list_failures_;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_list_warning_ > std::chrono::seconds(10)) {
        last_list_warning_ = now;
        FRESHET_LOG_WARN("{}; retrying at each poll ({} failures so far)",
                         std::string(listed.message()), list_failures_);
      }
      return false;
    }
  }
  const std::string next = NextSegmentName();
  if (next.empty() && !set_aside_) return false;
  // Catch bytes appended between the read and the listing.
  ASSIGN_OR_RETURN(bool more, Fill());
  if (more) return true;
  return MoveOn(next, batch, ends);
}

absl::Status FileLogSource::Poll(size_t max_records, int timeout_ms,
                                 RecordBatch* batch) {
  batch->Clear();
  std::vector<size_t> ends;
  ends.reserve(std::min<size_t>(max_records, 4096));
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max(timeout_ms, 0));
  const size_t max_len = static_cast<size_t>(options_.max_record_bytes);

  while (batch->records.size() < max_records && !at_end_) {
    if (file_ == nullptr) {
      // A followed folder that was empty so far, or a removed file.
      ASSIGN_OR_RETURN(bool opened, OpenNext());
      if (opened) continue;
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
      ASSIGN_OR_RETURN(bool more, Fill());
      if (more) continue;
      // End of the open segment's data so far.
      ASSIGN_OR_RETURN(bool changed, EndOfData(batch, &ends));
      if (changed) continue;
      if (!options_.follow) {
        FlushPartial(batch, &ends);
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
  if (current_.empty()) return pos;
  pos.segment = current_;
  pos.offset = skipping_ ? long_start_ : offset_;
  return pos;
}

absl::Status FileLogSource::Seek(const StreamPosition& position) {
  if (is_dir_) RETURN_IF_ERROR(ListSegments());
  set_aside_.reset();
  at_end_ = false;
  if (segments_.empty() && position.segment.empty() && position.offset == 0) {
    return absl::OkStatus();
  }
  const std::string name = position.segment.empty() && !segments_.empty()
                               ? segments_.front()
                               : position.segment;
  const bool listed =
      std::binary_search(segments_.begin(), segments_.end(), name);
  // What sorts before the position was read.
  late_.clear();
  renamed_.clear();
  if (!listed) {
    if (!options_.follow || !is_dir_) {
      return absl::NotFoundError(
          Cat("file log '", path_, "': no segment '", position.segment, "'"));
    }
    FRESHET_LOG_WARN(
        "file log '{}': segment '{}' of the resumed position {} is gone "
        "(removed or renamed since); going on with the segments after it",
        path_, name, position.ToString());
    ++rotation_.rotations;
    ++rotation_.gaps;
    file_.reset();
    current_ = name;
    offset_ = read_pos_ = position.offset;
    return absl::OkStatus();
  }
  const std::string file = SegmentPath(name);
  absl::StatusOr<FileInfo> info = fs_->Stat(file);
  if (!info.ok()) return FileError(info.status(), "cannot stat", file);
  int64_t offset = position.offset;
  if (offset < 0 || static_cast<uint64_t>(offset) > info->size) {
    if (!options_.follow || offset < 0) {
      return absl::OutOfRangeError(Cat(
          "file log '", path_, "': offset ", position.offset,
          " is past the end of segment '", name, "' (", info->size, " bytes)"));
    }
    FRESHET_LOG_WARN(
        "file log '{}': segment '{}' has {} bytes, fewer than the resumed "
        "offset {} (truncated or replaced since); reading it from the start",
        path_, name, info->size, offset);
    ++rotation_.rotations;
    ++rotation_.gaps;
    offset = 0;
  }
  return OpenSegment(name, offset);
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
