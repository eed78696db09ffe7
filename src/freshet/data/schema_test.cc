#include "freshet/data/schema.h"

#include <cmath>

#include "freshet/base/hash.h"
#include "freshet/data/data_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;
using testing_util::Label;
using testing_util::Slot;

std::string CompileError(const SchemaSpec& spec) {
  auto schema = Schema::Compile(spec);
  return schema.ok() ? "ok" : std::string(schema.status().message());
}

TEST(SchemaTest, SlotsGetDefaultsSeedsAndIndexes) {
  SchemaSpec spec;
  SlotSpec shared = Slot("clicked_item", "clicked");
  shared.table = "item";
  spec.slots = {Slot("user"), Slot("item"), shared};
  auto schema = Schema::Compile(spec);
  ASSERT_TRUE(schema.ok()) << schema.status();
  const Schema& s = **schema;
  ASSERT_EQ(s.num_slots(), 3);
  EXPECT_EQ(s.slot(0).table, "user");
  EXPECT_EQ(s.slot(0).column.text, "user");
  EXPECT_EQ(s.slot(0).seed, TableSeed("user"));
  EXPECT_EQ(s.slot(2).column.text, "clicked");
  EXPECT_EQ(s.slot(2).seed, TableSeed("item"));
  EXPECT_EQ(s.slot(2).seed, s.slot(1).seed);
  EXPECT_NE(s.slot(0).seed, s.slot(1).seed);
  EXPECT_EQ(s.SlotIndex("item"), 1);
  EXPECT_EQ(s.SlotIndex("nope"), -1);
  EXPECT_FALSE(s.has_weighted_slot());
}

TEST(SchemaTest, DenseTransformsAndLabels) {
  SchemaSpec spec;
  DenseSpec log, clip, z, none;
  log.name = "log";
  log.transform = DenseTransform::kLog;
  clip.name = "clip";
  clip.transform = DenseTransform::kClip;
  clip.clip_min = -1;
  clip.clip_max = 2;
  z.name = "z";
  z.transform = DenseTransform::kZScore;
  z.mean = 10;
  z.stddev = 4;
  none.name = "none";
  spec.dense = {log, clip, z, none};
  LabelSpec rating = Label("like", "rating");
  rating.has_threshold = true;
  rating.threshold = 4.0;
  spec.labels = {Label("click"), rating};
  auto schema = Schema::Compile(spec);
  ASSERT_TRUE(schema.ok()) << schema.status();
  const Schema& s = **schema;
  EXPECT_FLOAT_EQ(s.dense(0).Apply(-5), 0.0f);
  EXPECT_FLOAT_EQ(s.dense(0).Apply(std::exp(2.0f) - 1), 2.0f);
  EXPECT_FLOAT_EQ(s.dense(1).Apply(-3), -1.0f);
  EXPECT_FLOAT_EQ(s.dense(1).Apply(1.5), 1.5f);
  EXPECT_FLOAT_EQ(s.dense(1).Apply(9), 2.0f);
  EXPECT_FLOAT_EQ(s.dense(2).Apply(18), 2.0f);
  EXPECT_FLOAT_EQ(s.dense(3).Apply(-7.25), -7.25f);
  EXPECT_EQ(s.DenseIndex("z"), 2);
  EXPECT_FLOAT_EQ(s.label(0).Apply(0.75), 0.75f);
  EXPECT_EQ(s.label(1).Apply(3.5), 0.0f);
  EXPECT_EQ(s.label(1).Apply(4.0), 1.0f);
}

TEST(SchemaTest, ValidationErrorsNameTheField) {
  SchemaSpec dup;
  dup.slots = {Slot("a"), Slot("b"), Slot("a")};
  EXPECT_EQ(CompileError(dup), "schema.slots[2] 'a': duplicate slot name");

  SchemaSpec sep;
  SlotSpec tags = Slot("tags");
  tags.multi_valued = true;
  tags.separator = "";
  sep.slots = {tags};
  EXPECT_THAT(CompileError(sep),
              HasSubstr("schema.slots[0] 'tags': separator"));

  SchemaSpec z;
  DenseSpec d;
  d.name = "x";
  d.transform = DenseTransform::kZScore;
  d.stddev = 0;
  z.dense = {d};
  EXPECT_EQ(CompileError(z),
            "schema.dense[0] 'x': stddev must be > 0 for transform zscore, "
            "got 0");

  SchemaSpec clip;
  d.transform = DenseTransform::kClip;
  d.clip_min = 3;
  d.clip_max = 1;
  clip.dense = {d};
  EXPECT_THAT(CompileError(clip), HasSubstr("schema.dense[0] 'x': clip_min"));

  SchemaSpec unit;
  unit.timestamp_unit_ms = 0;
  EXPECT_THAT(CompileError(unit), HasSubstr("schema.timestamp_unit_ms"));

  SchemaSpec side;
  SideTableSpec t;
  t.name = "movies";
  t.path = "/nonexistent/movies.csv";
  t.key_column = "movieId";
  t.join_column = "movieId";
  side.side_tables = {t};
  EXPECT_THAT(CompileError(side),
              HasSubstr("schema.side_tables[0] 'movies': side table"));
}

TEST(SchemaTest, SideTableColumnReferences) {
  testing_util::TempDir dir;
  testing_util::WriteFile(dir.File("movies.csv"),
                          "movieId,title,genres\n1,Toy Story,Animation\n");
  SchemaSpec spec;
  SideTableSpec t;
  t.name = "movies";
  t.path = "movies.csv";  // relative to the base folder
  t.key_column = "movieId";
  t.join_column = "movieId";
  spec.side_tables = {t};
  spec.slots = {Slot("genres", "movies.genres"), Slot("x", "other.col")};
  auto schema = Schema::Compile(spec, dir.path());
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ((*schema)->slot(0).column.side_table, 0);
  EXPECT_EQ((*schema)->slot(0).column.side_column, 2);
  // "other" is no side table: a record column whose name has a dot.
  EXPECT_EQ((*schema)->slot(1).column.side_table, -1);
  EXPECT_EQ((*schema)->num_side_tables(), 1);
  EXPECT_EQ((*schema)->side_table(0).num_rows(), 1);

  spec.slots = {Slot("genres", "movies.genre")};
  auto bad = Schema::Compile(spec, dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "schema.slots[0] 'genres': column 'movies.genre': side table "
            "'movies' has no column 'genre'");
}

}  // namespace
}  // namespace freshet
