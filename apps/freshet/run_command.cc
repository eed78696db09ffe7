// `freshet run`: the embedded pipeline in one process (EmbeddedJob, source →
// trainer → sync → serving replica → HTTP front end): flags, the progress
// line every 10 s and the summary at exit.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "apps/freshet/command.h"
#include "apps/freshet/serve_flags.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/base/file_system.h"
#include "freshet/base/stop_signal.h"
#include "freshet/job/embedded_job.h"
#include "freshet/job/job_inputs.h"
#include "freshet/job/restore_model.h"

namespace freshet {
namespace {

constexpr char kCommand[] = "freshet run";

struct RunOptions {
  JobInputs job;
  ServeFlags serve;  // with run's shorthands for sync and serve keys
  std::string freshness_json;
  std::string window_log;
};

// Training has stopped: the final checkpoint, when one was due.
void OnTrainingStopped(const std::optional<absl::StatusOr<Manifest>>& final) {
  if (final && final->ok()) {
    std::fprintf(stderr, "freshet run: final checkpoint %s\n",
                 DescribeCheckpoint(**final).c_str());
  } else if (final) {
    std::fprintf(stderr, "freshet run: final checkpoint failed: %s\n",
                 std::string(final->status().message()).c_str());
  }
}

int RunRun(const RunOptions& opt) {
  // The flags are shorthands for config keys, so the config's validation
  // (and its messages) covers them too.
  absl::StatusOr<JobConfig> job =
      LoadJob(opt.job, ServeOverrides(opt.serve.keys));
  if (!job.ok()) return Fail(kCommand, job.status().message(), 2);
  EmbeddedJobOptions jopt;
  jopt.on_training_stopped = OnTrainingStopped;
  jopt.window_log = opt.window_log;
  absl::StatusOr<std::unique_ptr<EmbeddedJob>> run =
      EmbeddedJob::Create(*job, jopt);
  if (!run.ok()) return Fail(kCommand, run.status().message(), 2);
  EmbeddedJob& j = **run;
  if (absl::Status st = j.Start(); !st.ok()) {
    return Fail(kCommand, st.message(), 1);
  }
  std::fprintf(stderr,
               "freshet run: serving http://%s:%d (POST /v1/predict, GET "
               "/healthz /statusz /metrics), sync every %g ms\n",
               job->serve.bind.c_str(), j.port(), j.sync_interval_ms());
  WritePortFileOrWarn(opt.serve.port_file, j.port());

  absl::Status train_status;
  {
    StopSignal signals;
    double last_line = MonotonicSeconds();
    bool announced_done = false;
    signals.Wait(opt.serve.duration_s, [&](double now) {
      if (j.training_done() && !announced_done) {
        announced_done = true;
        std::fprintf(stderr,
                     "freshet run: the stream ended; still serving the final "
                     "model\n");
        if (!j.training_status().ok()) return false;
      }
      if (now - last_line >= 10.0) {
        last_line = now;
        std::fprintf(stderr, "%s\n", RunProgressLine(j.Report()).c_str());
      }
      return true;
    });
    train_status = j.Stop();
  }

  const EmbeddedJobReport report = j.Report();
  std::printf("%s", RunSummaryText(report).c_str());
  bool side_file_failed = false;
  if (!opt.freshness_json.empty()) {
    if (absl::Status st =
            WriteStringToFile(FileSystem::Default(), opt.freshness_json,
                              FreshnessJson(report).dump(2) + "\n");
        !st.ok()) {
      side_file_failed = true;
      Fail(kCommand,
           absl::StrCat("--freshness-json ", opt.freshness_json,
                        " not written: ", st.message()),
           1);
    }
  }
  if (!train_status.ok()) return Fail(kCommand, train_status.message(), 1);
  return j.final_checkpoint_failed() || side_file_failed ? 1 : 0;
}

CommandRunner SetupRun(CLI::App& app) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Train on a stream and serve the model over HTTP in one process, "
      "with sub-second parameter sync from training to serving");
  AddJobOptions(cmd, &opt->job);
  cmd->add_flag("--follow", opt->job.follow, "Keep training as the log grows");
  AddServeFlags(cmd, &opt->serve,
                "Flag responses stale when the served version is older, "
                "serve.stale_after (default 5 x the sync interval, at "
                "least 1000)");
  ServeShorthands& keys = opt->serve.keys;
  cmd->add_option("--sync-interval-ms", keys.sync_interval_ms,
                  "Training -> serving sync interval, sync.interval "
                  "(default 1000)");
  cmd->add_option("--max-candidates", keys.max_candidates,
                  "Most candidates per request, serve.max_candidates "
                  "(default 1000)");
  cmd->add_option("--max-body-bytes", keys.max_body_bytes,
                  "Largest request body, serve.max_body_bytes (default 1MiB)");
  cmd->add_option("--http-threads", keys.http_threads,
                  "HTTP worker threads, serve.http_threads (default 4)");
  cmd->add_option("--checkpoint-dir", opt->job.checkpoint_dir,
                  "Checkpoint folder (checkpoint.dir): resume from its newest "
                  "good checkpoint, write checkpoints per the job's "
                  "checkpoint section, on POST /admin/checkpoint and on exit");
  cmd->add_option("--freshness-json", opt->freshness_json,
                  "Write the final freshness percentiles as JSON here");
  cmd->add_option("--window-log", opt->window_log,
                  "Write a JSON line of window metrics every "
                  "train.window_examples examples to this file (a line that "
                  "cannot be written is counted in /metrics; training goes "
                  "on)");
  return [opt] { return RunRun(*opt); };
}

FRESHET_REGISTER_COMMAND(15, SetupRun);

}  // namespace
}  // namespace freshet
