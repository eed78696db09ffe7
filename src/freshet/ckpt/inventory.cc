#include "freshet/ckpt/inventory.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "freshet/ckpt/chain_choice.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// Bytes of the regular files directly in `path`.
uint64_t BytesOnDisk(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
    std::error_code fec;
    if (e.is_regular_file(fec)) {
      const uintmax_t size = e.file_size(fec);
      if (!fec) total += size;
    }
  }
  return total;
}

// The id of "ckpt-<digits>.tmp", if `name` is one.
std::optional<uint64_t> TmpId(const std::string& name) {
  const std::string prefix = "ckpt-", suffix = ".tmp";
  if (name.size() <= prefix.size() + suffix.size() ||
      name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  const std::string digits =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 19) return std::nullopt;
  uint64_t id = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return id;
}

// Leftover ckpt-<id>.tmp directories of `dir`, by id.
std::map<uint64_t, std::string> TmpDirs(const std::string& dir) {
  std::map<uint64_t, std::string> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    std::error_code tec;
    if (!e.is_directory(tec)) continue;
    if (std::optional<uint64_t> id = TmpId(e.path().filename().string())) {
      out[*id] = e.path().string();
    }
  }
  return out;
}

}  // namespace

absl::Status CheckCheckpointFolder(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such folder"));
  }
  if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": not a folder"));
  }
  return absl::OkStatus();
}

std::string PathBaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return fs::path(path).filename().string();
}

bool IsCheckpointDir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / kManifestFileName, ec)) return true;
  const std::string name = PathBaseName(dir);
  if (name.size() <= 5 || name.compare(0, 5, "ckpt-") != 0) return false;
  return name.find_first_not_of("0123456789", 5) == std::string::npos;
}

std::string UtcTimeText(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

absl::StatusOr<std::vector<FolderEntry>> ListCheckpointFolder(
    const std::string& dir) {
  if (absl::Status st = CheckCheckpointFolder(dir); !st.ok()) return st;
  absl::StatusOr<std::vector<CheckpointInfo>> list = ListCheckpoints(dir);
  if (!list.ok()) return list.status();
  std::vector<FolderEntry> entries;
  for (CheckpointInfo& c : *list) {
    FolderEntry e;
    e.info = std::move(c);
    e.published = true;
    if (e.info.manifest_status.ok()) {
      for (const ManifestFile& f : e.info.manifest.files) {
        if (f.table.empty()) continue;
        e.rows += f.rows;
        e.deleted_keys += f.deleted_keys;
      }
    }
    entries.push_back(std::move(e));
  }
  for (const auto& [id, path] : TmpDirs(dir)) {
    FolderEntry e;
    e.info.id = id;
    e.info.path = path;
    entries.push_back(std::move(e));
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const FolderEntry& a, const FolderEntry& b) {
                     return a.info.id < b.info.id;
                   });
  for (FolderEntry& e : entries) {
    e.name = fs::path(e.info.path).filename().string();
    e.bytes = BytesOnDisk(e.info.path);
  }
  return entries;
}

nlohmann::json FolderJson(const std::string& dir,
                          const std::vector<FolderEntry>& entries) {
  nlohmann::json out = {{"dir", dir}, {"checkpoints", nlohmann::json::array()}};
  for (const FolderEntry& e : entries) {
    const CheckpointInfo& c = e.info;
    nlohmann::json j = {{"id", c.id}, {"name", e.name}, {"path", c.path}};
    if (!e.published) {
      j["kind"] = "unpublished";
      j["bytes"] = e.bytes;
      j["status"] = "unpublished";
    } else if (!c.manifest_status.ok()) {
      j["bytes"] = e.bytes;
      j["status"] = std::string(c.manifest_status.message());
    } else {
      const Manifest& m = c.manifest;
      j["kind"] = CheckpointKindName(m.kind);
      j["created_unix_ms"] = m.created_unix_ms;
      j["created"] = UtcTimeText(m.created_unix_ms);
      j["stream_position"] = m.metadata.stream_position;
      j["examples"] = m.metadata.examples;
      j["sync_version"] = m.metadata.sync_version;
      j["model_config_hash"] = m.metadata.model_config_hash;
      j["rows"] = e.rows;
      j["deleted_keys"] = e.deleted_keys;
      j["bytes"] = e.bytes;
      j["status"] = "ok";
      if (m.kind != CheckpointKind::kFull) {
        j["parent_id"] = m.parent_id;
        j["previous_id"] = m.previous_id;
      }
    }
    out["checkpoints"].push_back(std::move(j));
  }
  return out;
}

FolderVerification VerifyCheckpointFolder(
    const std::vector<FolderEntry>& entries,
    const std::function<void(const CheckpointVerdict&)>& on_verdict) {
  FolderVerification out;
  std::vector<CheckpointInfo> list;
  std::map<uint64_t, absl::Status> results;
  for (const FolderEntry& e : entries) {
    if (!e.published) continue;
    const CheckpointInfo& c = e.info;
    CheckpointVerdict v{c.id, c.manifest_status.ok() ? VerifyCheckpoint(c.path)
                                                     : c.manifest_status};
    if (!v.status.ok()) ++out.damaged;
    if (on_verdict) on_verdict(v);
    results[c.id] = v.status;
    out.verdicts.push_back(std::move(v));
    list.push_back(c);
  }
  ChainChoice choice = ChooseNewestGoodChain(
      list, [&](const CheckpointInfo& c) { return results[c.id]; });
  for (const auto& [index, why] : choice.skipped) {
    if (!results[list[index].id].ok()) continue;  // damaged: a verdict says so
    out.unused.emplace_back(list[index].id, why);
  }
  for (size_t i : choice.chain) out.chain.push_back(list[i].id);
  if (!choice.chain.empty()) {
    out.chain_last = list[choice.chain.back()].manifest;
  }
  return out;
}

}  // namespace freshet
