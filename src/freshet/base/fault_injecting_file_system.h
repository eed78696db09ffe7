// FaultInjectingFileSystem: a FileSystem for tests that wraps another and
// breaks it on request, so that checkpoint, log and dead-letter code meets a
// failing disk in process (after LevelDB's db/fault_injection_test.cc).
//
// Faults, each off until set:
//   - FailNthWrite(n): the n-th Append() from now fails (once);
//   - FailWritesUnder(prefix): every Append() to a path starting with
//     `prefix` fails;
//   - FailRenames(true): every Rename() fails;
//   - FailListings(true): every ListDir() fails with ResourceExhausted "Too
//     many open files", as when the process is out of descriptors;
//   - SetSpaceBudget(bytes): a full disk. Appends use the space up and
//     removing or truncating a file written through this file system gives
//     its bytes back; an Append() that does not fit writes what fits and
//     fails with ResourceExhausted "No space left on device".
// A failed write or rename fails with Internal "Input/output error" (EIO),
// the full disk as said; what failed is counted (failures()).
//
// Crashes: it remembers, for every file written through it, how much was
// synced (WritableFile::Sync(); an appended file counts as synced up to its
// size when it was opened). DropUnsyncedData() cuts every such file back to
// that length: what a machine that lost power would have kept.
//
// Thread-safe, like every FileSystem.
#ifndef FRESHET_BASE_FAULT_INJECTING_FILE_SYSTEM_H_
#define FRESHET_BASE_FAULT_INJECTING_FILE_SYSTEM_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "freshet/base/file_system.h"
#include "freshet/base/mutex.h"

namespace freshet {

class FaultInjectingFileSystem final : public FileSystem {
 public:
  // `base` (null: FileSystem::Default()) must outlive this one.
  explicit FaultInjectingFileSystem(FileSystem* base = nullptr)
      : base_(OrDefault(base)) {}

  void FailNthWrite(int64_t n);
  void FailWritesUnder(std::string prefix);
  void FailRenames(bool fail);
  void FailListings(bool fail);
  // Free space in bytes; nullopt: unlimited.
  void SetSpaceBudget(std::optional<int64_t> bytes);
  // Clears every fault (the synced lengths are kept).
  void ClearFaults();

  // Cuts every file written through this file system back to its synced
  // length. Files it does not know are left alone.
  absl::Status DropUnsyncedData();

  // Faults that fired so far.
  int64_t failures() const;
  // Space left (nullopt: unlimited).
  std::optional<int64_t> space_left() const;

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      const std::string& path) override {
    return base_->NewSequentialFile(path);
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    return base_->NewRandomAccessFile(path);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status RemoveAll(const std::string& path) override;
  absl::Status CreateDir(const std::string& path) override {
    return base_->CreateDir(path);
  }
  absl::Status CreateDirs(const std::string& path) override {
    return base_->CreateDirs(path);
  }
  absl::StatusOr<std::vector<DirEntry>> ListDir(
      const std::string& path) override;
  absl::StatusOr<FileInfo> Stat(const std::string& path) override {
    return base_->Stat(path);
  }
  absl::Status SyncDir(const std::string& path) override {
    return base_->SyncDir(path);
  }

 private:
  class File;
  friend class File;

  // What this file system knows of a file written through it.
  struct Tracked {
    uint64_t size = 0;    // bytes written
    uint64_t synced = 0;  // bytes durable
  };

  absl::StatusOr<std::unique_ptr<WritableFile>> Wrap(
      const std::string& path, std::unique_ptr<WritableFile> file,
      uint64_t size);
  // An Append() of `n` bytes to `path`: how many to write, and the status
  // to return after writing them.
  absl::Status AdmitAppend(const std::string& path, size_t n, size_t* allowed);
  void Appended(const std::string& path, size_t n);
  void Synced(const std::string& path);
  // Gives back the space of tracked files at or under `path` and forgets
  // them.
  void ForgetLocked(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  FileSystem* const base_;
  mutable Mutex mu_;
  std::map<std::string, Tracked> files_ ABSL_GUARDED_BY(mu_);
  int64_t writes_ ABSL_GUARDED_BY(mu_) = 0;         // Append() calls seen
  int64_t fail_write_at_ ABSL_GUARDED_BY(mu_) = 0;  // 0: none
  std::vector<std::string> fail_prefixes_ ABSL_GUARDED_BY(mu_);
  bool fail_renames_ ABSL_GUARDED_BY(mu_) = false;
  bool fail_listings_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<int64_t> space_ ABSL_GUARDED_BY(mu_);
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace freshet

#endif  // FRESHET_BASE_FAULT_INJECTING_FILE_SYSTEM_H_
