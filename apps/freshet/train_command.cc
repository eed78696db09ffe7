// `freshet train`: one pass over a stream in stream order, with progressive
// validation, a progress line and a final summary.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "apps/freshet/command.h"
#include "freshet/base/config.h"
#include "freshet/base/file_system.h"
#include "freshet/base/stop_signal.h"
#include "freshet/job/job_inputs.h"
#include "freshet/job/restore_model.h"
#include "freshet/job/training_job.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

constexpr char kCommand[] = "freshet train";

struct TrainOptions {
  JobInputs job;
  bool deterministic = false;
  int64_t max_examples = 0;
  std::string metrics_json;
  std::string window_log;
};

// On SIGINT/SIGTERM: Stop() only stores an atomic flag, async-signal-safe.
void StopJob(void* job) { static_cast<TrainingJob*>(job)->Stop(); }

int RunTrain(const TrainOptions& opt) {
  absl::StatusOr<JobConfig> job = LoadJob(opt.job);
  if (!job.ok()) return Fail(kCommand, job.status().message(), 2);
  TrainerOptions topt;
  topt.deterministic = opt.deterministic;
  topt.max_examples = opt.max_examples;
  topt.window_log = opt.window_log;
  const bool tty = isatty(STDERR_FILENO);
  topt.progress_interval_s = tty ? 0.5 : 10.0;
  absl::StatusOr<std::unique_ptr<TrainingJob>> train =
      TrainingJob::Create(*job, topt);
  if (!train.ok()) return Fail(kCommand, train.status().message(), 2);
  TrainingJob& t = **train;
  if (absl::Status st = t.Start(); !st.ok()) {
    return Fail(kCommand, st.message(), 1);
  }
  absl::Status status;
  {
    StopSignal signals(StopJob, &t);
    status = t.Run([&](const TrainerProgress& p) {
      if (tty) {
        std::fprintf(stderr, "\r\033[K%s", TrainingProgressLine(p).c_str());
      } else {
        std::fprintf(stderr, "%s\n", TrainingProgressLine(p).c_str());
      }
      std::fflush(stderr);
    });
    if (tty) std::fprintf(stderr, "\n");
  }
  if (!status.ok()) return Fail(kCommand, status.message(), 1);
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
  std::printf(
      "%s", TrainingSummaryText(job->model.type, p, job->train.window_examples,
                                digest, checkpoint_line)
                .c_str());
  if (!opt.metrics_json.empty()) {
    // Written at exit, after the summary: a file that cannot be written
    // takes nothing else with it, and the exit code says it is missing.
    const std::string text =
        TrainingMetricsJson(p, digest, t.DenseGflops(p.examples_per_sec))
            .dump(2) +
        "\n";
    if (absl::Status st =
            WriteStringToFile(FileSystem::Default(), opt.metrics_json, text);
        !st.ok()) {
      return Fail(kCommand,
                  absl::StrCat("--metrics-json ", opt.metrics_json,
                               " not written: ", st.message()),
                  1);
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
  AddJobOptions(cmd, &opt->job);
  cmd->add_flag("--follow", opt->job.follow,
                "Keep training as the log grows (stop with Ctrl-C or "
                "SIGTERM)");
  cmd->add_flag("--deterministic", opt->deterministic,
                "One compute thread and fixed seeds: bit-identical runs");
  cmd->add_option("--max-examples", opt->max_examples,
                  "Stop after this many examples (0: the whole stream)")
      ->check(FiniteNumber(0));
  cmd->add_option("--checkpoint-dir", opt->job.checkpoint_dir,
                  "Checkpoint folder (checkpoint.dir): resume from its newest "
                  "good checkpoint, write checkpoints per the job's "
                  "checkpoint section and a final one on exit");
  cmd->add_option("--metrics-json", opt->metrics_json,
                  "Write the final metrics as one JSON object to this file");
  cmd->add_option("--window-log", opt->window_log,
                  "Write a JSON line of window metrics every "
                  "train.window_examples examples to this file (a line that "
                  "cannot be written is counted; training goes on)");
  return [opt] { return RunTrain(*opt); };
}

FRESHET_REGISTER_COMMAND(10, SetupTrain);

}  // namespace
}  // namespace freshet
