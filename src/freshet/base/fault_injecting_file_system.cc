#include "freshet/base/fault_injecting_file_system.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace freshet {
namespace {

absl::Status IoError() { return absl::InternalError("Input/output error"); }

// Whether `p` is `path` or inside the folder `path`.
bool AtOrUnder(const std::string& p, const std::string& path) {
  return p.size() >= path.size() && p.compare(0, path.size(), path) == 0 &&
         (p.size() == path.size() || p[path.size()] == '/' ||
          (!path.empty() && path.back() == '/'));
}

}  // namespace

// A file written through the fault-injecting file system.
class FaultInjectingFileSystem::File final : public WritableFile {
 public:
  File(FaultInjectingFileSystem* owner, std::string path,
       std::unique_ptr<WritableFile> base)
      : owner_(owner), path_(std::move(path)), base_(std::move(base)) {}

  absl::Status Append(std::string_view data) override {
    size_t allowed = 0;
    const absl::Status fault =
        owner_->AdmitAppend(path_, data.size(), &allowed);
    if (allowed > 0) {
      absl::Status s = base_->Append(data.substr(0, allowed));
      if (!s.ok()) return s;
      owner_->Appended(path_, allowed);
    }
    return fault;
  }
  absl::Status Sync() override {
    absl::Status s = base_->Sync();
    if (s.ok()) owner_->Synced(path_);
    return s;
  }
  absl::Status Close() override { return base_->Close(); }

 private:
  FaultInjectingFileSystem* const owner_;
  const std::string path_;
  std::unique_ptr<WritableFile> base_;
};

void FaultInjectingFileSystem::FailNthWrite(int64_t n) {
  MutexLock lock(&mu_);
  fail_write_at_ = n > 0 ? writes_ + n : 0;
}

void FaultInjectingFileSystem::FailWritesUnder(std::string prefix) {
  MutexLock lock(&mu_);
  fail_prefixes_.push_back(std::move(prefix));
}

void FaultInjectingFileSystem::FailRenames(bool fail) {
  MutexLock lock(&mu_);
  fail_renames_ = fail;
}

void FaultInjectingFileSystem::FailListings(bool fail) {
  MutexLock lock(&mu_);
  fail_listings_ = fail;
}

absl::StatusOr<std::vector<DirEntry>> FaultInjectingFileSystem::ListDir(
    const std::string& path) {
  {
    MutexLock lock(&mu_);
    if (fail_listings_) {
      ++failures_;
      return absl::ResourceExhaustedError(
          absl::StrCat(path, ": Too many open files"));
    }
  }
  return base_->ListDir(path);
}

void FaultInjectingFileSystem::SetSpaceBudget(std::optional<int64_t> bytes) {
  MutexLock lock(&mu_);
  space_ = bytes;
}

void FaultInjectingFileSystem::ClearFaults() {
  MutexLock lock(&mu_);
  fail_write_at_ = 0;
  fail_prefixes_.clear();
  fail_renames_ = false;
  fail_listings_ = false;
  space_.reset();
}

int64_t FaultInjectingFileSystem::failures() const {
  MutexLock lock(&mu_);
  return failures_;
}

std::optional<int64_t> FaultInjectingFileSystem::space_left() const {
  MutexLock lock(&mu_);
  return space_;
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectingFileSystem::Wrap(
    const std::string& path, std::unique_ptr<WritableFile> file,
    uint64_t size) {
  MutexLock lock(&mu_);
  ForgetLocked(path);
  files_[path] = Tracked{size, size};
  return std::unique_ptr<WritableFile>(new File(this, path, std::move(file)));
}

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectingFileSystem::NewWritableFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<WritableFile>> f =
      base_->NewWritableFile(path);
  if (!f.ok()) return f.status();
  return Wrap(path, *std::move(f), 0);
}

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectingFileSystem::NewAppendableFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<WritableFile>> f =
      base_->NewAppendableFile(path);
  if (!f.ok()) return f.status();
  absl::StatusOr<FileInfo> info = base_->Stat(path);
  MutexLock lock(&mu_);
  // A file written through here before keeps its unsynced tail; another
  // counts as synced up to its size.
  if (files_.find(path) == files_.end()) {
    const uint64_t size = info.ok() ? info->size : 0;
    files_[path] = Tracked{size, size};
  }
  return std::unique_ptr<WritableFile>(new File(this, path, *std::move(f)));
}

