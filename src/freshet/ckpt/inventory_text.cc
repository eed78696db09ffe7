#include "freshet/ckpt/inventory_text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "freshet/base/human_bytes.h"
#include "freshet/base/text_columns.h"
#include "freshet/ckpt/checkpoint.h"

namespace freshet {

std::vector<std::string> FolderRow(const FolderEntry& e) {
  const CheckpointInfo& c = e.info;
  if (!e.published) {
    return {absl::StrCat(c.id),
            "(.tmp)",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            HumanBytes(e.bytes),
            "unpublished: a write in progress or one that died"};
  }
  if (!c.manifest_status.ok()) {
    return {absl::StrCat(c.id),
            "?",
            "?",
            "?",
            "?",
            "?",
            "?",
            "?",
            "?",
            HumanBytes(e.bytes),
            std::string(c.manifest_status.message())};
  }
  const Manifest& m = c.manifest;
  const bool full = m.kind == CheckpointKind::kFull;
  return {absl::StrCat(c.id),
          CheckpointKindName(m.kind),
          full ? "-" : absl::StrCat(m.parent_id),
          full ? "-" : absl::StrCat(m.previous_id),
          UtcTimeText(m.created_unix_ms),
          m.metadata.stream_position.empty() ? "-" : m.metadata.stream_position,
          absl::StrCat(m.metadata.examples),
          absl::StrCat(e.rows),
          absl::StrCat(e.deleted_keys),
          HumanBytes(e.bytes),
          "ok"};
}

std::string FolderText(const std::string& dir,
                       const std::vector<FolderEntry>& entries) {
  if (entries.empty()) {
    return absl::StrCat(
        dir, ": no checkpoints",
        IsCheckpointDir(dir)
            ? " (it is one checkpoint directory: list its folder)"
            : "",
        "\n");
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "KIND", "PARENT", "PREVIOUS", "CREATED (UTC)", "STREAM POSITION",
       "EXAMPLES", "ROWS", "DELETED", "BYTES", "STATUS"}};
  for (const FolderEntry& e : entries) rows.push_back(FolderRow(e));
  return AlignColumns(rows);
}

std::string VerdictLine(const std::string& name, const absl::Status& status) {
  if (status.ok()) return absl::StrCat(name, " ok\n");
  return absl::StrCat(name, " DAMAGED: ", status.message(), "\n");
}

FolderVerification VerifyFolderText(
    const std::string& dir, const std::vector<FolderEntry>& entries,
    const std::function<void(const std::string& line)>& print) {
  int published = 0;
  for (const FolderEntry& e : entries) {
    if (e.published) {
      ++published;
    } else {
      print(absl::StrCat(e.name,
                         " ignored: unpublished (a write in progress or one "
                         "that died)\n"));
    }
  }
  if (published == 0) {
    print(absl::StrCat(dir, ": no checkpoints to verify\n"));
    return {};
  }
  FolderVerification v =
      VerifyCheckpointFolder(entries, [&](const CheckpointVerdict& c) {
        print(VerdictLine(CheckpointDirName(c.id), c.status));
      });
  for (const auto& [id, why] : v.unused) {
    print(absl::StrCat(CheckpointDirName(id), " not used by restore: ", why,
                       "\n"));
  }
  if (v.chain.empty()) {
    print("restore would fail: no good full checkpoint\n");
  } else {
    print(absl::StrCat("restore would use ", CheckpointDirName(v.chain_last.id),
                       " (chain ", absl::StrJoin(v.chain, ", "),
                       "; stream position \"",
                       v.chain_last.metadata.stream_position, "\")\n"));
  }
  if (v.damaged > 0) {
    print(absl::StrCat(v.damaged, " of ", published, " checkpoints damaged\n"));
  }
  return v;
}

std::string ChainDigestText(const CheckpointChain& chain) {
  const Manifest& last = chain.last;
  return absl::StrCat(
      absl::StrFormat("digest       %016x\n", ChainDigest(chain)),
      "as of        ", CheckpointDirName(last.id), " (chain ",
      absl::StrJoin(chain.ids, ", "), "), created ",
      UtcTimeText(last.created_unix_ms), ", stream position \"",
      last.metadata.stream_position, "\"\n");
}

}  // namespace freshet
