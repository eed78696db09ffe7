// Parses the real data sets in ../shared/data when they are present.
#include <filesystem>
#include <string>

#include "freshet/data/data_test_util.h"
#include "freshet/data/example_reader.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

std::string SharedData(const std::string& rel) {
  return (fs::path(FRESHET_SHARED_DATA_DIR) / rel).string();
}

TEST(RealDataTest, CriteoTrainParsesWithoutErrors) {
  const std::string path = SharedData("criteo/train.tsv");
  if (!fs::exists(path)) {
    GTEST_SKIP() << "shared data not found at " << path
                 << "; the Criteo sample is needed for this test";
  }
  auto schema = Schema::Compile(testing_util::CriteoSchemaSpec());
  ASSERT_TRUE(schema.ok()) << schema.status();
  testing_util::TempDir dir;
  SourceSpec spec;
  spec.path = path;
  spec.format = "criteo";
  spec.dead_letter = dir.File("criteo.dead");
  auto reader = ExampleReader::Open(spec, *schema);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Example ex;
  int64_t rows = 0, empty_slots = 0;
  double positives = 0;
  while (true) {
    auto got = (*reader)->Next(&ex);
    ASSERT_TRUE(got.ok()) << got.status();
    if (!*got) break;
    ++rows;
    positives += ex.label();
    ASSERT_EQ(ex.num_slots(), 26);
    ASSERT_EQ(ex.dense.size(), 13u);
    for (int s = 0; s < 26; ++s) empty_slots += ex.slot_ids(s).empty();
  }
  const ReaderCounters& c = (*reader)->counters();
  EXPECT_EQ(rows, 7200);
  EXPECT_EQ(c.records, 7200);
  EXPECT_EQ(c.errors, 0);
  EXPECT_FALSE(fs::exists(spec.dead_letter));
  EXPECT_NEAR(positives / rows, 0.215, 0.01);
  // Criteo has empty categoricals; they must come out as empty slots.
  EXPECT_GT(empty_slots, 0);
}

TEST(RealDataTest, MovieLensRatingsJoinGenres) {
  const std::string ratings = SharedData("movielens-latest-small/ratings.csv");
  const std::string movies = SharedData("movielens-latest-small/movies.csv");
  if (!fs::exists(ratings) || !fs::exists(movies)) {
    GTEST_SKIP() << "shared data not found at " << ratings
                 << "; the MovieLens sample is needed for this test";
  }
  SchemaSpec spec;
  SideTableSpec side;
  side.name = "movies";
  side.path = movies;
  side.key_column = "movieId";
  side.join_column = "movieId";
  spec.side_tables = {side};
  SlotSpec genres = testing_util::Slot("genres", "movies.genres");
  genres.multi_valued = true;
  genres.separator = "|";
  spec.slots = {testing_util::Slot("user", "userId"),
                testing_util::Slot("item", "movieId"), genres};
  LabelSpec like = testing_util::Label("like", "rating");
  like.has_threshold = true;
  like.threshold = 4.0;
  spec.labels = {like};
  spec.timestamp_column = "timestamp";
  spec.timestamp_unit_ms = 1000.0;
  auto schema = Schema::Compile(spec);
  ASSERT_TRUE(schema.ok()) << schema.status();

  testing_util::TempDir dir;
  SourceSpec source;
  source.path = ratings;
  source.format = "csv";
  source.dead_letter = dir.File("ratings.dead");
  auto reader = ExampleReader::Open(source, *schema);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Example ex;
  int64_t rows = 0, with_genres = 0;
  double positives = 0;
  int64_t min_time = INT64_MAX, max_time = 0;
  while (true) {
    auto got = (*reader)->Next(&ex);
    ASSERT_TRUE(got.ok()) << got.status();
    if (!*got) break;
    ++rows;
    positives += ex.label();
    with_genres += !ex.slot_ids(2).empty();
    ASSERT_EQ(ex.slot_ids(0).size(), 1u);
    ASSERT_EQ(ex.slot_ids(1).size(), 1u);
    min_time = std::min(min_time, ex.event_time_ms);
    max_time = std::max(max_time, ex.event_time_ms);
  }
  const ReaderCounters& c = (*reader)->counters();
  EXPECT_EQ(rows, 100836);
  EXPECT_EQ(c.errors, 0);
  EXPECT_EQ(c.headers, 1);
  EXPECT_NEAR(positives / rows, 0.482, 0.005);
  EXPECT_GT(static_cast<double>(with_genres) / rows, 0.99);
  EXPECT_EQ(c.side_table_misses, rows - with_genres);
  // Ratings span 1996..2018, in milliseconds.
  EXPECT_GT(min_time, 820454400000);   // 1996-01-01
  EXPECT_LT(max_time, 1546300800000);  // 2019-01-01
}

}  // namespace
}  // namespace freshet
