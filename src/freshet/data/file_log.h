// FileLogSource and FileLogSink: the append-only file log.
//
// A file log is either one file or a folder of segment files. A folder's
// segments are its regular files whose names do not start with '.', read in
// name order (so names should sort in write order, e.g. zero-padded numbers);
// at the end of one segment the source moves to the next. A record is one
// line; its newline is not part of it and a trailing '\r' is dropped.
//
// Positions are {segment file name, byte offset of the next record in it};
// for a single-file log the segment is the file's base name.
//
// Follow mode: at the end of the data the source waits up to Poll()'s
// timeout for more, picking up lines appended to the last segment and new
// segments created in the folder. A last line without its newline is held
// back until the newline arrives, or, in a folder, until a later segment
// appears (the writer has moved on, so the line is complete). Without follow
// mode such a line is returned at the end of the stream.
//
// A line longer than max_record_bytes is not buffered whole: the source
// returns its first max_record_bytes + 1 bytes (so that a parser with the same
// limit rejects it as too long) and skips the rest, keeping memory bounded.
//
// Data is read in large blocks (block_bytes) through the FileSystem
// (FileLogOptions::file_system); records are cut with memchr, so there is no
// system call per line.
//
// Not thread-safe: one thread drives a source or a sink.
#ifndef FRESHET_DATA_FILE_LOG_H_
#define FRESHET_DATA_FILE_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/file_system.h"
#include "freshet/data/source.h"

namespace freshet {

struct FileLogOptions {
  bool follow = false;
  int64_t max_record_bytes = 1 << 20;
  size_t block_bytes = 1 << 20;
  // Follow mode: how long to sleep between checks for new data.
  int poll_interval_ms = 5;
  FileSystem* file_system = nullptr;  // null: FileSystem::Default()
};

class FileLogSource final : public Source {
 public:
  // Opens a file or a folder (which may be empty in follow mode). Fails when
  // `path` does not exist or, without follow, a folder has no segments.
  static absl::StatusOr<std::unique_ptr<FileLogSource>> Open(
      const std::string& path, const FileLogOptions& options = {});
  ~FileLogSource() override;

  FileLogSource(const FileLogSource&) = delete;
  FileLogSource& operator=(const FileLogSource&) = delete;

  absl::Status Poll(size_t max_records, int timeout_ms,
                    RecordBatch* batch) override;
  bool AtEnd() const override { return at_end_; }
  StreamPosition Position() const override;
  // An empty segment name means the first segment. Fails with NotFound when
  // the segment does not exist, OutOfRange when the offset is past its end.
  absl::Status Seek(const StreamPosition& position) override;

 private:
  FileLogSource(std::string path, bool is_dir, const FileLogOptions& options);

  // Lists the folder's segments into segments_.
  absl::Status ListSegments();
  // Opens segments_[index] at `offset`.
  absl::Status OpenSegment(size_t index, int64_t offset);
  // Reads more bytes into the buffer. Returns the number read (0 at EOF).
  absl::StatusOr<size_t> Fill();
  // Called at the end of the current segment's data: moves to the next
  // segment if one exists. Returns true if it moved.
  absl::StatusOr<bool> NextSegment();
  // Appends one record covering [start, start+len) of the buffer (or the
  // pending long line) to the batch.
  void Emit(RecordBatch* batch, std::vector<size_t>* ends, const char* data,
            size_t len, int64_t start_offset);

  const std::string path_;
  const bool is_dir_;
  const FileLogOptions options_;

  FileSystem* const fs_;
  std::vector<std::string> segments_;  // file names (folder) or base name
  size_t segment_index_ = 0;
  std::unique_ptr<SequentialFile> file_;  // the open segment

  // Unconsumed bytes are buf_[begin_, end_); buf_[begin_] is at file offset
  // offset_ of the current segment.
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  int64_t offset_ = 0;

  // A line longer than max_record_bytes: its kept prefix, its start, and
  // whether we are still skipping to its newline.
  bool skipping_ = false;
  std::string long_prefix_;
  int64_t long_start_ = 0;

  bool at_end_ = false;
};

class FileLogSink final : public Sink {
 public:
  // Opens `path` for appending on `fs` (null: FileSystem::Default()),
  // creating it and its parent folders. Records are buffered and written by
  // Flush() (or when the buffer fills); with `fsync_on_flush`, Flush() also
  // fsyncs the file.
  static absl::StatusOr<std::unique_ptr<FileLogSink>> Open(
      const std::string& path, bool fsync_on_flush = false,
      FileSystem* fs = nullptr);
  ~FileLogSink() override;

  FileLogSink(const FileLogSink&) = delete;
  FileLogSink& operator=(const FileLogSink&) = delete;

  absl::Status Append(std::string_view record) override;
  absl::Status Flush() override;

 private:
  FileLogSink(std::string path, std::unique_ptr<WritableFile> file,
              bool fsync_on_flush)
      : path_(std::move(path)),
        file_(std::move(file)),
        fsync_(fsync_on_flush) {}

  // Writes out the buffer; `what` names the operation in an error.
  absl::Status WriteBuffer(std::string_view what);

  const std::string path_;
  std::unique_ptr<WritableFile> file_;
  const bool fsync_;
  std::string buffer_;  // records not written yet
};

}  // namespace freshet

#endif  // FRESHET_DATA_FILE_LOG_H_
