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
#include <vector>

#include "absl/strings/str_format.h"
#include "apps/freshet/command.h"
#include "freshet/base/config.h"
#include "freshet/data/example_reader.h"
#include "freshet/data/schema.h"
#include "freshet/data/stream_stats.h"
#include "freshet/job/job_inputs.h"

namespace freshet {
namespace {

struct StatsOptions {
  JobInputs job;
  int64_t max_records = 0;
  int top = 5;
  bool json = false;
};

int RunStats(const StatsOptions& opt) {
  absl::StatusOr<JobConfig> job = LoadJob(opt.job);
  if (!job.ok()) {
    std::cerr << "freshet stats: " << job.status().message() << "\n";
    return 2;
  }
  auto schema = Schema::Compile(job->schema);
  if (!schema.ok()) {
    std::cerr << "freshet stats: " << job->path << ": "
              << schema.status().message() << "\n";
    return 2;
  }
  auto reader = ExampleReader::Open(job->source, *schema);
  if (!reader.ok()) {
    std::cerr << "freshet stats: " << reader.status().message() << "\n";
    return 2;
  }

  const Schema& s = **schema;
  StreamStats stats(*schema);
  absl::StatusOr<double> seconds =
      ScanStream(**reader, opt.max_records, &stats);
  if (!seconds.ok()) {
    std::cerr << "freshet stats: " << seconds.status().message() << "\n";
    return 1;
  }
  const ReaderCounters& c = (*reader)->counters();
  nlohmann::json out = stats.ToJson(c, opt.top);
  out["seconds"] = *seconds;
  out["records_per_sec"] = c.records / *seconds;

  if (opt.json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("records      %lld (%lld examples) in %.2f s: %.0f records/s\n",
              static_cast<long long>(c.records),
              static_cast<long long>(c.parsed), *seconds, c.records / *seconds);
  std::printf("malformed    %lld", static_cast<long long>(c.errors));
  if (c.errors > 0) std::printf(" (%s)", ErrorKindsText(c).c_str());
  std::printf("\n");
  for (int l = 0; l < s.num_labels(); ++l) {
    std::printf("label rate   %s %.4f\n", s.label(l).name.c_str(),
                out["label_rate"][s.label(l).name].get<double>());
  }
  if (c.side_table_misses > 0) {
    std::printf("side-table misses %lld\n",
                static_cast<long long>(c.side_table_misses));
  }
  if (s.num_slots() > 0) {
    std::printf("\n%-14s %-12s %10s %12s %8s  %s\n", "slot", "table",
                "distinct", "ids", "empty", "top ids (count)");
    for (const auto& sj : out["slots"]) {
      std::string tops;
      for (const auto& t : sj["top"]) {
        if (!tops.empty()) tops += "  ";
        tops += absl::StrFormat("%s (%d)", t["id"].get<std::string>(),
                                t["count"].get<int64_t>());
      }
      std::printf("%-14s %-12s %10lld %12lld %8lld  %s\n",
                  sj["slot"].get<std::string>().c_str(),
                  sj["table"].get<std::string>().c_str(),
                  static_cast<long long>(sj["distinct"].get<int64_t>()),
                  static_cast<long long>(sj["values"].get<int64_t>()),
                  static_cast<long long>(sj["empty"].get<int64_t>()),
                  tops.c_str());
    }
  }
  return 0;
}

CommandRunner SetupStats(CLI::App& app) {
  auto opt = std::make_shared<StatsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "stats",
      "Parse a stream and print records/s, malformed records by kind, "
      "label rate, distinct and top ids per slot");
  AddConfigOptions(cmd, &opt->job.config, &opt->job.overrides);
  cmd->add_option("--data", opt->job.data,
                  "Read this file or folder of segments instead of the "
                  "job's source");
  cmd->add_option("--max-records", opt->max_records,
                  "Stop after this many examples (0: the whole stream)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top", opt->top, "Top ids shown per slot")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of text");
  return [opt] { return RunStats(*opt); };
}

FRESHET_REGISTER_COMMAND(70, SetupStats);

}  // namespace
}  // namespace freshet
