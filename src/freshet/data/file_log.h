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
// Rotations (follow mode; docs/data_formats.md has the full semantics). The
// source tells a file by its identity (device and inode) and by the last
// bytes it read before its read offset, and checks at the end of the data
// and after every read:
//   - renamed or replaced by another file (a new identity at the path), or
//     removed: the open file is read to its end, then the new file is read
//     from offset 0 (a single file that is gone is waited for). A file of a
//     followed folder that turns up under another name is not read again;
//   - truncated below the read offset (copytruncate), or rewritten in place
//     (the bytes before the offset changed, whatever the new length): read
//     again from offset 0. What the source had seen but not read is lost;
//   - a new segment that sorts before the active one (late): read at once,
//     then the active one goes on where it was.
// Each is logged (FRESHET_LOG_WARN, with the file and what happened) and
// counted (rotation_counters()). Without follow mode files are not watched.
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

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
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
  // the segment does not exist, OutOfRange when the offset is past its end;
  // in follow mode both are rotations instead (see above): a folder goes on
  // after the missing segment, a short segment is read from its start.
  absl::Status Seek(const StreamPosition& position) override;
  RotationCounters rotation_counters() const override { return rotation_; }
  // Follow mode: listings of the folder that failed (and were retried at
  // the next poll instead of ending the stream).
  int64_t list_failures() const { return list_failures_; }

 private:
  // The (device, inode) of a file.
  using FileId = std::pair<uint64_t, uint64_t>;
  static FileId IdOf(const FileInfo& info) { return {info.device, info.inode}; }

  // The active segment, set aside while a late segment is read.
  struct SetAside {
    std::string name;
    std::unique_ptr<SequentialFile> file;
    FileInfo info;
    int64_t offset = 0;
    int64_t read_pos = 0;
    std::string tail;
    std::string bytes;  // its unconsumed buffer (a partial line at most)
    bool skipping = false;
    std::string long_prefix;
    int64_t long_start = 0;
  };

  FileLogSource(std::string path, bool is_dir, const FileLogOptions& options);

  // The file of segment `name`.
  std::string SegmentPath(const std::string& name) const;
  // Lists the folder's segments into segments_; in follow mode also tells
  // new segments that sort before the active one (late) and files read
  // before under a new name (renamed), and forgets what is gone.
  absl::Status ListSegments();
  // The segment to read after the open one: the first late one, else the
  // first after the active one in name order; empty when there is none.
  std::string NextSegmentName() const;
  // Opens segment `name` at `offset`.
  absl::Status OpenSegment(const std::string& name, int64_t offset);
  // Makes `name` at `offset` the read position, with nothing buffered.
  void AtSegment(const std::string& name, int64_t offset);
  // Reads more bytes into the buffer. Returns whether there is more to look
  // at: bytes were read, or (follow mode) the file was rewritten under the
  // source and is read again from its start.
  absl::StatusOr<bool> Fill();
  // Follow mode: whether the bytes before read_pos_ are still those read.
  absl::StatusOr<bool> TailUnchanged();
  // Follow mode: the open file shrank below read_pos_ or changed before it;
  // logs and counts what is lost and reads it again from offset 0.
  absl::StatusOr<bool> Restart();
  // Called at the end of the open segment's data: follow mode checks for
  // rotations, then the source moves to the next segment (or a late one, or
  // back from one) if there is one. Returns true if it changed anything.
  absl::StatusOr<bool> EndOfData(RecordBatch* batch, std::vector<size_t>* ends);
  // Follow mode, at the end of the open file's data: handles the file
  // truncated, rewritten, renamed, replaced or removed. Returns true if it
  // did.
  absl::StatusOr<bool> CheckOpenFile(RecordBatch* batch,
                                     std::vector<size_t>* ends);
  // No file is open (an empty folder, a removed file): opens the next one
  // when it exists. Returns true if it did.
  absl::StatusOr<bool> OpenNext();
  // Leaves the open segment, whose data is all read, for `next` (may be
  // empty): back to the set-aside active segment after a late one, or on in
  // name order. Returns true if it moved.
  absl::StatusOr<bool> MoveOn(const std::string& next, RecordBatch* batch,
                              std::vector<size_t>* ends);
  void SetAsideActive();
  void ResumeActive();
  // Appends one record covering [start, start+len) of the buffer (or the
  // pending long line) to the batch.
  void Emit(RecordBatch* batch, std::vector<size_t>* ends, const char* data,
            size_t len, int64_t start_offset);
  // Emits what is left of the open segment as its final record.
  void FlushPartial(RecordBatch* batch, std::vector<size_t>* ends);

  const std::string path_;
  const bool is_dir_;
  const FileLogOptions options_;

  FileSystem* const fs_;
  std::vector<std::string> segments_;  // file names (folder) or base name
  // Follow mode: segments that appeared sorting before the active one, not
  // read yet, and segments that are files read already under a new name.
  // Every other segment up to the active one was read.
  std::set<std::string> late_;
  std::set<std::string> renamed_;
  // Follow mode: the identity of each listed segment when first listed, and
  // the segment name of each file read or being read.
  std::map<std::string, FileInfo> known_;
  std::map<FileId, std::string> read_ids_;
  std::optional<SetAside> set_aside_;

  std::string current_;  // the open segment's name ("" before the first)
  std::unique_ptr<SequentialFile> file_;  // the open segment; may be null
  FileInfo file_info_;  // its identity; its size when last looked at

  // Unconsumed bytes are buf_[begin_, end_); buf_[begin_] is at file offset
  // offset_ of the current segment and buf_[end_] at read_pos_.
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  int64_t offset_ = 0;
  int64_t read_pos_ = 0;
  // Follow mode: the last bytes before read_pos_, to tell a file rewritten
  // in place.
  std::string tail_;

  // A line longer than max_record_bytes: its kept prefix, its start, and
  // whether we are still skipping to its newline.
  bool skipping_ = false;
  std::string long_prefix_;
  int64_t long_start_ = 0;

  bool at_end_ = false;
  int64_t list_failures_ = 0;
  std::chrono::steady_clock::time_point last_list_warning_{};
  RotationCounters rotation_;
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
