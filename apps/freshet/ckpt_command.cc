// `freshet ckpt`: inspect checkpoint folders and ask a running job for one.
//
//   ckpt ls DIR [--json]     one line per checkpoint (and leftover .tmp)
//   ckpt verify DIR          every checksum of every checkpoint
//   ckpt digest DIR          the model digest of the newest good chain
//   ckpt now --addr H:P      POST /admin/checkpoint to a `freshet run`
//
// docs/checkpoints.md is the user guide; docs/checkpoint_format.md the bytes.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "apps/freshet/command.h"
#include "freshet/ckpt/chain_reader.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/inventory.h"
#include "freshet/ckpt/inventory_text.h"
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

// A line of `ckpt verify`, on stdout at once: the verdicts come one by one.
void PrintNow(const std::string& line) {
  std::printf("%s", line.c_str());
  std::fflush(stdout);
}

// ---------------------------------------------------------------- ls

int RunLs(const CkptOptions& opt) {
  absl::StatusOr<std::vector<FolderEntry>> entries =
      ListCheckpointFolder(opt.dir);
  if (!entries.ok()) {
    return Fail("freshet ckpt ls", entries.status().message(), 1);
  }
  if (opt.json) {
    std::printf("%s\n", FolderJson(opt.dir, *entries).dump(2).c_str());
  } else {
    std::printf("%s", FolderText(opt.dir, *entries).c_str());
  }
  return 0;
}

// ---------------------------------------------------------------- verify

int RunVerify(const CkptOptions& opt) {
  constexpr char kVerify[] = "freshet ckpt verify";
  if (opt.dir.empty()) {
    return Fail(kVerify,
                "usage: freshet ckpt verify DIR (a checkpoint folder or one "
                "ckpt-<id> directory)",
                2);
  }
  if (absl::Status st = CheckCheckpointFolder(opt.dir); !st.ok()) {
    return Fail(kVerify, st.message(), 2);
  }
  if (IsCheckpointDir(opt.dir)) {
    absl::Status st = VerifyCheckpoint(opt.dir);
    PrintNow(VerdictLine(PathBaseName(opt.dir), st));
    return st.ok() ? 0 : 1;
  }
  absl::StatusOr<std::vector<FolderEntry>> entries =
      ListCheckpointFolder(opt.dir);
  if (!entries.ok()) return Fail(kVerify, entries.status().message(), 2);
  FolderVerification v = VerifyFolderText(opt.dir, *entries, PrintNow);
  return v.damaged > 0 ? 1 : 0;
}

// ---------------------------------------------------------------- digest

int RunDigest(const CkptOptions& opt) {
  absl::Status st = CheckCheckpointFolder(opt.dir);
  absl::StatusOr<CheckpointChain> chain =
      st.ok() ? ReadCheckpointChain(opt.dir) : st;
  if (!chain.ok()) {
    return Fail("freshet ckpt digest", chain.status().message(), 1);
  }
  std::printf("%s", ChainDigestText(*chain).c_str());
  return 0;
}

// ---------------------------------------------------------------- now

int RunNow(const CkptOptions& opt) {
  constexpr char kNow[] = "freshet ckpt now";
  std::string token = opt.token;
  if (token.empty()) {
    if (const char* env = std::getenv("FRESHET_ADMIN_TOKEN")) token = env;
  }
  std::string host;
  int port = 0;
  if (!ParseHostPort(opt.addr, &host, &port)) {
    return Fail(kNow, "--addr: expected HOST:PORT, got \"" + opt.addr + "\"",
                2);
  }
  if (token.empty()) {
    return Fail(kNow, "no admin token: pass --token or set FRESHET_ADMIN_TOKEN",
                2);
  }
  absl::StatusOr<std::string> reply =
      CallAdmin(opt.addr, token, "checkpoint", opt.timeout_s);
  if (!reply.ok()) return Fail(kNow, reply.status().message(), 1);
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
      ->check(PositiveNumber());

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
