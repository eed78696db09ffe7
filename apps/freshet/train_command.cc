// `freshet train`: one pass over a stream in stream order, with progressive
// validation, a progress line and a final summary.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "apps/freshet/command.h"
#include "freshet/base/config.h"
#include "freshet/base/human_bytes.h"
#include "freshet/job/job_inputs.h"
#include "freshet/job/restore_model.h"
#include "freshet/job/training_job.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

struct TrainOptions {
  JobInputs job;
  bool deterministic = false;
  int64_t max_examples = 0;
  std::string metrics_json;
  std::string window_log;
};

std::atomic<TrainingJob*> g_job{nullptr};

void OnSignal(int) {
  // Stop() only stores an atomic flag: async-signal-safe.
  if (TrainingJob* t = g_job.load()) t->Stop();
}

std::string ProgressLine(const TrainerProgress& p) {
  return absl::StrFormat(
      "%lld examples  %.0f ex/s  window auc %.4f logloss %.4f  |  auc %.4f "
      "logloss %.4f  |  %lld rows %s",
      static_cast<long long>(p.examples), p.examples_per_sec, p.window_auc,
      p.window_logloss, p.auc, p.logloss, static_cast<long long>(p.table_rows),
      HumanBytes(static_cast<uint64_t>(p.table_bytes)));
}

int RunTrain(const TrainOptions& opt) {
  absl::StatusOr<JobConfig> job = LoadJob(opt.job);
  if (!job.ok()) {
    std::cerr << "freshet train: " << job.status().message() << "\n";
    return 2;
  }
  TrainerOptions topt;
  topt.deterministic = opt.deterministic;
  topt.max_examples = opt.max_examples;
  topt.window_log = opt.window_log;
  const bool tty = isatty(STDERR_FILENO);
  topt.progress_interval_s = tty ? 0.5 : 10.0;
  absl::StatusOr<std::unique_ptr<TrainingJob>> train =
      TrainingJob::Create(*job, topt);
  if (!train.ok()) {
    std::cerr << "freshet train: " << train.status().message() << "\n";
    return 2;
  }
  TrainingJob& t = **train;
  if (absl::Status st = t.Start(); !st.ok()) {
    std::cerr << "freshet train: " << st.message() << "\n";
    return 1;
  }
  g_job.store(&t);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  absl::Status status = t.Run([&](const TrainerProgress& p) {
    if (tty) {
      std::fprintf(stderr, "\r\033[K%s", ProgressLine(p).c_str());
    } else {
      std::fprintf(stderr, "%s\n", ProgressLine(p).c_str());
    }
    std::fflush(stderr);
  });
  if (tty) std::fprintf(stderr, "\n");
  g_job.store(nullptr);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!status.ok()) {
    std::cerr << "freshet train: " << status.message() << "\n";
    return 1;
  }
  // Training stopped (end of stream, SIGTERM, Ctrl-C): the final checkpoint.
  bool checkpoint_failed = false;
  std::string checkpoint_line;
  if (CheckpointedTraining* ckpt = t.checkpoints()) {
    std::optional<absl::StatusOr<Manifest>> final = t.Finish();
    if (final && final->ok()) {
      checkpoint_line =
          absl::StrCat(DescribeCheckpoint(**final), " in ", ckpt->dir());
    } else if (final) {
      checkpoint_failed = true;
      std::cerr << "freshet train: final checkpoint failed: "
                << final->status().message() << "\n";
    }
    const CheckpointerStats cs = ckpt->checkpointer().Stats();
    if (cs.failed > 0) {
      std::cerr << "freshet train: " << cs.failed
                << " checkpoint write(s) failed; last error: " << cs.last_error
                << "\n";
    }
  }

  const TrainerProgress p = t.trainer().Progress();
  const uint64_t digest = ModelDigest(t.store());
  // Forward + backward of the dense part: about three forward passes.
  const double dense_gflops = 3.0 *
                              t.store().dense().forward_flops_per_example() *
                              p.examples_per_sec / 1e9;
  std::printf(
      "trained %s on %lld examples (%lld records, %lld malformed) in %.2f s: "
      "%.0f examples/s\n",
      job->model.type.c_str(), static_cast<long long>(p.examples),
      static_cast<long long>(p.records), static_cast<long long>(p.malformed),
      p.seconds, p.examples_per_sec);
  std::printf("progressive  auc %.4f  logloss %.4f  calibration %.3f\n", p.auc,
              p.logloss, p.calibration);
  std::printf("last window  auc %.4f  logloss %.4f  (%lld examples)\n",
              p.window_auc, p.window_logloss,
              static_cast<long long>(
                  std::min<int64_t>(p.examples, job->train.window_examples)));
  std::printf("tables       %lld rows, %s\n",
              static_cast<long long>(p.table_rows),
              HumanBytes(static_cast<uint64_t>(p.table_bytes)).c_str());
  std::printf("digest       %016llx\n",
              static_cast<unsigned long long>(digest));
  if (!checkpoint_line.empty()) {
    std::printf("checkpoint   %s\n", checkpoint_line.c_str());
  }
  if (!opt.metrics_json.empty()) {
    std::ofstream out(opt.metrics_json);
    out << TrainingMetricsJson(p, digest, dense_gflops).dump(2) << "\n";
    if (!out) {
      std::cerr << "freshet train: cannot write " << opt.metrics_json << "\n";
      return 1;
    }
  }
  return checkpoint_failed ? 1 : 0;
}

CommandRunner SetupTrain(CLI::App& app) {
  auto opt = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train on a stream in stream order with progressive validation "
      "(every example is scored before it is trained on)");
  AddConfigOptions(cmd, &opt->job.config, &opt->job.overrides);
  cmd->add_option("--data", opt->job.data,
                  "Read this file or folder of segments instead of the "
                  "job's source");
  cmd->add_flag("--follow", opt->job.follow,
                "Keep training as the log grows (stop with Ctrl-C or "
                "SIGTERM)");
  cmd->add_flag("--deterministic", opt->deterministic,
                "One compute thread and fixed seeds: bit-identical runs");
  cmd->add_option("--max-examples", opt->max_examples,
                  "Stop after this many examples (0: the whole stream)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--checkpoint-dir", opt->job.checkpoint_dir,
                  "Checkpoint folder (checkpoint.dir): resume from its newest "
                  "good checkpoint, write checkpoints per the job's "
                  "checkpoint section and a final one on exit");
  cmd->add_option("--metrics-json", opt->metrics_json,
                  "Write the final metrics as one JSON object to this file");
  cmd->add_option("--window-log", opt->window_log,
                  "Append a JSON line of window metrics every "
                  "train.window_examples examples to this file");
  return [opt] { return RunTrain(*opt); };
}

FRESHET_REGISTER_COMMAND(10, SetupTrain);

}  // namespace
}  // namespace freshet
