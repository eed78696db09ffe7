#include "freshet/data/side_table.h"

#include "freshet/base/hash.h"
#include "freshet/data/data_test_util.h"
#include "freshet/data/record_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;
using testing_util::Slot;

constexpr char kMovies[] =
    "movieId,title,genres\r\n"
    "1,Toy Story (1995),Adventure|Animation|Children\r\n"
    "11,\"American President, The (1995)\",Comedy|Drama|Romance\r\n"
    "20,\"Say \"\"Hi\"\"\",(no genres listed)\r\n";

SideTableSpec MoviesSpec() {
  SideTableSpec t;
  t.name = "movies";
  t.key_column = "movieId";
  t.join_column = "movieId";
  return t;
}

TEST(SideTableTest, LoadsQuotedCsvKeyedByOneColumn) {
  auto table = SideTable::FromText(MoviesSpec(), kMovies, "movies.csv");
  ASSERT_TRUE(table.ok()) << table.status();
  const SideTable& t = **table;
  EXPECT_EQ(t.num_rows(), 3);
  EXPECT_EQ(t.num_columns(), 3);
  const int title = t.ColumnIndex("title");
  const int genres = t.ColumnIndex("genres");
  ASSERT_EQ(title, 1);
  ASSERT_EQ(genres, 2);
  ASSERT_GE(t.FindRow("11"), 0);
  EXPECT_EQ(t.Value(t.FindRow("11"), title), "American President, The (1995)");
  EXPECT_EQ(t.Value(t.FindRow("20"), title), "Say \"Hi\"");
  EXPECT_EQ(t.Value(t.FindRow("1"), genres), "Adventure|Animation|Children");
  EXPECT_EQ(t.FindRow("2"), -1);
}

TEST(SideTableTest, RejectsBadFiles) {
  SideTableSpec spec = MoviesSpec();
  spec.key_column = "id";
  EXPECT_FALSE(SideTable::FromText(spec, kMovies, "m").ok());
  EXPECT_FALSE(SideTable::FromText(MoviesSpec(), "", "m").ok());
  EXPECT_FALSE(
      SideTable::FromText(MoviesSpec(), "movieId,title\n1,a,b\n", "m").ok());
  EXPECT_FALSE(
      SideTable::FromText(MoviesSpec(), "movieId,title\n1,\"a\n", "m").ok());
}

TEST(SideTableTest, JoinsColumnsIntoRecordsAndCountsMisses) {
  testing_util::TempDir dir;
  testing_util::WriteFile(dir.File("movies.csv"), kMovies);
  SchemaSpec spec;
  SideTableSpec t = MoviesSpec();
  t.path = dir.File("movies.csv");
  spec.side_tables = {t};
  SlotSpec genres = Slot("genres", "movies.genres");
  genres.multi_valued = true;
  spec.slots = {Slot("user", "userId"), genres, Slot("title", "movies.title")};
  auto schema = Schema::Compile(spec);
  ASSERT_TRUE(schema.ok()) << schema.status();
  SourceSpec source;
  source.format = "csv";
  auto parser =
      MakeRecordParser(*schema, source, "userId,movieId,rating,timestamp");
  ASSERT_TRUE(parser.ok()) << parser.status();

  const uint64_t g = TableSeed("genres");
  Example ex;
  ASSERT_TRUE((*parser)->Parse("5,11,4.0,1", &ex).ok());
  EXPECT_THAT(ex.slot_ids(1),
              ElementsAre(FeatureId(g, "Comedy"), FeatureId(g, "Drama"),
                          FeatureId(g, "Romance")));
  EXPECT_THAT(ex.slot_ids(2),
              ElementsAre(FeatureId(TableSeed("title"),
                                    "American President, The (1995)")));
  EXPECT_EQ((*parser)->side_table_misses(), 0);

  ASSERT_TRUE((*parser)->Parse("5,999,4.0,1", &ex).ok());
  EXPECT_EQ(ex.slot_ids(0).size(), 1u);
  EXPECT_TRUE(ex.slot_ids(1).empty());
  EXPECT_TRUE(ex.slot_ids(2).empty());
  EXPECT_EQ((*parser)->side_table_misses(), 1);

  // The join column must exist in the records.
  auto no_join = MakeRecordParser(*schema, source, "userId,item,rating");
  ASSERT_FALSE(no_join.ok());
  EXPECT_EQ(no_join.status().message(),
            "schema.side_tables[0] 'movies': join_column 'movieId' not in the "
            "header");
}

}  // namespace
}  // namespace freshet
