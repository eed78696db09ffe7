#include "freshet/data/record_parser.h"

#include <cmath>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "freshet/base/hash.h"
#include "freshet/data/data_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_util::Label;
using testing_util::Slot;

std::shared_ptr<const Schema> MustCompile(const SchemaSpec& spec) {
  auto schema = Schema::Compile(spec);
  EXPECT_TRUE(schema.ok()) << schema.status();
  return *schema;
}

std::unique_ptr<RecordParser> MustParser(const SchemaSpec& schema,
                                         const SourceSpec& source,
                                         std::string_view header = {}) {
  auto parser = MakeRecordParser(MustCompile(schema), source, header);
  EXPECT_TRUE(parser.ok()) << parser.status();
  return parser.ok() ? *std::move(parser) : nullptr;
}

SourceSpec Format(const std::string& format) {
  SourceSpec s;
  s.format = format;
  return s;
}

// The kind of the error `Parse` returns for `record`, or a failure.
std::string ErrorKind(RecordParser* parser, std::string_view record) {
  Example ex;
  absl::Status status = parser->Parse(record, &ex);
  if (status.ok()) return "ok";
  auto kind = GetRecordErrorKind(status);
  if (!kind.has_value()) return "no kind: " + status.ToString();
  return std::string(RecordErrorKindName(*kind));
}

std::vector<uint64_t> Ids(const Example& ex, int slot) {
  auto s = ex.slot_ids(slot);
  return std::vector<uint64_t>(s.begin(), s.end());
}

uint64_t Id(const std::string& table, const std::string& value) {
  return FeatureId(TableSeed(table), value);
}

std::string CriteoLine(const std::string& label = "1") {
  std::vector<std::string> f = {label};
  for (int i = 1; i <= 13; ++i) f.push_back(absl::StrCat(i * 3 - 20));
  for (int i = 1; i <= 26; ++i) f.push_back(absl::StrCat("a0b1c2", 10 + i));
  return absl::StrJoin(f, "\t");
}

TEST(RecordErrorTest, KindsHaveDistinctNamesAndRoundTrip) {
  std::set<std::string_view> names;
  for (int k = 0; k < kNumRecordErrorKinds; ++k) {
    const auto kind = static_cast<RecordErrorKind>(k);
    names.insert(RecordErrorKindName(kind));
    auto back = GetRecordErrorKind(MakeRecordError(kind, "x"));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, kind);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumRecordErrorKinds));
  EXPECT_FALSE(GetRecordErrorKind(absl::InvalidArgumentError("x")).has_value());
}

TEST(CriteoParserTest, ParsesLabelDenseAndSlots) {
  auto parser = MustParser(testing_util::CriteoSchemaSpec(), Format("criteo"));
  Example ex;
  ASSERT_TRUE(parser->Parse(CriteoLine("1"), &ex).ok());
  ASSERT_EQ(ex.labels.size(), 1u);
  EXPECT_EQ(ex.label(), 1.0f);
  ASSERT_EQ(ex.dense.size(), 13u);
  // I1 = -17 -> log(1 + max(x, 0)) = 0; I13 = 19 -> log(20).
  EXPECT_FLOAT_EQ(ex.dense[0], 0.0f);
  EXPECT_FLOAT_EQ(ex.dense[12], std::log(20.0f));
  ASSERT_EQ(ex.num_slots(), 26);
  EXPECT_THAT(Ids(ex, 0), ElementsAre(Id("C1", "a0b1c211")));
  EXPECT_THAT(Ids(ex, 25), ElementsAre(Id("C26", "a0b1c236")));
  EXPECT_TRUE(ex.id_weights.empty());
}

TEST(CriteoParserTest, EmptyValuesGiveMissingAndEmptySlots) {
  SchemaSpec spec = testing_util::CriteoSchemaSpec();
  spec.dense[1].missing = -1.5f;
  auto parser = MustParser(spec, Format("criteo"));
  std::vector<std::string> f = {"0", "5", ""};
  for (int i = 3; i <= 13; ++i) f.push_back("1");
  f.push_back("");  // C1 empty
  for (int i = 2; i <= 26; ++i) f.push_back("deadbeef");
  Example ex;
  ASSERT_TRUE(parser->Parse(absl::StrJoin(f, "\t"), &ex).ok());
  EXPECT_EQ(ex.label(), 0.0f);
  EXPECT_FLOAT_EQ(ex.dense[0], std::log(6.0f));
  EXPECT_FLOAT_EQ(ex.dense[1], -1.5f);  // missing is used as is
  EXPECT_TRUE(Ids(ex, 0).empty());
  EXPECT_THAT(Ids(ex, 1), ElementsAre(Id("C2", "deadbeef")));
  EXPECT_EQ(ex.ids.size(), 25u);
}

