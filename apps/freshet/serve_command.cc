// `freshet serve --checkpoint DIR`: serves the newest good checkpoint of a
// folder, read-only, and follows it (CheckpointServing): flags, a look for a
// newer checkpoint every --reload-every seconds, and the summary at exit.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "apps/freshet/command.h"
#include "apps/freshet/serve_flags.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/base/logging.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/job/checkpoint_serving.h"

namespace freshet {
namespace {

struct ServeOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string checkpoint;
  double reload_every_s = 10;
  ServeFlags serve;
};
std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int RunServe(const ServeOptions& opt) {
  std::vector<std::string> overrides = opt.overrides;
  // The flags are shorthands for config keys, as in `freshet run`.
  AppendServeOverrides(opt.serve, &overrides);
  absl::StatusOr<JobConfig> job = LoadJobConfig(opt.config, overrides);
  if (!job.ok()) {
    std::cerr << "freshet serve: " << job.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<CheckpointServing>> serving =
      CheckpointServing::Create(*job, opt.checkpoint);
  if (!serving.ok()) {
    std::cerr << "freshet serve: " << serving.status().message() << "\n";
    return 2;
  }
  CheckpointServing& s = **serving;
  if (absl::Status st = s.Start(); !st.ok()) {
    std::cerr << "freshet serve: " << st.message() << "\n";
    return 1;
  }
  ServedChain served = s.served();
  std::fprintf(stderr,
               "freshet serve: serving %s (chain %s, %lld rows) read-only on "
               "http://%s:%d (POST /v1/predict, GET /healthz /statusz "
               "/metrics)\n",
               served.name.c_str(), absl::StrJoin(served.ids, ", ").c_str(),
               static_cast<long long>(served.rows), job->serve.bind.c_str(),
               s.port());
  WritePortFile(opt.serve.port_file, s.port());

  g_stop.store(false);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  const double start = MonotonicSeconds();
  double next_look = start + opt.reload_every_s;
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const double now = MonotonicSeconds();
    if (opt.serve.duration_s > 0 && now - start >= opt.serve.duration_s) {
      break;
    }
    if (opt.reload_every_s <= 0 || now < next_look) continue;
    next_look = now + opt.reload_every_s;
    const uint64_t current = served.last.id;
    absl::StatusOr<bool> reloaded = s.Reload();
    if (!reloaded.ok()) {
      FRESHET_LOG_WARN("freshet serve: keeps serving {}: {}",
                       CheckpointDirName(current),
                       std::string(reloaded.status().message()));
    } else if (*reloaded) {
      served = s.served();
      FRESHET_LOG_INFO("freshet serve: now serving {} (chain {}, {} rows)",
                       served.name, absl::StrJoin(served.ids, ", "),
                       served.rows);
    }
  }
  s.Stop();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::printf(
      "serving      %s: %lld requests, %lld errors, latency p50 %.2f ms "
      "p99 %.2f ms\n",
      CheckpointDirName(served.last.id).c_str(),
      static_cast<long long>(s.server().requests()),
      static_cast<long long>(s.server().errors()),
      s.server().latency().Percentile(0.5) * 1000,
      s.server().latency().Percentile(0.99) * 1000);
  return 0;
}

CommandRunner SetupServe(CLI::App& app) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve the newest good checkpoint of a folder, read-only, over the "
      "HTTP API of `freshet run`, and follow the folder for newer ones");
  AddConfigOptions(cmd, &opt->config, &opt->overrides);
  cmd->add_option("--checkpoint", opt->checkpoint,
                  "Checkpoint folder (holding ckpt-<id> directories)")
      ->required();
  cmd->add_option("--reload-every", opt->reload_every_s,
                  "Seconds between looks for a newer checkpoint in the "
                  "folder, which then replaces the one served (0: never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  AddServeFlags(cmd, &opt->serve,
                "Flag responses stale once the checkpoint is older than "
                "this, serve.stale_after (default: never)");
  return [opt] { return RunServe(*opt); };
}

FRESHET_REGISTER_COMMAND(20, SetupServe);

}  // namespace
}  // namespace freshet
