// `freshet run`: the embedded pipeline in one process (EmbeddedJob, source →
// trainer → sync → serving replica → HTTP front end): flags, the progress
// line every 10 s and the summary at exit.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apps/freshet/command.h"
#include "apps/freshet/serve_flags.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/job/embedded_job.h"
#include "freshet/job/job_inputs.h"
#include "freshet/job/restore_model.h"

namespace freshet {
namespace {

struct RunOptions {
  JobInputs job;
  ServeFlags serve;
  // Shorthands for the job's sync and serve keys; unset: the job's value.
  std::optional<int64_t> sync_interval_ms;
  std::optional<int> max_candidates;
  std::optional<int64_t> max_body_bytes;
  std::optional<int> http_threads;
  std::string freshness_json;
};

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int RunRun(const RunOptions& opt) {
  // The flags are shorthands for config keys, so the config's validation
  // (and its messages) covers them too.
  std::vector<std::string> overrides;
  if (opt.sync_interval_ms) {
    overrides.push_back(
        absl::StrCat("sync.interval=", *opt.sync_interval_ms, "ms"));
  }
  AppendServeOverrides(opt.serve, &overrides);
  if (opt.max_candidates) {
    overrides.push_back(
        absl::StrCat("serve.max_candidates=", *opt.max_candidates));
  }
  if (opt.max_body_bytes) {
    overrides.push_back(
        absl::StrCat("serve.max_body_bytes=", *opt.max_body_bytes));
  }
  if (opt.http_threads) {
    overrides.push_back(absl::StrCat("serve.http_threads=", *opt.http_threads));
  }
  absl::StatusOr<JobConfig> job = LoadJob(opt.job, overrides);
  if (!job.ok()) {
    std::cerr << "freshet run: " << job.status().message() << "\n";
    return 2;
  }
  EmbeddedJobOptions jopt;
  jopt.on_training_stopped =
      [](const std::optional<absl::StatusOr<Manifest>>& final) {
        if (final && final->ok()) {
          std::fprintf(stderr, "freshet run: final checkpoint %s\n",
                       DescribeCheckpoint(**final).c_str());
        } else if (final) {
          std::fprintf(stderr, "freshet run: final checkpoint failed: %s\n",
                       std::string(final->status().message()).c_str());
        }
      };
  absl::StatusOr<std::unique_ptr<EmbeddedJob>> run =
      EmbeddedJob::Create(*job, jopt);
  if (!run.ok()) {
    std::cerr << "freshet run: " << run.status().message() << "\n";
    return 2;
  }
  EmbeddedJob& j = **run;
  if (absl::Status st = j.Start(); !st.ok()) {
    std::cerr << "freshet run: " << st.message() << "\n";
    return 1;
  }
  std::fprintf(stderr,
               "freshet run: serving http://%s:%d (POST /v1/predict, GET "
               "/healthz /statusz /metrics), sync every %g ms\n",
               job->serve.bind.c_str(), j.port(), j.sync_interval_ms());
  WritePortFile(opt.serve.port_file, j.port());

  g_stop.store(false);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  const double start = MonotonicSeconds();
  double last_line = start;
  bool announced_done = false;
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const double now = MonotonicSeconds();
    if (opt.serve.duration_s > 0 && now - start >= opt.serve.duration_s) break;
    if (j.training_done() && !announced_done) {
      announced_done = true;
      std::fprintf(stderr,
                   "freshet run: the stream ended; still serving the final "
                   "model\n");
      if (!j.training_status().ok()) break;
    }
    if (now - last_line >= 10.0) {
      last_line = now;
      const TrainerProgress p = j.progress();
      std::fprintf(
          stderr,
          "%lld examples  %.0f ex/s  window auc %.4f  |  serving "
          "v%llu  %lld requests  freshness p50 %.0f ms p99 %.0f ms\n",
          static_cast<long long>(p.examples), p.examples_per_sec, p.window_auc,
          static_cast<unsigned long long>(j.replica().status().version),
          static_cast<long long>(j.server().requests()),
          j.replica().freshness().Percentile(0.5) * 1000,
          j.replica().freshness().Percentile(0.99) * 1000);
    }
  }
  const absl::Status train_status = j.Stop();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  const TrainerProgress p = j.progress();
  const SyncStats s = j.sync_stats();
  const ReplicaStatus rs = j.replica().status();
  const Histogram& f = j.replica().freshness();
  const HttpServer& server = j.server();
  std::printf(
      "trained      %lld examples in %.1f s (%.0f examples/s), "
      "progressive auc %.4f logloss %.4f\n",
      static_cast<long long>(p.examples), p.seconds, p.examples_per_sec, p.auc,
      p.logloss);
  std::printf(
      "sync         %lld batches, %lld rows, %.1f MiB, serving "
      "version %llu\n",
      static_cast<long long>(s.batches), static_cast<long long>(s.rows),
      s.bytes / 1048576.0, static_cast<unsigned long long>(rs.version));
  std::printf(
      "freshness    p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms "
      "(%lld batches with updates)\n",
      f.Percentile(0.5) * 1000, f.Percentile(0.9) * 1000,
      f.Percentile(0.99) * 1000, f.Percentile(1.0) * 1000,
      static_cast<long long>(f.count()));
  std::printf(
      "serving      %lld requests, %lld errors, latency p50 %.2f ms "
      "p99 %.2f ms\n",
      static_cast<long long>(server.requests()),
      static_cast<long long>(server.errors()),
      server.latency().Percentile(0.5) * 1000,
      server.latency().Percentile(0.99) * 1000);
  if (!opt.freshness_json.empty()) {
    std::ofstream out(opt.freshness_json);
    out << nlohmann::json{{"p50_ms", f.Percentile(0.5) * 1000},
                          {"p90_ms", f.Percentile(0.9) * 1000},
                          {"p99_ms", f.Percentile(0.99) * 1000},
                          {"max_ms", f.Percentile(1.0) * 1000},
                          {"batches", f.count()},
                          {"examples", p.examples},
                          {"sync_rows", s.rows},
                          {"sync_bytes", s.bytes}}
               .dump(2)
        << "\n";
  }
  if (!train_status.ok()) {
    std::cerr << "freshet run: " << train_status.message() << "\n";
    return 1;
  }
  return j.final_checkpoint_failed() ? 1 : 0;
}

CommandRunner SetupRun(CLI::App& app) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Train on a stream and serve the model over HTTP in one process, "
      "with sub-second parameter sync from training to serving");
  AddConfigOptions(cmd, &opt->job.config, &opt->job.overrides);
  cmd->add_option("--data", opt->job.data,
                  "Read this file or folder of segments instead of the "
                  "job's source");
  cmd->add_flag("--follow", opt->job.follow, "Keep training as the log grows");
  AddServeFlags(cmd, &opt->serve,
                "Flag responses stale when the served version is older, "
                "serve.stale_after (default 5 x the sync interval, at "
                "least 1000)");
  cmd->add_option("--sync-interval-ms", opt->sync_interval_ms,
                  "Training -> serving sync interval, sync.interval "
                  "(default 1000)");
  cmd->add_option("--max-candidates", opt->max_candidates,
                  "Most candidates per request, serve.max_candidates "
                  "(default 1000)");
  cmd->add_option("--max-body-bytes", opt->max_body_bytes,
                  "Largest request body, serve.max_body_bytes (default 1MiB)");
  cmd->add_option("--http-threads", opt->http_threads,
                  "HTTP worker threads, serve.http_threads (default 4)");
  cmd->add_option("--checkpoint-dir", opt->job.checkpoint_dir,
                  "Checkpoint folder (checkpoint.dir): resume from its newest "
                  "good checkpoint, write checkpoints per the job's "
                  "checkpoint section, on POST /admin/checkpoint and on exit");
  cmd->add_option("--freshness-json", opt->freshness_json,
                  "Write the final freshness percentiles as JSON here");
  return [opt] { return RunRun(*opt); };
}

FRESHET_REGISTER_COMMAND(15, SetupRun);

}  // namespace
}  // namespace freshet