TEST(CriteoParserTest, RejectsEveryBadKind) {
  SourceSpec source = Format("criteo");
  source.max_line_bytes = 400;
  auto parser = MustParser(testing_util::CriteoSchemaSpec(), source);
  std::string line = CriteoLine();
  EXPECT_EQ(ErrorKind(parser.get(), line), "ok");
  EXPECT_EQ(ErrorKind(parser.get(), line + "\textra"), "column_count");
  EXPECT_EQ(ErrorKind(parser.get(), line.substr(0, line.rfind('\t'))),
            "column_count");
  EXPECT_EQ(ErrorKind(parser.get(), CriteoLine("x")), "bad_number");
  EXPECT_EQ(ErrorKind(parser.get(), CriteoLine("")), "bad_number");
  std::string bad_dense = line;
  bad_dense.replace(bad_dense.find("\t-17\t"), 5, "\t1x7\t");
  EXPECT_EQ(ErrorKind(parser.get(), bad_dense), "bad_number");
  std::string bad_utf8 = line;
  bad_utf8[bad_utf8.size() - 2] = '\xC3';
  EXPECT_EQ(ErrorKind(parser.get(), bad_utf8), "invalid_utf8");
  EXPECT_EQ(ErrorKind(parser.get(), line + std::string(400, 'a')),
            "line_too_long");
}

TEST(CriteoParserTest, UnknownColumnIsAConfigError) {
  SchemaSpec spec = testing_util::CriteoSchemaSpec();
  spec.slots[3].column = "C44";
  auto parser = MakeRecordParser(MustCompile(spec), Format("criteo"));
  ASSERT_FALSE(parser.ok());
  EXPECT_THAT(std::string(parser.status().message()),
              HasSubstr("schema.slots[3] 'C4': column 'C44'"));
}

TEST(CriteoParserTest, RefillDoesNotReallocate) {
  auto parser = MustParser(testing_util::CriteoSchemaSpec(), Format("criteo"));
  Example ex;
  const std::string line = CriteoLine();
  ASSERT_TRUE(parser->Parse(line, &ex).ok());
  const uint64_t* ids = ex.ids.data();
  const float* dense = ex.dense.data();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(parser->Parse(line, &ex).ok());
  EXPECT_EQ(ex.ids.data(), ids);
  EXPECT_EQ(ex.dense.data(), dense);
}

SchemaSpec RatingsSchema() {
  SchemaSpec spec;
  spec.slots = {Slot("user", "userId"), Slot("item", "movieId")};
  LabelSpec label = Label("like", "rating");
  label.has_threshold = true;
  label.threshold = 4.0;
  spec.labels = {label};
  spec.timestamp_column = "timestamp";
  spec.timestamp_unit_ms = 1000.0;
  return spec;
}

TEST(CsvParserTest, HeaderNamesColumns) {
  auto parser = MustParser(RatingsSchema(), Format("csv"),
                           "userId,movieId,rating,timestamp\r");
  Example ex;
  ASSERT_TRUE(parser->Parse("1,31,2.5,1260759144\r", &ex).ok());
  EXPECT_EQ(ex.label(), 0.0f);
  EXPECT_EQ(ex.event_time_ms, 1260759144000);
  EXPECT_THAT(Ids(ex, 0), ElementsAre(Id("user", "1")));
  EXPECT_THAT(Ids(ex, 1), ElementsAre(Id("item", "31")));
  ASSERT_TRUE(parser->Parse("7,2,4.0,1", &ex).ok());
  EXPECT_EQ(ex.label(), 1.0f);
  EXPECT_EQ(ErrorKind(parser.get(), "1,2,3"), "column_count");
  EXPECT_EQ(ErrorKind(parser.get(), "1,2,good,4"), "bad_number");
  EXPECT_EQ(ErrorKind(parser.get(), "1,2,4,soon"), "bad_number");
}

