#include "freshet/data/feature_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "freshet/data/data_test_util.h"
#include "freshet/data/record_parser.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;
using testing_util::Slot;
using testing_util::TempDir;
using testing_util::WriteFile;

// Columns: 0 userId, 1 movieId, 2 tags, 3 age, 4 rating.
class FeatureEncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.File("movies.csv"),
              "movieId,genres\n11,Comedy|Drama\n12,Action\n");
    SchemaSpec spec;
    SideTableSpec movies;
    movies.name = "movies";
    movies.path = dir_.File("movies.csv");
    movies.key_column = "movieId";
    movies.join_column = "movieId";
    spec.side_tables = {movies};
    SlotSpec genres = Slot("genres", "movies.genres");
    genres.multi_valued = true;
    SlotSpec tags = Slot("tags");
    tags.multi_valued = true;
    tags.separator = ",";
    tags.weighted = true;
    spec.slots = {Slot("user", "userId"), Slot("movie", "movieId"), genres,
                  tags};
    DenseSpec age;
    age.name = "age";
    age.transform = DenseTransform::kClip;
    age.clip_min = 0;
    age.clip_max = 100;
    age.missing = -1;
    spec.dense = {age};
    LabelSpec label;
    label.name = "liked";
    label.column = "rating";
    label.has_threshold = true;
    label.threshold = 4;
    spec.labels = {label};
    auto schema = Schema::Compile(spec);
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *schema;
  }

  std::unique_ptr<FeatureEncoder> Make(const FeatureEncoder::Options& o) {
    auto e = FeatureEncoder::Make(
        schema_,
        [this](std::string_view name) {
          for (size_t i = 0; i < columns_.size(); ++i) {
            if (columns_[i] == name) return static_cast<int>(i);
          }
          return -1;
        },
        "not in the test", o);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? std::move(*e) : nullptr;
  }

  static RawValue Text(std::string_view text) {
    RawValue v;
    v.text = text;
    v.present = true;
    return v;
  }

  TempDir dir_;
  std::shared_ptr<const Schema> schema_;
  std::vector<std::string> columns_ = {"userId", "movieId", "tags", "age",
                                       "rating"};
};

TEST_F(FeatureEncoderTest, EncodesIdsListsWeightsJoinsDenseAndLabels) {
  std::unique_ptr<FeatureEncoder> enc = Make({});
  ASSERT_NE(enc, nullptr);
  std::vector<RawValue> fields = {Text("7"), Text("11"), Text("a:2,b"),
                                  Text("250"), Text("4.5")};
  Example ex;
  ASSERT_TRUE(enc->Encode(RawRecord{fields, {}}, &ex).ok());
  const Schema& s = *schema_;
  EXPECT_THAT(ex.slot_ids(0), ElementsAre(FeatureId(s.slot(0).seed, "7")));
  EXPECT_THAT(ex.slot_ids(1), ElementsAre(FeatureId(s.slot(1).seed, "11")));
  EXPECT_THAT(ex.slot_ids(2), ElementsAre(FeatureId(s.slot(2).seed, "Comedy"),
                                          FeatureId(s.slot(2).seed, "Drama")));
  EXPECT_THAT(ex.slot_ids(3), ElementsAre(FeatureId(s.slot(3).seed, "a"),
                                          FeatureId(s.slot(3).seed, "b")));
  EXPECT_THAT(ex.slot_weights(3), ElementsAre(2.0f, 1.0f));
  EXPECT_THAT(ex.dense, ElementsAre(100.0f));  // clipped
  EXPECT_THAT(ex.labels, ElementsAre(1.0f));
  EXPECT_EQ(enc->side_table_misses(), 0);

  // A JSON-style list for the tags, an unknown movie, an empty age.
  std::vector<std::string_view> items = {"x:0.5", "y"};
  RawValue list;
  list.present = list.is_list = true;
  list.items_begin = 0;
  list.items_end = 2;
  fields = {Text("7"), Text("99"), list, Text(""), Text("1")};
  ASSERT_TRUE(enc->Encode(RawRecord{fields, items}, &ex).ok());
  EXPECT_TRUE(ex.slot_ids(2).empty());
  EXPECT_EQ(enc->side_table_misses(), 1);
  EXPECT_THAT(ex.slot_weights(3), ElementsAre(0.5f, 1.0f));
  EXPECT_THAT(ex.dense, ElementsAre(-1.0f));  // missing, not transformed
  EXPECT_THAT(ex.labels, ElementsAre(0.0f));

  // Errors are record errors.
  fields[3] = Text("old");
  absl::Status bad = enc->Encode(RawRecord{fields, items}, &ex);
  EXPECT_EQ(GetRecordErrorKind(bad), RecordErrorKind::kBadNumber);
  EXPECT_EQ(bad.message(), "dense 'age': expected a number, got 'old'");
  fields[3] = Text("1");
  fields[4] = RawValue();
  EXPECT_EQ(GetRecordErrorKind(enc->Encode(RawRecord{fields, items}, &ex)),
            RecordErrorKind::kMissingField);
}