absl::Status FaultInjectingFileSystem::AdmitAppend(const std::string& path,
                                                   size_t n, size_t* allowed) {
  MutexLock lock(&mu_);
  ++writes_;
  *allowed = 0;
  if (fail_write_at_ > 0 && writes_ == fail_write_at_) {
    fail_write_at_ = 0;
    ++failures_;
    return IoError();
  }
  for (const std::string& prefix : fail_prefixes_) {
    if (path.compare(0, prefix.size(), prefix) == 0) {
      ++failures_;
      return IoError();
    }
  }
  if (space_ && static_cast<int64_t>(n) > *space_) {
    *allowed = static_cast<size_t>(std::max<int64_t>(*space_, 0));
    ++failures_;
    return absl::ResourceExhaustedError("No space left on device");
  }
  *allowed = n;
  return absl::OkStatus();
}

void FaultInjectingFileSystem::Appended(const std::string& path, size_t n) {
  MutexLock lock(&mu_);
  files_[path].size += n;
  if (space_) *space_ -= static_cast<int64_t>(n);
}

void FaultInjectingFileSystem::Synced(const std::string& path) {
  MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second.synced = it->second.size;
}

void FaultInjectingFileSystem::ForgetLocked(const std::string& path) {
  for (auto it = files_.lower_bound(path);
       it != files_.end() && it->first.compare(0, path.size(), path) == 0;) {
    if (!AtOrUnder(it->first, path)) {
      ++it;
      continue;
    }
    if (space_) *space_ += static_cast<int64_t>(it->second.size);
    it = files_.erase(it);
  }
}

absl::Status FaultInjectingFileSystem::Rename(const std::string& from,
                                              const std::string& to) {
  {
    MutexLock lock(&mu_);
    if (fail_renames_) {
      ++failures_;
      return IoError();
    }
  }
  absl::Status s = base_->Rename(from, to);
  if (!s.ok()) return s;
  MutexLock lock(&mu_);
  ForgetLocked(to);
  std::vector<std::pair<std::string, Tracked>> moved;
  for (auto it = files_.lower_bound(from);
       it != files_.end() && it->first.compare(0, from.size(), from) == 0;) {
    if (!AtOrUnder(it->first, from)) {
      ++it;
      continue;
    }
    moved.emplace_back(to + it->first.substr(from.size()), it->second);
    it = files_.erase(it);
  }
  for (auto& [path, t] : moved) files_[path] = t;
  return absl::OkStatus();
}

absl::Status FaultInjectingFileSystem::RemoveAll(const std::string& path) {
  absl::Status s = base_->RemoveAll(path);
  if (!s.ok()) return s;
  MutexLock lock(&mu_);
  ForgetLocked(path);
  return absl::OkStatus();
}

absl::Status FaultInjectingFileSystem::DropUnsyncedData() {
  std::vector<std::pair<std::string, uint64_t>> cut;
  {
    MutexLock lock(&mu_);
    for (auto& [path, t] : files_) {
      if (t.size > t.synced) cut.emplace_back(path, t.synced);
    }
  }
  for (const auto& [path, keep] : cut) {
    absl::StatusOr<std::unique_ptr<RandomAccessFile>> in =
        base_->NewRandomAccessFile(path);
    if (absl::IsNotFound(in.status())) continue;
    if (!in.ok()) return in.status();
    std::string bytes(keep, '\0');
    absl::StatusOr<size_t> got = (*in)->ReadAt(0, bytes.data(), keep);
    if (!got.ok()) return got.status();
    bytes.resize(*got);
    absl::StatusOr<std::unique_ptr<WritableFile>> out =
        base_->NewWritableFile(path);
    if (!out.ok()) return out.status();
    absl::Status s = (*out)->Append(bytes);
    if (s.ok()) s = (*out)->Sync();
    if (s.ok()) s = (*out)->Close();
    if (!s.ok()) return s;
    MutexLock lock(&mu_);
    auto it = files_.find(path);
    if (it != files_.end()) {
      if (space_) *space_ += static_cast<int64_t>(it->second.size - keep);
      it->second.size = it->second.synced = bytes.size();
    }
  }
  return absl::OkStatus();
}

}  // namespace freshet