TEST(CsvParserTest, QuotedFields) {
  SchemaSpec spec;
  spec.slots = {Slot("title"), Slot("id")};
  auto parser = MustParser(spec, Format("csv"), "id,title,x");
  Example ex;
  ASSERT_TRUE(
      parser->Parse("11,\"American President, The (1995)\",\"a\"\"b\"", &ex)
          .ok());
  EXPECT_THAT(Ids(ex, 0),
              ElementsAre(Id("title", "American President, The (1995)")));
  EXPECT_THAT(Ids(ex, 1), ElementsAre(Id("id", "11")));
  EXPECT_EQ(ErrorKind(parser.get(), "11,\"unterminated,x"), "bad_syntax");
  EXPECT_EQ(ErrorKind(parser.get(), "11,\"a\"b,x"), "bad_syntax");
}

TEST(CsvParserTest, MissingHeaderColumnNamesTheField) {
  auto parser = MakeRecordParser(MustCompile(RatingsSchema()), Format("csv"),
                                 "userId,itemId,rating,timestamp");
  ASSERT_FALSE(parser.ok());
  EXPECT_EQ(parser.status().message(),
            "schema.slots[1] 'item': column 'movieId' not in the header");
  auto no_header =
      MakeRecordParser(MustCompile(RatingsSchema()), Format("csv"), "");
  EXPECT_FALSE(no_header.ok());
}

TEST(TsvParserTest, PositionalColumnsAndMultiValuedWeightedSlots) {
  SchemaSpec spec;
  SlotSpec tags = Slot("tags");
  tags.multi_valued = true;
  tags.separator = ",";
  tags.weighted = true;
  spec.slots = {Slot("site"), tags};
  spec.labels = {Label("click")};
  spec.request_id_column = "req";
  spec.weight_column = "w";
  SourceSpec source = Format("tsv");
  source.header = false;
  source.columns = {"req", "click", "site", "tags", "w"};
  auto parser = MustParser(spec, source);
  Example ex;
  ASSERT_TRUE(parser->Parse("r-17\t1\tabc\tx:0.5,,y\t2.5", &ex).ok());
  EXPECT_EQ(ex.request_id, Hash64("r-17"));
  EXPECT_FLOAT_EQ(ex.weight, 2.5f);
  EXPECT_THAT(Ids(ex, 0), ElementsAre(Id("site", "abc")));
  EXPECT_THAT(Ids(ex, 1), ElementsAre(Id("tags", "x"), Id("tags", "y")));
  // Weights are parallel to all ids once a slot is weighted.
  EXPECT_THAT(ex.id_weights, ElementsAre(1.0f, 0.5f, 1.0f));
  // Quotes are plain characters in tsv.
  ASSERT_TRUE(parser->Parse("r\t0\t\"q\t\t1", &ex).ok());
  EXPECT_THAT(Ids(ex, 0), ElementsAre(Id("site", "\"q")));
  EXPECT_TRUE(Ids(ex, 1).empty());
  EXPECT_EQ(ErrorKind(parser.get(), "r\t0\ts\tx:heavy\t1"), "bad_number");
  EXPECT_EQ(ErrorKind(parser.get(), "r\t0\ts\tx\tnope"), "bad_number");

  SourceSpec no_columns = Format("tsv");
  no_columns.header = false;
  EXPECT_FALSE(MakeRecordParser(MustCompile(spec), no_columns).ok());
}

SchemaSpec JsonSchema() {
  SchemaSpec spec;
  SlotSpec genres = Slot("genres");
  genres.multi_valued = true;
  spec.slots = {Slot("user"), genres};
  DenseSpec age;
  age.name = "age";
  age.transform = DenseTransform::kClip;
  age.clip_min = 0;
  age.clip_max = 100;
  age.missing = 30;
  spec.dense = {age};
  spec.labels = {Label("click")};
  return spec;
}

