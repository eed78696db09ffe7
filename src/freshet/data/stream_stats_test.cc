#include "freshet/data/stream_stats.h"

#include <gtest/gtest.h>

#include "freshet/base/config.h"
#include "freshet/data/record_parser.h"

namespace freshet {
namespace {

TEST(StreamStatsTest, CountsIdsLabelsAndTopIdsPerSlot) {
  auto job = ParseJobConfig(
      "schema:\n  label: label\n  slots: [user, item]\n"
      "model: {type: lr}\n"
      "source: {type: file, path: x.csv, format: csv}\n",
      "stats.yaml", "");
  ASSERT_TRUE(job.ok()) << job.status();
  auto schema = Schema::Compile(job->schema);
  ASSERT_TRUE(schema.ok()) << schema.status();
  auto parser = MakeRecordParser(*schema, job->source, "label,user,item");
  ASSERT_TRUE(parser.ok()) << parser.status();
  StreamStats stats(*schema);
  for (const char* line : {"1,u1,i1", "0,u1,i2", "0,u2,", "1,u1,i2"}) {
    Example e;
    ASSERT_TRUE((*parser)->Parse(line, &e).ok()) << line;
    stats.Add(e);
  }
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
}

}  // namespace
}  // namespace freshet
