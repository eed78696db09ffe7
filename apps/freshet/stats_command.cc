// `freshet stats`: parses a stream and reports what is in it.
//
// Prints records/s, malformed records by kind, the label rate, and per slot
// the distinct ids and the most frequent ids. Ids are the 64-bit feature ids
// (docs/formats.md), printed in hex. `--json` prints the same as one JSON
// object on stdout instead.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/freshet/command.h"
#include "freshet/base/config.h"
#include "freshet/data/example_reader.h"
#include "freshet/data/schema.h"
#include "freshet/data/stream_stats.h"
#include "freshet/job/job_inputs.h"

namespace freshet {
namespace {

constexpr char kCommand[] = "freshet stats";

struct StatsOptions {
  JobInputs job;
  int64_t max_records = 0;
  int top = 5;
  bool json = false;
};

int RunStats(const StatsOptions& opt) {
  absl::StatusOr<JobConfig> job = LoadJob(opt.job);
  if (!job.ok()) return Fail(kCommand, job.status().message(), 2);
  auto schema = Schema::Compile(job->schema);
  if (!schema.ok()) {
    return Fail(kCommand,
                job->path + ": " + std::string(schema.status().message()), 2);
  }
  auto reader = ExampleReader::Open(job->source, *schema);
  if (!reader.ok()) return Fail(kCommand, reader.status().message(), 2);

  StreamStats stats(*schema);
  absl::StatusOr<double> seconds =
      ScanStream(**reader, opt.max_records, &stats);
  if (!seconds.ok()) return Fail(kCommand, seconds.status().message(), 1);
  const ReaderCounters& c = (*reader)->counters();
  if (opt.json) {
    nlohmann::json out = stats.ToJson(c, opt.top);
    out["seconds"] = *seconds;
    out["records_per_sec"] = c.records / *seconds;
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("%s", stats.ToText(c, opt.top, *seconds).c_str());
  }
  return 0;
}

CommandRunner SetupStats(CLI::App& app) {
  auto opt = std::make_shared<StatsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "stats",
      "Parse a stream and print records/s, malformed records by kind, "
      "label rate, distinct and top ids per slot");
  AddJobOptions(cmd, &opt->job);
  cmd->add_option("--max-records", opt->max_records,
                  "Stop after this many examples (0: the whole stream)")
      ->check(FiniteNumber(0));
  cmd->add_option("--top", opt->top, "Top ids shown per slot")
      ->capture_default_str()
      ->check(FiniteNumber(0));
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of text");
  return [opt] { return RunStats(*opt); };
}

FRESHET_REGISTER_COMMAND(70, SetupStats);

}  // namespace
}  // namespace freshet
