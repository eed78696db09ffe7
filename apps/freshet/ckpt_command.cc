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
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "apps/freshet/command.h"
#include "freshet/base/human_bytes.h"
#include "freshet/ckpt/chain_reader.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/inventory.h"
#include "freshet/serve/admin_client.h"

namespace freshet {
namespace {

struct CkptOptions {
  std::string dir;
  bool json = false;
  std::string addr;
  std::string token;
  double timeout_s = 600;
};

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

// ---------------------------------------------------------------- ls

// The table row of one entry of the folder.
std::vector<std::string> LsRow(const FolderEntry& e) {
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

int RunLs(const CkptOptions& opt) {
  absl::StatusOr<std::vector<FolderEntry>> entries =
      ListCheckpointFolder(opt.dir);
  if (!entries.ok()) {
    std::cerr << "freshet ckpt ls: " << entries.status().message() << "\n";
    return 1;
  }
  if (opt.json) {
    std::printf("%s\n", FolderJson(opt.dir, *entries).dump(2).c_str());
    return 0;
  }
  if (entries->empty()) {
    std::printf("%s: no checkpoints%s\n", opt.dir.c_str(),
                IsCheckpointDir(opt.dir)
                    ? " (it is one checkpoint directory: list its folder)"
                    : "");
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "KIND", "PARENT", "PREVIOUS", "CREATED (UTC)", "STREAM POSITION",
       "EXAMPLES", "ROWS", "DELETED", "BYTES", "STATUS"}};
  for (const FolderEntry& e : *entries) rows.push_back(LsRow(e));
  PrintColumns(rows);
  return 0;
}

// ---------------------------------------------------------------- verify

// "ckpt-0000000001 ok" or "ckpt-0000000001 DAMAGED: why".
void PrintVerdict(const std::string& name, const absl::Status& st) {
  if (st.ok()) {
    std::printf("%s ok\n", name.c_str());
  } else {
    std::printf("%s DAMAGED: %s\n", name.c_str(),
                std::string(st.message()).c_str());
  }
  std::fflush(stdout);
}

int RunVerify(const CkptOptions& opt) {
  if (opt.dir.empty()) {
    std::cerr << "freshet ckpt verify: usage: freshet ckpt verify DIR (a "
                 "checkpoint folder or one ckpt-<id> directory)\n";
    return 2;
  }
  if (absl::Status st = CheckCheckpointFolder(opt.dir); !st.ok()) {
    std::cerr << "freshet ckpt verify: " << st.message() << "\n";
    return 2;
  }
  if (IsCheckpointDir(opt.dir)) {
    absl::Status st = VerifyCheckpoint(opt.dir);
    PrintVerdict(PathBaseName(opt.dir), st);
    return st.ok() ? 0 : 1;
  }
  absl::StatusOr<std::vector<FolderEntry>> entries =
      ListCheckpointFolder(opt.dir);
  if (!entries.ok()) {
    std::cerr << "freshet ckpt verify: " << entries.status().message() << "\n";
    return 2;
  }
  int published = 0;
  for (const FolderEntry& e : *entries) {
    if (e.published) {
      ++published;
    } else {
      std::printf(
          "%s ignored: unpublished (a write in progress or one that "
          "died)\n",
          e.name.c_str());
    }
  }
  if (published == 0) {
    std::printf("%s: no checkpoints to verify\n", opt.dir.c_str());
    return 0;
  }
  FolderVerification v =
      VerifyCheckpointFolder(*entries, [](const CheckpointVerdict& c) {
        PrintVerdict(CheckpointDirName(c.id), c.status);
      });
  for (const auto& [id, why] : v.unused) {
    std::printf("%s not used by restore: %s\n", CheckpointDirName(id).c_str(),
                why.c_str());
  }
  if (v.chain.empty()) {
    std::printf("restore would fail: no good full checkpoint\n");
  } else {
    std::printf("restore would use %s (chain %s; stream position \"%s\")\n",
                CheckpointDirName(v.chain_last.id).c_str(),
                absl::StrJoin(v.chain, ", ").c_str(),
                v.chain_last.metadata.stream_position.c_str());
  }
  if (v.damaged > 0) {
    std::printf("%d of %d checkpoints damaged\n", v.damaged, published);
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------- digest

int RunDigest(const CkptOptions& opt) {
  absl::Status st = CheckCheckpointFolder(opt.dir);
  absl::StatusOr<CheckpointChain> chain =
      st.ok() ? ReadCheckpointChain(opt.dir) : st;
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
      UtcTimeText(last.created_unix_ms).c_str(),
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
