// Record parsing throughput, one thread.
//
//   parse_bench --benchmark_repetitions=3
//
// BM_CriteoParse parses an in-memory buffer of the generator's Criteo-shaped
// TSV lines (`freshet gen --kind criteo`: label, I1..I13, C1..C26 with the
// real data's missing rates) into one reused Example. BM_CriteoFileLog adds the
// file log source and the reader around the same parser (file in the page
// cache). BM_CsvParse and BM_JsonParse parse MovieLens-like ratings in csv and
// jsonl.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/config.h"
#include "freshet/data/example_reader.h"
#include "freshet/data/generator_criteo.h"
#include "freshet/data/record_parser.h"
#include "freshet/data/schema.h"

namespace freshet {
namespace {

constexpr int kLines = 100000;

// The generator's output (freshet gen --kind criteo): the same bytes as a
// generated file, built in memory.
std::string CriteoBuffer(int lines, uint64_t seed) {
  CriteoGenerator generator(seed);
  std::string out;
  out.reserve(static_cast<size_t>(lines) * 250);
  for (int i = 0; i < lines; ++i) {
    generator.AppendRow(i, &out);
    out += '\n';
  }
  return out;
}

std::vector<std::string_view> SplitLines(const std::string& buffer) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < buffer.size()) {
    const size_t nl = buffer.find('\n', start);
    lines.emplace_back(buffer.data() + start, nl - start);
    start = nl + 1;
  }
  return lines;
}

SchemaSpec CriteoSchemaSpec() {
  SchemaSpec spec;
  LabelSpec label;
  label.name = "label";
  spec.labels.push_back(label);
  for (int i = 1; i <= 13; ++i) {
    DenseSpec d;
    d.name = absl::StrCat("I", i);
    d.transform = DenseTransform::kLog;
    spec.dense.push_back(d);
  }
  for (int i = 1; i <= 26; ++i) {
    SlotSpec s;
    s.name = absl::StrCat("C", i);
    spec.slots.push_back(s);
  }
  return spec;
}

void RunParser(benchmark::State& state, RecordParser* parser,
               const std::vector<std::string_view>& lines, size_t bytes) {
  Example ex;
  int64_t records = 0;
  for (auto _ : state) {
    for (std::string_view line : lines) {
      absl::Status s = parser->Parse(line, &ex);
      if (!s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        return;
      }
      benchmark::DoNotOptimize(ex.ids.data());
    }
    records += static_cast<int64_t>(lines.size());
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes));
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(records), benchmark::Counter::kIsRate);
}

void BM_CriteoParse(benchmark::State& state) {
  const std::string buffer = CriteoBuffer(kLines, 42);
  const std::vector<std::string_view> lines = SplitLines(buffer);
  auto schema = Schema::Compile(CriteoSchemaSpec());
  SourceSpec source;
  source.format = "criteo";
  auto parser = MakeRecordParser(*schema, source);
  if (!parser.ok()) {
    state.SkipWithError(std::string(parser.status().message()).c_str());
    return;
  }
  RunParser(state, parser->get(), lines, buffer.size());
}
BENCHMARK(BM_CriteoParse)->Unit(benchmark::kMillisecond);

void BM_CriteoFileLog(benchmark::State& state) {
  const std::string buffer = CriteoBuffer(kLines, 42);
  const std::string path =
      (std::filesystem::temp_directory_path() /
       absl::StrCat("freshet_parse_bench_", getpid(), ".tsv"))
          .string();
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(buffer.data(), 1, buffer.size(), f);
    std::fclose(f);
  }
  auto schema = Schema::Compile(CriteoSchemaSpec());
  SourceSpec source;
  source.format = "criteo";
  source.path = path;
  int64_t records = 0;
  std::vector<Example> batch(256);
  for (auto _ : state) {
    auto reader = ExampleReader::Open(source, *schema);
    if (!reader.ok()) {
      state.SkipWithError(std::string(reader.status().message()).c_str());
      break;
    }
    while (true) {
      auto n = (*reader)->NextBatch(absl::MakeSpan(batch));
      if (!n.ok() || *n == 0) break;
      records += static_cast<int64_t>(*n);
    }
  }
  std::filesystem::remove(path);
  state.SetItemsProcessed(records);
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(records), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CriteoFileLog)->Unit(benchmark::kMillisecond);

SchemaSpec RatingsSchemaSpec() {
  SchemaSpec spec;
  SlotSpec user, item;
  user.name = "user";
  user.column = "userId";
  item.name = "item";
  item.column = "movieId";
  spec.slots = {user, item};
  LabelSpec like;
  like.name = "like";
  like.column = "rating";
  like.has_threshold = true;
  like.threshold = 4.0;
  spec.labels = {like};
  spec.timestamp_column = "timestamp";
  return spec;
}

void BM_CsvParse(benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::string buffer;
  for (int i = 0; i < kLines; ++i) {
    absl::StrAppend(&buffer, rng() % 610 + 1, ",", rng() % 190000 + 1, ",",
                    (rng() % 10 + 1) / 2.0, ",", 964982703 + i, "\n");
  }
  const std::vector<std::string_view> lines = SplitLines(buffer);
  auto schema = Schema::Compile(RatingsSchemaSpec());
  SourceSpec source;
  source.format = "csv";
  auto parser =
      MakeRecordParser(*schema, source, "userId,movieId,rating,timestamp");
  if (!parser.ok()) {
    state.SkipWithError(std::string(parser.status().message()).c_str());
    return;
  }
  RunParser(state, parser->get(), lines, buffer.size());
}
BENCHMARK(BM_CsvParse)->Unit(benchmark::kMillisecond);

void BM_JsonParse(benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::string buffer;
  for (int i = 0; i < kLines; ++i) {
    absl::StrAppend(
        &buffer, "{\"userId\": ", rng() % 610 + 1, ", \"movieId\": \"",
        rng() % 190000 + 1, "\", \"rating\": ", (rng() % 10 + 1) / 2.0,
        ", \"timestamp\": ", 964982703 + i, ", \"tags\": [\"a\", \"b\"]}\n");
  }
  const std::vector<std::string_view> lines = SplitLines(buffer);
  auto schema = Schema::Compile(RatingsSchemaSpec());
  SourceSpec source;
  source.format = "jsonl";
  auto parser = MakeRecordParser(*schema, source);
  if (!parser.ok()) {
    state.SkipWithError(std::string(parser.status().message()).c_str());
    return;
  }
  RunParser(state, parser->get(), lines, buffer.size());
}
BENCHMARK(BM_JsonParse)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace freshet

BENCHMARK_MAIN();
