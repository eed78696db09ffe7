// `freshet ckpt`: inspect checkpoint folders and ask a running job for one.
//
//   ckpt ls DIR [--json]     one line per checkpoint (and leftover .tmp)
//   ckpt verify DIR          every checksum of every checkpoint
//   ckpt digest DIR          the model digest of the newest good chain
//   ckpt now --addr H:P      POST /admin/checkpoint to a `freshet run`
//
// docs/checkpoints.md is the user guide; docs/checkpoint_format.md the bytes.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "apps/freshet/command.h"
#include "freshet/ckpt/chain_reader.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/serve/admin_client.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct CkptOptions {
  std::string dir;
  bool json = false;
  std::string addr;
  std::string token;
  double timeout_s = 600;
};

// "2026-11-22T19:31:30.123Z".
std::string UtcTime(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

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

// Checks that `dir` is an existing folder; prints why not.
bool CheckFolder(const char* command, const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    std::cerr << "freshet ckpt " << command << ": " << dir
              << ": no such folder\n";
    return false;
  }
  if (!fs::is_directory(dir, ec)) {
    std::cerr << "freshet ckpt " << command << ": " << dir
              << ": not a folder\n";
    return false;
  }
  return true;
}

// Prints rows of cells as left-aligned columns two spaces apart.
void PrintColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

// The last component of `path`, trailing slashes ignored.
std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return fs::path(path).filename().string();
}

// Whether `dir` is one checkpoint directory rather than a folder of them.
bool IsCheckpointDir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / kManifestFileName, ec)) return true;
  const std::string name = BaseName(dir);
  if (name.size() <= 5 || name.compare(0, 5, "ckpt-") != 0) return false;
  return name.find_first_not_of("0123456789", 5) == std::string::npos;
}

// ---------------------------------------------------------------- ls

int RunLs(const CkptOptions& opt) {
  if (!CheckFolder("ls", opt.dir)) return 1;
  absl::StatusOr<std::vector<CheckpointInfo>> list = ListCheckpoints(opt.dir);
  if (!list.ok()) {
    std::cerr << "freshet ckpt ls: " << list.status().message() << "\n";
    return 1;
  }
  const std::map<uint64_t, std::string> tmps = TmpDirs(opt.dir);

  // One entry per directory, published and .tmp, by id.
  struct Entry {
    uint64_t id;
    const CheckpointInfo* info;  // null for a .tmp directory
    std::string path;
  };
  std::vector<Entry> entries;
  for (const CheckpointInfo& c : *list) entries.push_back({c.id, &c, c.path});
  for (const auto& [id, path] : tmps) entries.push_back({id, nullptr, path});
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.id < b.id; });

  json out = {{"dir", opt.dir}, {"checkpoints", json::array()}};
  std::vector<std::vector<std::string>> rows = {
      {"ID", "KIND", "PARENT", "PREVIOUS", "CREATED (UTC)", "STREAM POSITION",
       "EXAMPLES", "ROWS", "DELETED", "BYTES", "STATUS"}};
  for (const Entry& e : entries) {
    const uint64_t bytes = BytesOnDisk(e.path);
    const std::string name = fs::path(e.path).filename().string();
    if (e.info == nullptr) {
      out["checkpoints"].push_back({{"id", e.id},
                                    {"name", name},
                                    {"path", e.path},
                                    {"kind", "unpublished"},
                                    {"bytes", bytes},
                                    {"status", "unpublished"}});
      rows.push_back({absl::StrCat(e.id), "(.tmp)", "-", "-", "-", "-", "-",
                      "-", "-", HumanBytes(bytes),
                      "unpublished: a write in progress or one that died"});
      continue;
    }
    const CheckpointInfo& c = *e.info;
    if (!c.manifest_status.ok()) {
      out["checkpoints"].push_back(
          {{"id", c.id},
           {"name", name},
           {"path", c.path},
           {"bytes", bytes},
           {"status", std::string(c.manifest_status.message())}});
      rows.push_back({absl::StrCat(c.id), "?", "?", "?", "?", "?", "?", "?",
                      "?", HumanBytes(bytes),
                      std::string(c.manifest_status.message())});
      continue;
    }
    const Manifest& m = c.manifest;
    uint64_t table_rows = 0, deleted = 0;
    for (const ManifestFile& f : m.files) {
      if (f.table.empty()) continue;
      table_rows += f.rows;
      deleted += f.deleted_keys;
    }
    const bool full = m.kind == CheckpointKind::kFull;
    json j = {{"id", c.id},
              {"name", name},
              {"path", c.path},
              {"kind", CheckpointKindName(m.kind)},
              {"created_unix_ms", m.created_unix_ms},
              {"created", UtcTime(m.created_unix_ms)},
              {"stream_position", m.metadata.stream_position},
              {"examples", m.metadata.examples},
              {"sync_version", m.metadata.sync_version},
              {"model_config_hash", m.metadata.model_config_hash},
              {"rows", table_rows},
              {"deleted_keys", deleted},
              {"bytes", bytes},
              {"status", "ok"}};
    if (!full) {
      j["parent_id"] = m.parent_id;
      j["previous_id"] = m.previous_id;
    }
    out["checkpoints"].push_back(std::move(j));
    rows.push_back(
        {absl::StrCat(c.id), CheckpointKindName(m.kind),
         full ? "-" : absl::StrCat(m.parent_id),
         full ? "-" : absl::StrCat(m.previous_id), UtcTime(m.created_unix_ms),
         m.metadata.stream_position.empty() ? "-" : m.metadata.stream_position,
         absl::StrCat(m.metadata.examples), absl::StrCat(table_rows),
         absl::StrCat(deleted), HumanBytes(bytes), "ok"});
  }
  if (opt.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (entries.empty()) {
    std::printf("%s: no checkpoints%s\n", opt.dir.c_str(),
                IsCheckpointDir(opt.dir)
                    ? " (it is one checkpoint directory: list its folder)"
                    : "");
    return 0;
  }
  PrintColumns(rows);
  return 0;
}

