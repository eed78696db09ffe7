// The inventory of a checkpoint folder, as tools show it: every directory in
// it, published (ckpt-<id>) and leftover (ckpt-<id>.tmp, a write in progress
// or one that died), with what its manifest says and the bytes it takes;
// and the verification of every published checkpoint together with the
// chain that restore would choose from them (chain_choice.h). `freshet ckpt
// ls` and `freshet ckpt verify` print these; nothing here writes.
//
// Thread safety: plain values and free functions. Reading runs alongside a
// writer of the same folder (a published checkpoint does not change; a
// .tmp directory may come and go).
#ifndef FRESHET_CKPT_INVENTORY_H_
#define FRESHET_CKPT_INVENTORY_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/manifest.h"

namespace freshet {

// OK when `dir` exists and is a folder; else NotFound "DIR: no such folder"
// or FailedPrecondition "DIR: not a folder".
absl::Status CheckCheckpointFolder(const std::string& dir);

// Whether `dir` is one checkpoint directory rather than a folder of them:
// it holds a MANIFEST.json, or its last component (trailing slashes
// ignored) is ckpt-<digits>.
bool IsCheckpointDir(const std::string& dir);

// The last component of `path`, trailing slashes ignored: "ckpt-0000000003"
// for "/x/ckpt-0000000003/".
std::string PathBaseName(std::string path);

// "2026-11-22T19:31:30.123Z": a manifest's created_unix_ms, in UTC.
std::string UtcTimeText(int64_t unix_ms);

// One directory of a checkpoint folder.
struct FolderEntry {
  CheckpointInfo info;     // id and path; manifest fields when published
  std::string name;        // the directory's name: ckpt-<id>[.tmp]
  bool published = false;  // false: a leftover ckpt-<id>.tmp
  // Of a published checkpoint with a readable manifest: the table rows and
  // deleted keys of its files.
  uint64_t rows = 0;
  uint64_t deleted_keys = 0;
  uint64_t bytes = 0;  // regular files directly in the directory
};

// Every directory of `dir`, published and .tmp, by increasing id (a
// published checkpoint before a .tmp of the same id). Other names are
// ignored. Errors: those of CheckCheckpointFolder() and of
// ListCheckpoints().
absl::StatusOr<std::vector<FolderEntry>> ListCheckpointFolder(
    const std::string& dir);

// The entries of `dir` as one JSON object, `freshet ckpt ls --json`:
// {dir, checkpoints: [{id, name, path, bytes, status, ...}]}. A .tmp entry
// has kind and status "unpublished"; one whose manifest cannot be read has
// the manifest's error as its status and no manifest fields; a good one has
// status "ok", kind, created_unix_ms, created (UtcTimeText), stream_position,
// examples, sync_version, model_config_hash, rows, deleted_keys and, when
// incremental, parent_id and previous_id.
nlohmann::json FolderJson(const std::string& dir,
                          const std::vector<FolderEntry>& entries);

// What VerifyCheckpoint() said of one published checkpoint (or its
// manifest's error, without reading further).
struct CheckpointVerdict {
  uint64_t id = 0;
  absl::Status status;
};

// The verification of a folder's published checkpoints.
struct FolderVerification {
  std::vector<CheckpointVerdict> verdicts;  // by increasing id
  int damaged = 0;                          // verdicts not OK
  // The chain restore would use (ids, full first); empty when no full
  // checkpoint is good.
  std::vector<uint64_t> chain;
  Manifest chain_last;  // the manifest of its last checkpoint, when any
  // The good checkpoints newer than the chain's last one that restore would
  // not use, by increasing id, each with why.
  std::vector<std::pair<uint64_t, std::string>> unused;
};

// Verifies every published entry of `entries` (ListCheckpointFolder()
// order), calling `on_verdict` after each when given, then chooses the
// chain as restore does (ChooseNewestGoodChain()) from those verdicts.
FolderVerification VerifyCheckpointFolder(
    const std::vector<FolderEntry>& entries,
    const std::function<void(const CheckpointVerdict&)>& on_verdict = {});

}  // namespace freshet

#endif  // FRESHET_CKPT_INVENTORY_H_