TEST(JsonParserTest, ScalarsArraysAndIgnoredKeys) {
  auto parser = MustParser(JsonSchema(), Format("jsonl"));
  Example ex;
  ASSERT_TRUE(
      parser
          ->Parse(R"({"user": "u\u00e9\"1", "genres": ["a", 7, null],)"
                  R"( "age": 130, "click": 1, "extra": {"x": [1, {}]}})",
                  &ex)
          .ok());
  EXPECT_THAT(Ids(ex, 0), ElementsAre(Id("user", "u\xC3\xA9\"1")));
  EXPECT_THAT(Ids(ex, 1), ElementsAre(Id("genres", "a"), Id("genres", "7")));
  EXPECT_THAT(ex.dense, ElementsAre(100.0f));
  EXPECT_EQ(ex.label(), 1.0f);

  // Numbers hash as their text; a string slot value is split when
  // multi-valued; absent slot and dense columns are empty / missing.
  ASSERT_TRUE(
      parser->Parse(R"({"click": false, "user": 42, "genres": "b|c"})", &ex)
          .ok());
  EXPECT_THAT(Ids(ex, 0), ElementsAre(Id("user", "42")));
  EXPECT_THAT(Ids(ex, 1), ElementsAre(Id("genres", "b"), Id("genres", "c")));
  EXPECT_THAT(ex.dense, ElementsAre(30.0f));
  EXPECT_EQ(ex.label(), 0.0f);
  ASSERT_TRUE(parser->Parse(R"({"click": 0.0, "user": null})", &ex).ok());
  EXPECT_TRUE(Ids(ex, 0).empty());
}

TEST(JsonParserTest, RejectsBadRecords) {
  auto parser = MustParser(JsonSchema(), Format("jsonl"));
  EXPECT_EQ(ErrorKind(parser.get(), R"({"user": "a"})"), "missing_field");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": "yes"})"), "bad_number");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "age": "old"})"),
            "bad_number");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1)"), "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1} x)"), "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"([1, 2])"), "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 01})"), "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "user": tru})"),
            "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "user": {"a": 1}})"),
            "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "genres": [[1]]})"),
            "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "x": "\q"})"), "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "x": "\ud800"})"),
            "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), "{\"click\": 1, \"x\": \"\xff\"}"),
            "invalid_utf8");
  EXPECT_EQ(ErrorKind(parser.get(), ""), "bad_json");
}

// Malformed JSON that a lenient on-demand walk could pass over, under keys no
// column uses as well as used ones; and the order of the checks.
TEST(JsonParserTest, ValidatesTheWholeRecord) {
  auto parser = MustParser(JsonSchema(), Format("jsonl"));
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "x": "a": 2})"),
            "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "x": [1, {"c": [}]}]})"),
            "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "x": {"a": 1]})"),
            "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "genres": ["a"})"),
            "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "x": 1.})"), "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "x": nul})"), "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), "{\"click\": 1, \"x\": \"a\tb\"}"),
            "bad_json");
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1} {"click": 1})"),
            "bad_json");
  // Numbers must fit a double.
  EXPECT_EQ(ErrorKind(parser.get(), R"({"click": 1, "x": 1e400})"), "bad_json");
  // Values under unused keys may nest 64 containers deep, not 65.
  const auto nested = [](int depth) {
    return absl::StrCat(R"({"click": 1, "x": )", std::string(depth, '['), "1",
                        std::string(depth, ']'), "}");
  };
  EXPECT_EQ(ErrorKind(parser.get(), nested(64)), "ok");
  EXPECT_EQ(ErrorKind(parser.get(), nested(65)), "bad_json");
  // Invalid UTF-8 is reported ahead of a JSON error in the same record.
  EXPECT_EQ(ErrorKind(parser.get(), "{\"click\": 1, \"x\": \"\xff"),
            "invalid_utf8");
  // Escaped keys are decoded before the lookup.
  Example ex;
  ASSERT_TRUE(
      parser->Parse(R"({"cl\u0069ck": 1, "u\u0073er": "\/"})", &ex).ok());
  EXPECT_EQ(ex.label(), 1.0f);
  EXPECT_THAT(Ids(ex, 0), ElementsAre(Id("user", "/")));
  // Messages give the byte offset where simdjson has one.
  absl::Status status = parser->Parse(R"({"click": 01})", &ex);
  EXPECT_THAT(status.message(), HasSubstr("bad JSON at byte 10"));
}

