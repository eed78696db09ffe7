// `freshet stats`: parses a stream and reports what is in it.
//
// Prints records/s, malformed records by kind, the label rate, and per slot
// the distinct ids and the most frequent ids. Ids are the 64-bit feature ids
// (docs/formats.md), printed in hex. `--json` prints the same as one JSON
// object on stdout instead.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "apps/freshet/command.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/base/logging.h"
#include "freshet/data/example_reader.h"
#include "freshet/data/schema.h"

namespace freshet {
namespace {

struct StatsOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string data;
  int64_t max_records = 0;
  int top = 5;
  bool json = false;
};

struct SlotCounts {
  absl::flat_hash_map<uint64_t, int64_t> counts;
  int64_t values = 0;  // ids seen, with repeats
  int64_t empty = 0;   // examples where the slot had no id
};

int RunStats(const StatsOptions& opt) {
  std::vector<std::string> overrides = opt.overrides;
  if (!opt.data.empty()) {
    overrides.push_back("source.type=file");
    overrides.push_back("source.path=" + opt.data);
  }
  absl::StatusOr<JobConfig> job = LoadJobConfig(opt.config, overrides);
  if (!job.ok()) {
    std::cerr << "freshet stats: " << job.status().message() << "\n";
    return 2;
  }
  if (!opt.data.empty()) job->source.path = opt.data;  // as given, not resolved
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
  std::vector<SlotCounts> slots(s.num_slots());
  std::vector<double> label_sum(s.num_labels(), 0.0);
  std::vector<Example> batch(1024);
  int64_t examples = 0;
  int64_t min_time = INT64_MAX, max_time = INT64_MIN;
  const double start = MonotonicSeconds();
  double last_report = start;
  while (opt.max_records == 0 || examples < opt.max_records) {
    size_t want = batch.size();
    if (opt.max_records > 0) {
      want = std::min<int64_t>(want, opt.max_records - examples);
    }
    auto n = (*reader)->NextBatch(absl::MakeSpan(batch.data(), want));
    if (!n.ok()) {
      std::cerr << "freshet stats: " << n.status().message() << "\n";
      return 1;
    }
    if (*n == 0) break;
    for (size_t i = 0; i < *n; ++i) {
      const Example& e = batch[i];
      for (int sl = 0; sl < e.num_slots(); ++sl) {
        auto ids = e.slot_ids(sl);
        if (ids.empty()) ++slots[sl].empty;
        for (uint64_t id : ids) ++slots[sl].counts[id];
        slots[sl].values += ids.size();
      }
      for (size_t l = 0; l < e.labels.size() && l < label_sum.size(); ++l) {
        label_sum[l] += e.labels[l];
      }
      if (e.event_time_ms != 0) {
        min_time = std::min(min_time, e.event_time_ms);
        max_time = std::max(max_time, e.event_time_ms);
      }
    }
    examples += *n;
    const double now = MonotonicSeconds();
    if (now - last_report >= 5.0) {
      FRESHET_LOG_INFO("stats: {} records, {:.0f} records/s",
                       (*reader)->counters().records,
                       (*reader)->counters().records / (now - start));
      last_report = now;
    }
  }
  const double seconds = std::max(MonotonicSeconds() - start, 1e-9);
  const ReaderCounters& c = (*reader)->counters();

  nlohmann::json out;
  out["records"] = c.records;
  out["examples"] = c.parsed;
  out["seconds"] = seconds;
  out["records_per_sec"] = c.records / seconds;
  out["errors"] = c.errors;
  nlohmann::json by_kind = nlohmann::json::object();
  for (int k = 0; k < kNumRecordErrorKinds; ++k) {
    if (c.errors_by_kind[k] == 0) continue;
    by_kind[std::string(RecordErrorKindName(static_cast<RecordErrorKind>(k)))] =
        c.errors_by_kind[k];
  }
  out["errors_by_kind"] = by_kind;
  out["side_table_misses"] = c.side_table_misses;
  nlohmann::json labels = nlohmann::json::object();
  for (int l = 0; l < s.num_labels(); ++l) {
    labels[s.label(l).name] = examples ? label_sum[l] / examples : 0.0;
  }
  out["label_rate"] = labels;
  if (min_time <= max_time) {
    out["event_time_ms"] = {{"min", min_time}, {"max", max_time}};
  }
  nlohmann::json slot_json = nlohmann::json::array();
  for (int sl = 0; sl < s.num_slots(); ++sl) {
    const SlotCounts& sc = slots[sl];
    std::vector<std::pair<int64_t, uint64_t>> top;
    top.reserve(sc.counts.size());
    for (const auto& [id, n] : sc.counts) top.emplace_back(n, id);
    const size_t k = std::min<size_t>(opt.top, top.size());
    std::partial_sort(top.begin(), top.begin() + k, top.end(),
                      [](const auto& a, const auto& b) {
                        return a.first != b.first ? a.first > b.first
                                                  : a.second < b.second;
                      });
    nlohmann::json tops = nlohmann::json::array();
    for (size_t i = 0; i < k; ++i) {
      tops.push_back({{"id", absl::StrFormat("%016x", top[i].second)},
                      {"count", top[i].first}});
    }
    slot_json.push_back({{"slot", s.slot(sl).name},
                         {"table", s.slot(sl).table},
                         {"distinct", sc.counts.size()},
                         {"values", sc.values},
                         {"empty", sc.empty},
                         {"top", tops}});
  }
  out["slots"] = slot_json;

  if (opt.json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("records      %lld (%lld examples) in %.2f s: %.0f records/s\n",
              static_cast<long long>(c.records),
              static_cast<long long>(c.parsed), seconds, c.records / seconds);
  std::printf("malformed    %lld", static_cast<long long>(c.errors));
  if (c.errors > 0) {
    std::printf(" (");
    bool first = true;
    for (const auto& [kind, n] : by_kind.items()) {
      std::printf("%s%s %lld", first ? "" : ", ", kind.c_str(),
                  static_cast<long long>(n.get<int64_t>()));
      first = false;
    }
    std::printf(")");
  }
  std::printf("\n");
  for (int l = 0; l < s.num_labels(); ++l) {
    std::printf("label rate   %s %.4f\n", s.label(l).name.c_str(),
                examples ? label_sum[l] / examples : 0.0);
  }
  if (c.side_table_misses > 0) {
    std::printf("side-table misses %lld\n",
                static_cast<long long>(c.side_table_misses));
  }
  if (s.num_slots() > 0) {
    std::printf("\n%-14s %-12s %10s %12s %8s  %s\n", "slot", "table",
                "distinct", "ids", "empty", "top ids (count)");
    for (const auto& sj : slot_json) {
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
  AddConfigOptions(cmd, &opt->config, &opt->overrides);
  cmd->add_option("--data", opt->data,
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
