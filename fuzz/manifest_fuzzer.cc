// Fuzzes DecodeManifest(), the reader of a checkpoint's MANIFEST.json.
// The manifest carries a CRC-32C of its own JSON, which random bytes almost
// never match; so each input is decoded twice: as it is, and with its
// manifest_crc32c replaced by the right value when the input is a JSON
// object, to reach the field checks behind the checksum. A decoded manifest
// must encode and decode again to the same manifest.
#include <cstddef>
#include <cstdint>
#include <string>

#include "freshet/base/json_depth.h"
#include "freshet/ckpt/crc32c.h"
#include "freshet/ckpt/manifest.h"
#include "fuzz/fuzz_schema.h"
#include "nlohmann/json.hpp"

namespace freshet {
namespace fuzz {
namespace {

bool SameFile(const ManifestFile& a, const ManifestFile& b) {
  return a.name == b.name && a.table == b.table && a.bytes == b.bytes &&
         a.rows == b.rows && a.deleted_keys == b.deleted_keys &&
         a.crc32c == b.crc32c;
}

bool SameManifest(const Manifest& a, const Manifest& b) {
  if (a.format_version != b.format_version || a.id != b.id ||
      a.kind != b.kind || a.parent_id != b.parent_id ||
      a.previous_id != b.previous_id ||
      a.created_unix_ms != b.created_unix_ms ||
      a.metadata.model_config_hash != b.metadata.model_config_hash ||
      a.metadata.stream_position != b.metadata.stream_position ||
      a.metadata.sync_version != b.metadata.sync_version ||
      a.metadata.examples != b.metadata.examples ||
      a.files.size() != b.files.size()) {
    return false;
  }
  for (size_t i = 0; i < a.files.size(); ++i) {
    if (!SameFile(a.files[i], b.files[i])) return false;
  }
  return true;
}

void Decode(const std::string& text) {
  auto m = DecodeManifest(text, "fuzz/MANIFEST.json");
  if (!m.ok()) {
    Require(absl::IsDataLoss(m.status()),
            "unexpected status: " + m.status().ToString());
    return;
  }
  auto again = DecodeManifest(EncodeManifest(*m), "fuzz/MANIFEST.json");
  Require(again.ok(),
          "re-encoded manifest rejected: " + again.status().ToString());
  Require(SameManifest(*m, *again), "manifest does not round-trip");
}

// `text` with its manifest_crc32c set to the checksum DecodeManifest()
// computes, or "" when `text` is not a JSON object that can be fixed.
std::string WithRightCrc(const std::string& text) {
  // The decoder refuses deep nesting before parsing; so does this.
  if (JsonDepth(text, 8) > 8) return "";
  using json = nlohmann::json;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return "";
  try {
    j.erase("manifest_crc32c");
    j["manifest_crc32c"] = ComputeCrc32c(j.dump());
    return j.dump();
  } catch (const json::exception&) {
    return "";
  }
}

}  // namespace
}  // namespace fuzz
}  // namespace freshet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  freshet::fuzz::Decode(text);
  const std::string fixed = freshet::fuzz::WithRightCrc(text);
  if (!fixed.empty()) freshet::fuzz::Decode(fixed);
  return 0;
}