TEST(LibsvmParserTest, PairsBecomeWeightedIds) {
  SchemaSpec spec;
  spec.slots = {Slot("f", "features")};
  LabelSpec label = Label("y", "label");
  label.has_threshold = true;
  label.threshold = 0.5;
  spec.labels = {label};
  auto parser = MustParser(spec, Format("libsvm"));
  Example ex;
  ASSERT_TRUE(parser->Parse("+1 3:0.5  17:2\t", &ex).ok());
  EXPECT_EQ(ex.label(), 1.0f);
  EXPECT_THAT(Ids(ex, 0), ElementsAre(Id("f", "3"), Id("f", "17")));
  EXPECT_THAT(ex.id_weights, ElementsAre(0.5f, 2.0f));
  ASSERT_TRUE(parser->Parse("-1", &ex).ok());
  EXPECT_EQ(ex.label(), 0.0f);
  EXPECT_TRUE(ex.ids.empty());
  EXPECT_EQ(ErrorKind(parser.get(), "yes 3:1"), "bad_number");
  EXPECT_EQ(ErrorKind(parser.get(), "1 3:x"), "bad_number");
  EXPECT_EQ(ErrorKind(parser.get(), "1 3"), "bad_syntax");
  EXPECT_EQ(ErrorKind(parser.get(), "1 :2"), "bad_syntax");

  SchemaSpec wrong = spec;
  wrong.slots[0].column = "f";
  EXPECT_FALSE(MakeRecordParser(MustCompile(wrong), Format("libsvm")).ok());
}

TEST(LibffmParserTest, FieldSelectsSlot) {
  SchemaSpec spec;
  spec.slots = {Slot("a", "0"), Slot("b", "1")};
  spec.labels = {Label("y", "label")};
  auto parser = MustParser(spec, Format("libffm"));
  Example ex;
  ASSERT_TRUE(parser->Parse("1 1:5:1 0:2:0.25 1:6:3", &ex).ok());
  EXPECT_EQ(ex.label(), 1.0f);
  EXPECT_THAT(Ids(ex, 0), ElementsAre(Id("a", "2")));
  EXPECT_THAT(Ids(ex, 1), ElementsAre(Id("b", "5"), Id("b", "6")));
  EXPECT_THAT(ex.id_weights, ElementsAre(0.25f, 1.0f, 3.0f));
  EXPECT_EQ(ErrorKind(parser.get(), "1 2:5:1"), "unknown_field");
  EXPECT_EQ(ErrorKind(parser.get(), "1 5:1"), "bad_syntax");
  EXPECT_EQ(ErrorKind(parser.get(), "1 x:5:1"), "bad_syntax");
  EXPECT_EQ(ErrorKind(parser.get(), "1 0:5:z"), "bad_number");

  SchemaSpec wrong = spec;
  wrong.slots[1].column = "one";
  EXPECT_FALSE(MakeRecordParser(MustCompile(wrong), Format("libffm")).ok());
}

// A label beyond the float range is bad_number in the pair formats as in
// the others, not an infinite target.
TEST(PairParserTest, LabelBeyondTheFloatRangeIsBadNumber) {
  SchemaSpec spec;
  spec.slots = {Slot("a", "0")};
  spec.labels = {Label("y", "label")};
  auto ffm = MustParser(spec, Format("libffm"));
  EXPECT_EQ(ErrorKind(ffm.get(), "1e300 0:1:1"), "bad_number");
  EXPECT_EQ(ErrorKind(ffm.get(), "-1e39"), "bad_number");
  EXPECT_EQ(ErrorKind(ffm.get(), "3.4e38 0:1:1"), "ok");
  spec.slots = {Slot("f", "features")};
  auto svm = MustParser(spec, Format("libsvm"));
  EXPECT_EQ(ErrorKind(svm.get(), "1e300 3:1"), "bad_number");
  // With a threshold any finite number is a 0/1 label.
  spec.labels[0].has_threshold = true;
  spec.labels[0].threshold = 0.5;
  svm = MustParser(spec, Format("libsvm"));
  EXPECT_EQ(ErrorKind(svm.get(), "1e300 3:1"), "ok");
}

// A timestamp whose milliseconds do not fit an int64 is bad_number, not an
// arbitrary event time.
TEST(CsvParserTest, TimestampOutOfRangeIsBadNumber) {
  auto parser = MustParser(RatingsSchema(), Format("csv"),
                           "userId,movieId,rating,timestamp");
  Example ex;
  EXPECT_EQ(ErrorKind(parser.get(), "1,2,4,1e300"), "bad_number");
  EXPECT_EQ(ErrorKind(parser.get(), "1,2,4,-9.3e15"), "bad_number");
  ASSERT_TRUE(parser->Parse("1,2,4,-9e12", &ex).ok());
  EXPECT_EQ(ex.event_time_ms, -9000000000000000);
  // "+-" is not a sign.
  EXPECT_EQ(ErrorKind(parser.get(), "1,2,+-4,1"), "bad_number");
}

