#include "freshet/base/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace freshet {
namespace {

namespace fs = std::filesystem;

absl::Status ErrorCodeStatus(const std::error_code& ec) {
  if (ec == std::errc::no_such_file_or_directory) {
    return absl::NotFoundError(ec.message());
  }
  if (ec == std::errc::no_space_on_device) {
    return absl::ResourceExhaustedError(ec.message());
  }
  return absl::InternalError(ec.message());
}

class PosixWritableFile final : public WritableFile {
 public:
  explicit PosixWritableFile(int fd) : fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    if (::fsync(fd_) != 0) return ErrnoStatus(errno);
    return absl::OkStatus();
  }
  absl::Status Close() override {
    const int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) return ErrnoStatus(errno);
    return absl::OkStatus();
  }

 private:
  int fd_;
};

FileType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kRegular;
  if (S_ISDIR(mode)) return FileType::kDirectory;
  return FileType::kOther;
}

FileInfo InfoOf(const struct stat& st) {
  FileInfo info;
  info.type = TypeOf(st.st_mode);
  info.size = static_cast<uint64_t>(st.st_size);
  info.device = static_cast<uint64_t>(st.st_dev);
  info.inode = static_cast<uint64_t>(st.st_ino);
  return info;
}

absl::StatusOr<FileInfo> FstatInfo(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno);
  return InfoOf(st);
}

// pread(2) until `n` bytes or the end of the file.
absl::StatusOr<size_t> PreadFully(int fd, uint64_t offset, char* buf,
                                  size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got =
        ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno);
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

class PosixSequentialFile final : public SequentialFile {
 public:
  explicit PosixSequentialFile(int fd) : fd_(fd) {}
  ~PosixSequentialFile() override { ::close(fd_); }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    while (true) {
      const ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return ErrnoStatus(errno);
    }
  }
  absl::Status Skip(uint64_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) < 0) {
      return ErrnoStatus(errno);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
    return PreadFully(fd_, offset, buf, n);
  }
  absl::StatusOr<FileInfo> Stat() override { return FstatInfo(fd_); }

 private:
  const int fd_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  explicit PosixRandomAccessFile(int fd) : fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf,
                                size_t n) const override {
    return PreadFully(fd_, offset, buf, n);
  }
  absl::StatusOr<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoStatus(errno);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  const int fd_;
};

absl::StatusOr<int> OpenFd(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno);
  return fd;
}

}  // namespace

absl::Status ErrnoStatus(int e) {
  const char* reason = std::strerror(e);
  if (e == ENOENT) return absl::NotFoundError(reason);
  if (e == ENOSPC || e == EDQUOT) return absl::ResourceExhaustedError(reason);
  return absl::InternalError(reason);
}

FileSystem* FileSystem::Default() {
  static PosixFileSystem* posix = new PosixFileSystem();
  return posix;
}

absl::StatusOr<std::unique_ptr<WritableFile>> PosixFileSystem::NewWritableFile(
    const std::string& path) {
  absl::StatusOr<int> fd = OpenFd(path, O_WRONLY | O_CREAT | O_TRUNC);
  if (!fd.ok()) return fd.status();
  return std::make_unique<PosixWritableFile>(*fd);
}

absl::StatusOr<std::unique_ptr<WritableFile>>
PosixFileSystem::NewAppendableFile(const std::string& path) {
  absl::StatusOr<int> fd = OpenFd(path, O_WRONLY | O_CREAT | O_APPEND);
  if (!fd.ok()) return fd.status();
  return std::make_unique<PosixWritableFile>(*fd);
}

absl::StatusOr<std::unique_ptr<SequentialFile>>
PosixFileSystem::NewSequentialFile(const std::string& path) {
  absl::StatusOr<int> fd = OpenFd(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  return std::make_unique<PosixSequentialFile>(*fd);
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>>
PosixFileSystem::NewRandomAccessFile(const std::string& path) {
  absl::StatusOr<int> fd = OpenFd(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  return std::make_unique<PosixRandomAccessFile>(*fd);
}

absl::Status PosixFileSystem::Rename(const std::string& from,
                                     const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  return ec ? ErrorCodeStatus(ec) : absl::OkStatus();
}

absl::Status PosixFileSystem::RemoveAll(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  return ec ? ErrorCodeStatus(ec) : absl::OkStatus();
}

absl::Status PosixFileSystem::CreateDir(const std::string& path) {
  std::error_code ec;
  fs::create_directory(path, ec);
  return ec ? ErrorCodeStatus(ec) : absl::OkStatus();
}

absl::Status PosixFileSystem::CreateDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  return ec ? ErrorCodeStatus(ec) : absl::OkStatus();
}

absl::StatusOr<std::vector<DirEntry>> PosixFileSystem::ListDir(
    const std::string& path) {
  std::vector<DirEntry> out;
  std::error_code ec;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end;
       it.increment(ec)) {
    DirEntry e;
    e.name = it->path().filename().string();
    std::error_code type_ec;
    const fs::file_status st = it->status(type_ec);
    if (!type_ec) {
      e.type = fs::is_regular_file(st) ? FileType::kRegular
               : fs::is_directory(st)  ? FileType::kDirectory
                                       : FileType::kOther;
    }
    out.push_back(std::move(e));
  }
  if (ec) return ErrorCodeStatus(ec);
  return out;
}

absl::StatusOr<FileInfo> PosixFileSystem::Stat(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno);
  return InfoOf(st);
}

absl::Status PosixFileSystem::SyncDir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY);
  if (fd < 0) return ErrnoStatus(errno);
  const int rc = ::fsync(fd);
  const int e = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(e);
  return absl::OkStatus();
}

absl::Status WriteStringToFile(FileSystem* fs, const std::string& path,
                               std::string_view data) {
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      FileSystem::OrDefault(fs)->NewWritableFile(path);
  if (!file.ok()) return file.status();
  absl::Status status = (*file)->Append(data);
  absl::Status closed = (*file)->Close();
  return status.ok() ? closed : status;
}

}  // namespace freshet
