// `freshet serve --checkpoint DIR`: serves the newest good checkpoint of a
// folder, read-only, and follows it (CheckpointServing): flags, a look for a
// newer checkpoint every --reload-every seconds, and the summary at exit.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_join.h"
#include "apps/freshet/command.h"
#include "apps/freshet/serve_flags.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/base/logging.h"
#include "freshet/base/stop_signal.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/job/checkpoint_serving.h"
#include "freshet/job/job_inputs.h"

namespace freshet {
namespace {

constexpr char kCommand[] = "freshet serve";

struct ServeOptions {
  JobInputs job;  // --config and --set
  std::string checkpoint;
  double reload_every_s = 10;
  ServeFlags serve;
};

int RunServe(const ServeOptions& opt) {
  // The flags are shorthands for config keys, as in `freshet run`.
  absl::StatusOr<JobConfig> job =
      LoadJob(opt.job, ServeOverrides(opt.serve.keys));
  if (!job.ok()) return Fail(kCommand, job.status().message(), 2);
  absl::StatusOr<std::unique_ptr<CheckpointServing>> serving =
      CheckpointServing::Create(*job, opt.checkpoint);
  if (!serving.ok()) return Fail(kCommand, serving.status().message(), 2);
  CheckpointServing& s = **serving;
  if (absl::Status st = s.Start(); !st.ok()) {
    return Fail(kCommand, st.message(), 1);
  }
  ServedChain served = s.served();
  std::fprintf(stderr,
               "freshet serve: serving %s (chain %s, %lld rows) read-only on "
               "http://%s:%d (POST /v1/predict, GET /healthz /statusz "
               "/metrics)\n",
               served.name.c_str(), absl::StrJoin(served.ids, ", ").c_str(),
               static_cast<long long>(served.rows), job->serve.bind.c_str(),
               s.port());
  WritePortFileOrWarn(opt.serve.port_file, s.port());

  {
    StopSignal signals;
    double next_look = MonotonicSeconds() + opt.reload_every_s;
    signals.Wait(opt.serve.duration_s, [&](double now) {
      if (opt.reload_every_s <= 0 || now < next_look) return true;
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
      return true;
    });
    s.Stop();
  }
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
  AddConfigOptions(cmd, &opt->job.config, &opt->job.overrides);
  cmd->add_option("--checkpoint", opt->checkpoint,
                  "Checkpoint folder (holding ckpt-<id> directories)")
      ->required();
  cmd->add_option("--reload-every", opt->reload_every_s,
                  "Seconds between looks for a newer checkpoint in the "
                  "folder, which then replaces the one served (0: never)")
      ->capture_default_str()
      ->check(FiniteNumber(0));
  AddServeFlags(cmd, &opt->serve,
                "Flag responses stale once the checkpoint is older than "
                "this, serve.stale_after (default: never)");
  return [opt] { return RunServe(*opt); };
}

FRESHET_REGISTER_COMMAND(20, SetupServe);

}  // namespace
}  // namespace freshet