// Random mutations of good records: every failure carries a kind, and
// nothing crashes (the ASan build runs this too).
TEST(RecordParserFuzzTest, MutatedRecordsFailWithAKind) {
  SchemaSpec csv_schema = RatingsSchema();
  SlotSpec tags = Slot("tags");
  tags.multi_valued = true;
  tags.weighted = true;
  csv_schema.slots.push_back(tags);
  SchemaSpec json_schema = JsonSchema();
  SchemaSpec ffm_schema;
  ffm_schema.slots = {Slot("a", "0"), Slot("b", "1")};
  ffm_schema.labels = {Label("y", "label")};
  struct Case {
    std::unique_ptr<RecordParser> parser;
    std::string good;
  };
  std::vector<Case> cases;
  cases.push_back(
      {MustParser(testing_util::CriteoSchemaSpec(), Format("criteo")),
       CriteoLine()});
  cases.push_back({MustParser(csv_schema, Format("csv"),
                              "userId,movieId,rating,timestamp,tags"),
                   "1,\"2,3\",4.5,99,a:1|b:2"});
  cases.push_back(
      {MustParser(json_schema, Format("jsonl")),
       R"({"user": "a\u00e9", "genres": ["x", 1], "age": 3, "click": 1})"});
  cases.push_back({MustParser(ffm_schema, Format("libffm")), "1 0:3:1 1:4:2"});
  std::mt19937 rng(11);
  const std::string alphabet = "\t,:|\"{}[]\\u0123456789abe.-+ \xC3\xA9\xFF";
  Example ex;
  int failures = 0;
  for (Case& c : cases) {
    ASSERT_TRUE(c.parser->Parse(c.good, &ex).ok()) << c.good;
    for (int trial = 0; trial < 3000; ++trial) {
      std::string rec = c.good;
      const int edits = 1 + rng() % 4;
      for (int e = 0; e < edits; ++e) {
        const size_t at = rec.empty() ? 0 : rng() % rec.size();
        switch (rng() % 3) {
          case 0:
            if (!rec.empty()) rec.erase(at, 1);
            break;
          case 1:
            rec.insert(rec.begin() + at, alphabet[rng() % alphabet.size()]);
            break;
          default:
            if (!rec.empty()) rec[at] = alphabet[rng() % alphabet.size()];
        }
      }
      absl::Status status = c.parser->Parse(rec, &ex);
      if (status.ok()) {
        ASSERT_EQ(ex.slot_offsets.size(),
                  static_cast<size_t>(c.parser->schema().num_slots() + 1));
        ASSERT_EQ(ex.slot_offsets.back(), ex.ids.size());
        continue;
      }
      ++failures;
      ASSERT_TRUE(GetRecordErrorKind(status).has_value())
          << status << " for " << rec;
    }
  }
  EXPECT_GT(failures, 1000);
}

TEST(RecordParserFactoryTest, FromSchemaSpec) {
  auto parser = MakeRecordParser(RatingsSchema(), Format("csv"),
                                 "userId,movieId,rating,timestamp");
  ASSERT_TRUE(parser.ok()) << parser.status();
  Example ex;
  ASSERT_TRUE((*parser)->Parse("3,4,4.5,10", &ex).ok());
  EXPECT_EQ(ex.label(), 1.0f);
  EXPECT_EQ(ex.event_time_ms, 10000);
  SchemaSpec bad = RatingsSchema();
  bad.slots.push_back(Slot("user"));
  EXPECT_FALSE(MakeRecordParser(bad, Format("csv"), "userId,movieId").ok());
}

TEST(RecordParserFactoryTest, RejectsUnknownFormatAndBadDelimiter) {
  auto schema = MustCompile(RatingsSchema());
  EXPECT_FALSE(MakeRecordParser(schema, Format("parquet")).ok());
  SourceSpec source = Format("csv");
  source.delimiter = ";;";
  EXPECT_FALSE(
      MakeRecordParser(schema, source, "userId,movieId,rating,timestamp").ok());
  source.delimiter = ";";
  EXPECT_TRUE(
      MakeRecordParser(schema, source, "userId;movieId;rating;timestamp").ok());
}

}  // namespace
}  // namespace freshet
