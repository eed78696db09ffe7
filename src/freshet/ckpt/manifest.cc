#include "freshet/ckpt/manifest.h"

#include <filesystem>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/json_depth.h"
#include "freshet/base/status_macros.h"
#include "freshet/ckpt/crc32c.h"
#include "nlohmann/json.hpp"

namespace freshet {

namespace {

using json = nlohmann::json;

json ToJson(const Manifest& m) {
  json j;
  j["format_version"] = m.format_version;
  j["id"] = m.id;
  j["kind"] = CheckpointKindName(m.kind);
  if (m.kind == CheckpointKind::kIncremental) {
    j["parent_id"] = m.parent_id;
    j["previous_id"] = m.previous_id;
  }
  j["created_unix_ms"] = m.created_unix_ms;
  j["model_config_hash"] = m.metadata.model_config_hash;
  j["stream_position"] = m.metadata.stream_position;
  j["sync_version"] = m.metadata.sync_version;
  j["examples"] = m.metadata.examples;
  json files = json::array();
  for (const ManifestFile& f : m.files) {
    files.push_back({{"name", f.name},
                     {"table", f.table},
                     {"bytes", f.bytes},
                     {"rows", f.rows},
                     {"deleted_keys", f.deleted_keys},
                     {"crc32c", f.crc32c}});
  }
  j["files"] = std::move(files);
  return j;
}

// Reads obj[key] into `out`: a JSON integer within T's range. Anything else
// (absent, a string, a float such as 1.5 or 1e30, a negative count, a value
// past T's range) is DataLoss naming `where` and `key`; a library conversion
// would truncate it, or, for a float out of range, be undefined behaviour.
template <typename T>
absl::Status GetInteger(const json& obj, const char* key,
                        const std::string& source, T* out,
                        const std::string& where = "") {
  auto it = obj.find(key);
  if (it == obj.end()) {
    return absl::DataLossError(
        absl::StrCat(source, ": bad manifest: ", where, key, ": missing"));
  }
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (std::in_range<T>(v)) {
      *out = static_cast<T>(v);
      return absl::OkStatus();
    }
  } else if (it->is_number_integer()) {
    const int64_t v = it->get<int64_t>();
    if (std::in_range<T>(v)) {
      *out = static_cast<T>(v);
      return absl::OkStatus();
    }
  }
  return absl::DataLossError(
      absl::StrCat(source, ": bad manifest: ", where, key,
                   ": expected an integer in [", std::numeric_limits<T>::min(),
                   ", ", std::numeric_limits<T>::max(), "], got ", it->dump()));
}

bool SafeFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos && name != kManifestFileName;
}

}  // namespace

const char* CheckpointKindName(CheckpointKind kind) {
  return kind == CheckpointKind::kFull ? "full" : "incremental";
}

std::string EncodeManifest(const Manifest& manifest) {
  json j = ToJson(manifest);
  j["manifest_crc32c"] = ComputeCrc32c(j.dump());
  return j.dump(2) + "\n";
}