// ---------------------------------------------------------------- verify

std::string ChainText(const std::vector<CheckpointInfo>& list,
                      const std::vector<size_t>& chain) {
  std::vector<uint64_t> ids;
  for (size_t i : chain) ids.push_back(list[i].id);
  const Manifest& last = list[chain.back()].manifest;
  return absl::StrFormat("%s (chain %s; stream position \"%s\")",
                         CheckpointDirName(last.id), absl::StrJoin(ids, ", "),
                         last.metadata.stream_position);
}

int RunVerify(const CkptOptions& opt) {
  if (opt.dir.empty()) {
    std::cerr << "freshet ckpt verify: usage: freshet ckpt verify DIR (a "
                 "checkpoint folder or one ckpt-<id> directory)\n";
    return 2;
  }
  if (!CheckFolder("verify", opt.dir)) return 2;
  if (IsCheckpointDir(opt.dir)) {
    const std::string name = BaseName(opt.dir);
    absl::Status st = VerifyCheckpoint(opt.dir);
    if (st.ok()) {
      std::printf("%s ok\n", name.c_str());
      return 0;
    }
    std::printf("%s DAMAGED: %s\n", name.c_str(),
                std::string(st.message()).c_str());
    return 1;
  }
  absl::StatusOr<std::vector<CheckpointInfo>> list = ListCheckpoints(opt.dir);
  if (!list.ok()) {
    std::cerr << "freshet ckpt verify: " << list.status().message() << "\n";
    return 2;
  }
  for (const auto& [id, path] : TmpDirs(opt.dir)) {
    std::printf(
        "%s ignored: unpublished (a write in progress or one that "
        "died)\n",
        fs::path(path).filename().string().c_str());
  }
  if (list->empty()) {
    std::printf("%s: no checkpoints to verify\n", opt.dir.c_str());
    return 0;
  }
  std::map<uint64_t, absl::Status> results;
  int damaged = 0;
  for (const CheckpointInfo& c : *list) {
    absl::Status st =
        c.manifest_status.ok() ? VerifyCheckpoint(c.path) : c.manifest_status;
    const std::string name = CheckpointDirName(c.id);
    if (st.ok()) {
      std::printf("%s ok\n", name.c_str());
    } else {
      ++damaged;
      std::printf("%s DAMAGED: %s\n", name.c_str(),
                  std::string(st.message()).c_str());
    }
    std::fflush(stdout);
    results[c.id] = st;
  }
  ChainChoice choice = ChooseNewestGoodChain(
      *list, [&](const CheckpointInfo& c) { return results[c.id]; });
  for (const auto& [index, why] : choice.skipped) {
    if (!results[(*list)[index].id].ok()) continue;  // said above
    std::printf("%s not used by restore: %s\n",
                CheckpointDirName((*list)[index].id).c_str(), why.c_str());
  }
  if (choice.chain.empty()) {
    std::printf("restore would fail: no good full checkpoint\n");
  } else {
    std::printf("restore would use %s\n",
                ChainText(*list, choice.chain).c_str());
  }
  if (damaged > 0) {
    std::printf("%d of %d checkpoints damaged\n", damaged,
                static_cast<int>(list->size()));
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------- digest

int RunDigest(const CkptOptions& opt) {
  if (!CheckFolder("digest", opt.dir)) return 1;
  absl::StatusOr<CheckpointChain> chain = ReadCheckpointChain(opt.dir);
  if (!chain.ok()) {
    std::cerr << "freshet ckpt digest: " << chain.status().message() << "\n";
    return 1;
  }
  const uint64_t digest = ChainDigest(*chain);
  const Manifest& last = chain->last;
  // The digest line is `freshet train`'s.
  std::printf("digest       %016llx\n",
              static_cast<unsigned long long>(digest));
  std::printf(
      "as of        %s (chain %s), created %s, stream position \"%s\"\n",
      CheckpointDirName(last.id).c_str(),
      absl::StrJoin(chain->ids, ", ").c_str(),
      UtcTime(last.created_unix_ms).c_str(),
      last.metadata.stream_position.c_str());
  return 0;
}

// ---------------------------------------------------------------- now

int RunNow(const CkptOptions& opt) {
  std::string token = opt.token;
  if (token.empty()) {
    if (const char* env = std::getenv("FRESHET_ADMIN_TOKEN")) token = env;
  }
  std::string host;
  int port = 0;
  if (!ParseHostPort(opt.addr, &host, &port)) {
    std::cerr << "freshet ckpt now: --addr: expected HOST:PORT, got \""
              << opt.addr << "\"\n";
    return 2;
  }
  if (token.empty()) {
    std::cerr << "freshet ckpt now: no admin token: pass --token or set "
                 "FRESHET_ADMIN_TOKEN\n";
    return 2;
  }
  absl::StatusOr<std::string> reply =
      CallAdmin(opt.addr, token, "checkpoint", opt.timeout_s);
  if (!reply.ok()) {
    std::cerr << "freshet ckpt now: " << reply.status().message() << "\n";
    return 1;
  }
  std::printf("%s\n", reply->c_str());
  return 0;
}

// ---------------------------------------------------------------- setup

CommandRunner SetupCkpt(CLI::App& app) {
  auto opt = std::make_shared<CkptOptions>();
  CLI::App* cmd = app.add_subcommand(
      "ckpt",
      "Inspect checkpoint folders (ls, verify, digest) and ask a running "
      "job for a checkpoint (now)");
  cmd->require_subcommand(1);

  CLI::App* ls = cmd->add_subcommand(
      "ls", "List the checkpoints of a folder, with leftover .tmp folders");
  ls->add_option("DIR", opt->dir, "Checkpoint folder")->required();
  ls->add_flag("--json", opt->json, "One JSON object instead of a table");

  CLI::App* verify = cmd->add_subcommand(
      "verify",
      "Check every checksum of every checkpoint; exit 0 when all are good, "
      "1 when one is damaged, 2 on a usage error or a missing folder");
  verify->add_option("DIR", opt->dir,
                     "Checkpoint folder, or one ckpt-<id> directory");

  CLI::App* digest = cmd->add_subcommand(
      "digest",
      "Print the model digest of the newest good chain (as `freshet train` "
      "prints it for a live model)");
  digest->add_option("DIR", opt->dir, "Checkpoint folder")->required();

  CLI::App* now = cmd->add_subcommand(
      "now", "Ask a running `freshet run` to write a checkpoint now");
  now->add_option("--addr", opt->addr, "HOST:PORT of its HTTP server")
      ->required();
  now->add_option("--token", opt->token,
                  "Admin token (default: $FRESHET_ADMIN_TOKEN)");
  now->add_option("--timeout-s", opt->timeout_s,
                  "How long to wait for the reply")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  return [opt, ls, verify, digest, now]() -> int {
    if (ls->parsed()) return RunLs(*opt);
    if (verify->parsed()) return RunVerify(*opt);
    if (digest->parsed()) return RunDigest(*opt);
    if (now->parsed()) return RunNow(*opt);
    return 2;
  };
}

FRESHET_REGISTER_COMMAND(40, SetupCkpt);

}  // namespace
}  // namespace freshet
