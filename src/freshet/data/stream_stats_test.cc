#include "freshet/data/stream_stats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "freshet/base/config.h"
#include "freshet/data/data_test_util.h"
#include "freshet/data/example_reader.h"
#include "freshet/data/record_parser.h"

namespace freshet {
namespace {

// The stats of four user/item records: u1 three times, i2 twice, one item
// empty.
void FourRecordStats(std::shared_ptr<const Schema>* schema,
                     std::unique_ptr<StreamStats>* stats) {
  auto job = ParseJobConfig(
      "schema:\n  label: label\n  slots: [user, item]\n"
      "model: {type: lr}\n"
      "source: {type: file, path: x.csv, format: csv}\n",
      "stats.yaml", "");
  ASSERT_TRUE(job.ok()) << job.status();
  auto compiled = Schema::Compile(job->schema);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  *schema = *compiled;
  auto parser = MakeRecordParser(*schema, job->source, "label,user,item");
  ASSERT_TRUE(parser.ok()) << parser.status();
  *stats = std::make_unique<StreamStats>(*schema);
  for (const char* line : {"1,u1,i1", "0,u1,i2", "0,u2,", "1,u1,i2"}) {
    Example e;
    ASSERT_TRUE((*parser)->Parse(line, &e).ok()) << line;
    (*stats)->Add(e);
  }
}

TEST(StreamStatsTest, CountsIdsLabelsAndTopIdsPerSlot) {
  std::shared_ptr<const Schema> schema;
  std::unique_ptr<StreamStats> owned;
  ASSERT_NO_FATAL_FAILURE(FourRecordStats(&schema, &owned));
  StreamStats& stats = *owned;
  ReaderCounters counters;
  counters.records = 5;
  counters.parsed = 4;
  counters.errors = 1;
  counters.errors_by_kind[static_cast<int>(RecordErrorKind::kColumnCount)] = 1;
  nlohmann::json j = stats.ToJson(counters, 1);
  EXPECT_EQ(stats.examples(), 4);
  EXPECT_EQ(j["records"], 5);
  EXPECT_EQ(j["errors_by_kind"]["column_count"], 1);
  EXPECT_DOUBLE_EQ(j["label_rate"]["label"].get<double>(), 0.5);
  ASSERT_EQ(j["slots"].size(), 2u);
  EXPECT_EQ(j["slots"][0]["slot"], "user");
  EXPECT_EQ(j["slots"][0]["distinct"], 2);
  EXPECT_EQ(j["slots"][0]["values"], 4);
  ASSERT_EQ(j["slots"][0]["top"].size(), 1u);
  EXPECT_EQ(j["slots"][0]["top"][0]["count"], 3);  // u1
  EXPECT_EQ(j["slots"][1]["distinct"], 2);
  EXPECT_EQ(j["slots"][1]["empty"], 1);
  EXPECT_EQ(ErrorKindsText(counters), "column_count 1");
  EXPECT_EQ(ErrorKindsText(ReaderCounters{}), "");
  EXPECT_EQ(MalformedText(counters), "1 malformed (column_count 1)");
  EXPECT_EQ(MalformedText(ReaderCounters{}), "0 malformed");
}

TEST(StreamStatsTest, TextHasTheCountsLabelRatesAndATableOfSlots) {
  std::shared_ptr<const Schema> schema;
  std::unique_ptr<StreamStats> owned;
  ASSERT_NO_FATAL_FAILURE(FourRecordStats(&schema, &owned));
  StreamStats& stats = *owned;
  ReaderCounters counters;
  counters.records = 5;
  counters.parsed = 4;
  const nlohmann::json j = stats.ToJson(counters, 2);
  auto top = [&](int slot, int i) {
    const nlohmann::json& t = j["slots"][slot]["top"][i];
    return absl::StrCat(t["id"].get<std::string>(), " (",
                        t["count"].get<int64_t>(), ")");
  };
  const std::string table =
      "\nslot           table          distinct          ids    empty  top "
      "ids (count)\n"
      "user           user                  2            4        0  " +
      top(0, 0) + "  " + top(0, 1) +
      "\n"
      "item           item                  2            3        1  " +
      top(1, 0) + "  " + top(1, 1) + "\n";
  EXPECT_EQ(stats.ToText(counters, 2, 0.5),
            "records      5 (4 examples) in 0.50 s: 10 records/s\n"
            "malformed    0\n"
            "label rate   label 0.5000\n" +
                table);

  // Malformed records by kind and side-table misses get their lines; no
  // top ids leaves the column empty.
  counters.errors = 1;
  counters.errors_by_kind[static_cast<int>(RecordErrorKind::kColumnCount)] = 1;
  counters.side_table_misses = 3;
  counters.rotations = 2;
  counters.rotation_gaps = 1;
  counters.rotation_lost_bytes = 7;
  const std::string text = stats.ToText(counters, 0, 2.0);
  EXPECT_THAT(text, ::testing::StartsWith(
                        "records      5 (4 examples) in 2.00 s: 2 records/s\n"
                        "malformed    1 (column_count 1)\n"
                        "label rate   label 0.5000\n"
                        "side-table misses 3\n"
                        "rotations    2 (1 with records possibly missing, 7 "
                        "bytes seen but not read)\n\n"));
  const nlohmann::json with_rotations = stats.ToJson(counters, 0);
  EXPECT_EQ(with_rotations["rotations"], 2);
  EXPECT_EQ(with_rotations["rotation_gaps"], 1);
  EXPECT_EQ(with_rotations["rotation_lost_bytes"], 7);
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "\nuser           user                  2            "
                        "4        0  \n"));
}

