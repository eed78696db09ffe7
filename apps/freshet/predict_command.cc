// `freshet predict --checkpoint DIR --data FILE [--out FILE]`: scores a
// file's records offline with the newest good checkpoint of a folder
// (BatchScorer, job/batch_scorer.h has the output format), progress and the
// malformed-record counts on stderr.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apps/freshet/command.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/data/stream_stats.h"
#include "freshet/job/batch_scorer.h"
#include "freshet/job/restore_model.h"

namespace freshet {
namespace {

constexpr char kCommand[] = "freshet predict";

struct PredictOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string checkpoint;
  std::string data;
  std::string out;
};

int RunPredict(const PredictOptions& opt) {
  absl::StatusOr<JobConfig> job = LoadJobConfig(opt.config, opt.overrides);
  if (!job.ok()) return Fail(kCommand, job.status().message(), 2);
  // Before the restore, which may take long for a large model.
  std::error_code ec;
  if (!std::filesystem::exists(opt.data, ec)) {
    return Fail(kCommand, opt.data + ": no such file or folder", 1);
  }
  absl::StatusOr<std::unique_ptr<BatchScorer>> scorer =
      BatchScorer::Create(*job, opt.checkpoint);
  if (!scorer.ok()) return Fail(kCommand, scorer.status().message(), 1);
  std::fprintf(stderr, "freshet predict: scoring %s with %s\n",
               opt.data.c_str(),
               DescribeCheckpoint((*scorer)->checkpoint()).c_str());
  std::ofstream file;
  if (!opt.out.empty()) {
    file.open(opt.out);
    if (!file) return Fail(kCommand, "cannot write " + opt.out, 1);
  }
  std::ostream* out = opt.out.empty() ? &std::cout : &file;
  const double start = MonotonicSeconds();
  double last_line = start;
  absl::StatusOr<ScoreCounts> counts =
      (*scorer)->ScoreFile(opt.data, out, [&](const ScoreCounts& c) {
        const double now = MonotonicSeconds();
        if (now - last_line < 2.0) return;
        last_line = now;
        std::fprintf(stderr, "freshet predict: %lld records, %lld scored, %s\n",
                     static_cast<long long>(c.reader.records),
                     static_cast<long long>(c.scored),
                     MalformedText(c.reader).c_str());
      });
  out->flush();
  if (counts.ok() && !*out) {
    counts = absl::DataLossError(
        absl::StrCat("cannot write ", opt.out.empty() ? "stdout" : opt.out));
  }
  if (!counts.ok()) {
    return Fail(kCommand,
                opt.data + ": " + std::string(counts.status().message()), 1);
  }
  const double seconds = MonotonicSeconds() - start;
  std::fprintf(stderr,
               "freshet predict: scored %lld of %lld records in %.1f s, %s\n",
               static_cast<long long>(counts->scored),
               static_cast<long long>(counts->reader.records), seconds,
               MalformedText(counts->reader).c_str());
  return 0;
}

CommandRunner SetupPredict(CLI::App& app) {
  auto opt = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Score a file's records offline with the newest good checkpoint of a "
      "folder, through the training path: one \"RECORD<TAB>SCORE\" line per "
      "record");
  AddConfigOptions(cmd, &opt->config, &opt->overrides);
  cmd->add_option("--checkpoint", opt->checkpoint,
                  "Checkpoint folder (holding ckpt-<id> directories)")
      ->required();
  cmd->add_option("--data", opt->data,
                  "File or folder of segments to score, in the job's source "
                  "format")
      ->required();
  cmd->add_option("--out", opt->out, "Write the scores here (default stdout)");
  return [opt] { return RunPredict(*opt); };
}

FRESHET_REGISTER_COMMAND(25, SetupPredict);

}  // namespace
}  // namespace freshet