// Non-finite inputs never reach a model: a dense value or a label that is
// infinite, NaN or beyond the float range is a bad number (a malformed
// record in training, a 400 in serving).
TEST_F(FeatureEncoderTest, NonFiniteDenseValuesAndLabelsAreBadNumbers) {
  std::unique_ptr<FeatureEncoder> enc = Make({});
  ASSERT_NE(enc, nullptr);
  Example ex;
  for (const char* bad : {"inf", "-inf", "nan", "NaN", "1e39", "-1e400"}) {
    SCOPED_TRACE(bad);
    std::vector<RawValue> fields = {Text("7"), Text("11"), Text("a"), Text(bad),
                                    Text("4.5")};
    EXPECT_EQ(GetRecordErrorKind(enc->Encode(RawRecord{fields, {}}, &ex)),
              RecordErrorKind::kBadNumber);
    if (std::string_view(bad) == "1e39") continue;  // a finite double label
    fields = {Text("7"), Text("11"), Text("a"), Text("3"), Text(bad)};
    absl::Status label = enc->Encode(RawRecord{fields, {}}, &ex);
    EXPECT_EQ(GetRecordErrorKind(label), RecordErrorKind::kBadNumber);
    EXPECT_THAT(std::string(label.message()),
                ::testing::HasSubstr("expected a finite number"));
  }
  // The float maximum itself is finite: accepted (and clipped here).
  std::vector<RawValue> fields = {Text("7"), Text("11"), Text("a"),
                                  Text("3.4e38"), Text("4.5")};
  EXPECT_TRUE(enc->Encode(RawRecord{fields, {}}, &ex).ok());
}

TEST_F(FeatureEncoderTest, ServingOptionsAndOverrides) {
  FeatureEncoder::Options o;
  o.targets = false;
  o.absent_dense_is_nan = true;
  std::unique_ptr<FeatureEncoder> enc = Make(o);
  ASSERT_NE(enc, nullptr);
  std::vector<RawValue> fields(columns_.size());  // nothing present
  fields[1] = Text("12");
  Example ex;
  ASSERT_TRUE(enc->Encode(RawRecord{fields, {}}, &ex).ok());
  EXPECT_TRUE(ex.labels.empty());  // no label needed
  ASSERT_EQ(ex.dense.size(), 1u);
  EXPECT_TRUE(std::isnan(ex.dense[0]));
  const Schema& s = *schema_;
  EXPECT_THAT(ex.slot_ids(2), ElementsAre(FeatureId(s.slot(2).seed, "Action")));

  // A slot value given directly replaces what the join gives.
  std::vector<RawValue> slots(s.num_slots()), dense(s.num_dense());
  slots[2] = Text("Horror");
  dense[0] = Text("30");
  ASSERT_TRUE(enc->Encode(RawRecord{fields, {}}, slots, dense, &ex).ok());
  EXPECT_THAT(ex.slot_ids(2), ElementsAre(FeatureId(s.slot(2).seed, "Horror")));
  EXPECT_THAT(ex.dense, ElementsAre(30.0f));
  EXPECT_EQ(enc->slot_field(1), 1);
  EXPECT_EQ(enc->slot_field(2), -1);  // reads the side table
}

TEST_F(FeatureEncoderTest, ColumnsTheFormatLacksAreNamed) {
  columns_ = {"userId", "tags", "age", "rating"};
  auto e = FeatureEncoder::Make(
      schema_,
      [this](std::string_view name) {
        for (size_t i = 0; i < columns_.size(); ++i) {
          if (columns_[i] == name) return static_cast<int>(i);
        }
        return -1;
      },
      "not in the test");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "schema.slots[1] 'movie': column 'movieId' not in the test");
}

}  // namespace
}  // namespace freshet