class ScanStreamTest : public ::testing::Test {
 protected:
  // A csv job over `text` in a file of its own.
  void Open(const std::string& text) {
    const std::string path = dir_.File("s.csv");
    testing_util::WriteFile(path, text);
    auto job = ParseJobConfig(
        "schema:\n  label: label\n  slots: [user, item]\n"
        "model: {type: lr}\n"
        "source: {type: file, path: s.csv, format: csv}\n",
        dir_.File("stats.yaml"), "");
    ASSERT_TRUE(job.ok()) << job.status();
    job->source.path = path;
    auto schema = Schema::Compile(job->schema);
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *schema;
    auto reader = ExampleReader::Open(job->source, schema_);
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = *std::move(reader);
  }

  testing_util::TempDir dir_;
  std::shared_ptr<const Schema> schema_;
  std::unique_ptr<ExampleReader> reader_;
};

TEST_F(ScanStreamTest, ReadsToTheEndOrMaxRecords) {
  std::string text = "label,user,item\n";
  for (int i = 0; i < 3000; ++i) {
    text += absl::StrCat(i % 4 == 0 ? 1 : 0, ",u", i % 7, ",i", i % 11, "\n");
  }
  text += "x,u1,i1\n";  // malformed label
  ASSERT_NO_FATAL_FAILURE(Open(text));
  StreamStats all(schema_);
  absl::StatusOr<double> seconds = ScanStream(*reader_, 0, &all);
  ASSERT_TRUE(seconds.ok()) << seconds.status();
  EXPECT_GT(*seconds, 0);
  EXPECT_EQ(all.examples(), 3000);
  EXPECT_EQ(reader_->counters().records, 3001);
  EXPECT_EQ(reader_->counters().errors, 1);
  nlohmann::json j = all.ToJson(reader_->counters(), 2);
  EXPECT_EQ(j["slots"][0]["distinct"], 7);
  EXPECT_EQ(j["slots"][1]["distinct"], 11);
  EXPECT_DOUBLE_EQ(j["label_rate"]["label"].get<double>(), 0.25);

  // A limit that is not a multiple of the batch.
  ASSERT_NO_FATAL_FAILURE(Open(text));
  StreamStats some(schema_);
  ASSERT_TRUE(ScanStream(*reader_, 1500, &some).ok());
  EXPECT_EQ(some.examples(), 1500);
}

TEST_F(ScanStreamTest, ReaderErrorsAreReturned) {
  // The header lacks the schema's label column.
  ASSERT_NO_FATAL_FAILURE(Open("user,item\nu1,i1\n"));
  StreamStats stats(schema_);
  absl::StatusOr<double> seconds = ScanStream(*reader_, 0, &stats);
  ASSERT_FALSE(seconds.ok());
  EXPECT_THAT(std::string(seconds.status().message()),
              ::testing::HasSubstr("'label' not in the header"));
  EXPECT_EQ(stats.examples(), 0);
}

}  // namespace
}  // namespace freshet