absl::StatusOr<Manifest> DecodeManifest(const std::string& text,
                                        const std::string& source) {
  // A manifest nests three levels; a deeper one is damage, refused before a
  // recursive walk of it could overflow the stack.
  constexpr int kMaxDepth = 8;
  if (JsonDepth(text, kMaxDepth) > kMaxDepth) {
    return absl::DataLossError(absl::StrCat(
        source, ": bad manifest: nested deeper than ", kMaxDepth, " levels"));
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(
        absl::StrCat(source, ": bad manifest: not a JSON object"));
  }
  const char* field = "manifest_crc32c";
  try {
    uint32_t stored;
    RETURN_IF_ERROR(GetInteger(j, field, source, &stored));
    j.erase("manifest_crc32c");
    const uint32_t computed = ComputeCrc32c(j.dump());
    if (stored != computed) {
      return absl::DataLossError(absl::StrFormat(
          "%s: bad manifest: crc32c mismatch (stored 0x%08x, computed 0x%08x)",
          source, stored, computed));
    }
    Manifest m;
    RETURN_IF_ERROR(GetInteger(j, "format_version", source, &m.format_version));
    if (m.format_version != kCheckpointFormatVersion) {
      return absl::DataLossError(
          absl::StrCat(source, ": bad manifest: unsupported format_version ",
                       m.format_version));
    }
    RETURN_IF_ERROR(GetInteger(j, "id", source, &m.id));
    field = "kind";
    const std::string kind = j.at(field).get<std::string>();
    if (kind == "full") {
      m.kind = CheckpointKind::kFull;
    } else if (kind == "incremental") {
      m.kind = CheckpointKind::kIncremental;
      RETURN_IF_ERROR(GetInteger(j, "parent_id", source, &m.parent_id));
      RETURN_IF_ERROR(GetInteger(j, "previous_id", source, &m.previous_id));
      if (m.parent_id >= m.id || m.previous_id >= m.id ||
          m.previous_id < m.parent_id) {
        return absl::DataLossError(absl::StrCat(
            source, ": bad manifest: parent_id/previous_id out of order"));
      }
    } else {
      return absl::DataLossError(
          absl::StrCat(source, ": bad manifest: kind: unknown \"", kind, "\""));
    }
    RETURN_IF_ERROR(
        GetInteger(j, "created_unix_ms", source, &m.created_unix_ms));
    field = "model_config_hash";
    m.metadata.model_config_hash = j.at(field).get<std::string>();
    field = "stream_position";
    m.metadata.stream_position = j.at(field).get<std::string>();
    RETURN_IF_ERROR(
        GetInteger(j, "sync_version", source, &m.metadata.sync_version));
    // Optional: absent in early manifests.
    if (j.contains("examples")) {
      RETURN_IF_ERROR(GetInteger(j, "examples", source, &m.metadata.examples));
    }
    field = "files";
    const json& files = j.at(field);
    if (!files.is_array()) {
      return absl::DataLossError(
          absl::StrCat(source, ": bad manifest: files: expected an array"));
    }
    for (size_t i = 0; i < files.size(); ++i) {
      const json& f = files[i];
      const std::string where = absl::StrCat("files[", i, "].");
      if (!f.is_object()) {
        return absl::DataLossError(absl::StrCat(
            source, ": bad manifest: files[", i, "]: expected an object"));
      }
      ManifestFile mf;
      field = "files[].name";
      mf.name = f.at("name").get<std::string>();
      field = "files[].table";
      mf.table = f.at("table").get<std::string>();
      RETURN_IF_ERROR(GetInteger(f, "bytes", source, &mf.bytes, where));
      RETURN_IF_ERROR(GetInteger(f, "rows", source, &mf.rows, where));
      RETURN_IF_ERROR(
          GetInteger(f, "deleted_keys", source, &mf.deleted_keys, where));
      RETURN_IF_ERROR(GetInteger(f, "crc32c", source, &mf.crc32c, where));
      if (!SafeFileName(mf.name)) {
        return absl::DataLossError(absl::StrCat(
            source, ": bad manifest: files: bad file name \"", mf.name, "\""));
      }
      m.files.push_back(std::move(mf));
    }
    return m;
  } catch (const json::exception& e) {
    return absl::DataLossError(
        absl::StrCat(source, ": bad manifest: ", field, ": ", e.what()));
  }
}

absl::StatusOr<Manifest> ReadManifest(const std::string& checkpoint_dir,
                                      FileSystem* fs) {
  const std::string path =
      (std::filesystem::path(checkpoint_dir) / kManifestFileName).string();
  absl::StatusOr<std::unique_ptr<SequentialFile>> in =
      FileSystem::OrDefault(fs)->NewSequentialFile(path);
  if (absl::IsNotFound(in.status())) {
    return absl::NotFoundError(absl::StrCat(path, ": missing"));
  }
  if (!in.ok()) return absl::InternalError(absl::StrCat(path, ": cannot open"));
  std::string text;
  char buf[16384];
  while (true) {
    absl::StatusOr<size_t> n = (*in)->Read(buf, sizeof(buf));
    if (!n.ok()) {
      return absl::InternalError(
          absl::StrCat(path, ": read: ", n.status().message()));
    }
    if (*n == 0) break;
    text.append(buf, *n);
    if (text.size() > kMaxManifestBytes) {
      // A manifest lists a few files per table; this is damage, refused
      // before it is held in memory whole.
      return absl::DataLossError(absl::StrCat(
          path, ": bad manifest: larger than ", kMaxManifestBytes, " bytes"));
    }
  }
  return DecodeManifest(text, path);
}

}  // namespace freshet
