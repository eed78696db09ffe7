// FileSystem: the files Freshet writes and reads behind one seam, so that
// tests can break them in process (LevelDB's Env plays this part).
//
// It covers what the checkpoint code, the file log and the dead-letter sink
// use: files opened for writing (truncated) or appending, read sequentially
// or at offsets, renames, removal, folders (create, list, fsync) and file
// facts (exists, kind, size). PosixFileSystem is the real one
// (FileSystem::Default()); FaultInjectingFileSystem wraps another and fails
// writes and renames on request, runs out of space, and forgets what was
// not synced.
//
// Errors: a status's message is the reason alone, as the OS says it ("No
// such file or directory", "No space left on device"); the caller names the
// file and the operation. Codes: NotFound for a missing file, for a full
// disk ResourceExhausted, Internal otherwise.
//
// Thread safety: a FileSystem may be used from many threads at once; one
// file object (WritableFile, SequentialFile, RandomAccessFile) by one thread
// at a time.
#ifndef FRESHET_BASE_FILE_SYSTEM_H_
#define FRESHET_BASE_FILE_SYSTEM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace freshet {

// A file open for writing. Append() hands the bytes to the OS (no buffer of
// its own); Sync() makes them durable; Close() releases the file (the
// destructor closes it too, ignoring errors).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;
};

enum class FileType { kRegular, kDirectory, kOther };

struct DirEntry {
  std::string name;  // no folder part
  FileType type = FileType::kOther;
};

struct FileInfo {
  FileType type = FileType::kOther;
  uint64_t size = 0;
  // Which file it is: two paths (or a path and an open file) with the same
  // device and inode are the same file, e.g. before and after a rename.
  uint64_t device = 0;
  uint64_t inode = 0;

  bool SameFile(const FileInfo& o) const {
    return device == o.device && inode == o.inode;
  }
};

// A file read from its start (or an offset) to its end; reads past the end
// of a growing file see what was appended since (follow mode). The file
// stays readable after it is renamed or removed: it is the file that was
// opened, not the path.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to `n` bytes into `buf`; returns how many, 0 at the end.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // Moves the read position `n` bytes on.
  virtual absl::Status Skip(uint64_t n) = 0;
  // Reads up to `n` bytes at `offset` without moving the read position;
  // returns how many (fewer only at the end of the file).
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf,
                                        size_t n) = 0;
  // What the open file is now (its size, device and inode), whatever its
  // path has become.
  virtual absl::StatusOr<FileInfo> Stat() = 0;
};

// A file read at offsets.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset`; returns how many (fewer only at the
  // end of the file).
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf,
                                        size_t n) const = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The POSIX file system of this machine; never null.
  static FileSystem* Default();
  // `fs`, or Default() when it is null.
  static FileSystem* OrDefault(FileSystem* fs) {
    return fs != nullptr ? fs : Default();
  }

  // Creates `path` or truncates it.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  // Opens `path` for appending, creating it when absent.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) = 0;
  virtual absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      const std::string& path) = 0;
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;

  // Renames a file or folder (atomically, replacing an empty folder or a
  // file at `to`).
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
  // Removes a file, or a folder and everything in it; a missing path is no
  // error.
  virtual absl::Status RemoveAll(const std::string& path) = 0;
  // Creates the folder `path`; no error when it is a folder already.
  virtual absl::Status CreateDir(const std::string& path) = 0;
  // Creates `path` and its missing parents.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  // The entries of folder `path` (without "." and ".."), in no order.
  virtual absl::StatusOr<std::vector<DirEntry>> ListDir(
      const std::string& path) = 0;
  // What `path` is (following symbolic links); NotFound when it is absent.
  virtual absl::StatusOr<FileInfo> Stat(const std::string& path) = 0;
  // Makes the entries of folder `path` (creations, renames, removals)
  // durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;

  // Whether `path` exists (an error to stat it counts as no).
  bool Exists(const std::string& path) { return Stat(path).ok(); }
};

// The real file system (open(2), pread(2), rename(2), fsync(2), ...).
class PosixFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status RemoveAll(const std::string& path) override;
  absl::Status CreateDir(const std::string& path) override;
  absl::Status CreateDirs(const std::string& path) override;
  absl::StatusOr<std::vector<DirEntry>> ListDir(
      const std::string& path) override;
  absl::StatusOr<FileInfo> Stat(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
};

// Writes `data` to `path` (created or truncated) and closes it: a whole
// small file, such as a metrics file written at exit. Errors are the
// file system's (the reason alone).
absl::Status WriteStringToFile(FileSystem* fs, const std::string& path,
                               std::string_view data);

// The status for errno value `e`, per the conventions above.
absl::Status ErrnoStatus(int e);

}  // namespace freshet

#endif  // FRESHET_BASE_FILE_SYSTEM_H_
