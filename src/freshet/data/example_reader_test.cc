#include "freshet/data/example_reader.h"

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "freshet/base/hash.h"
#include "freshet/data/data_test_util.h"
#include "freshet/data/file_log.h"
#include "freshet/data/make_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_util::CriteoLine;
using testing_util::Label;
using testing_util::ReadFile;
using testing_util::Slot;
using testing_util::TempDir;
using testing_util::WriteFile;

std::shared_ptr<const Schema> CriteoSchema() {
  auto schema = Schema::Compile(testing_util::CriteoSchemaSpec());
  EXPECT_TRUE(schema.ok());
  return *schema;
}

TEST(ExampleReaderTest, MalformedRecordsGoToTheDeadLetterFile) {
  TempDir dir;
  const std::string path = dir.File("train.tsv");
  const std::string bad_count = "1\t2\t3";
  const std::string bad_label = "yes" + CriteoLine(1).substr(1);
  std::string bad_utf8 = CriteoLine(2);
  bad_utf8[bad_utf8.size() - 1] = '\xFF';
  const std::vector<std::string> lines = {
      CriteoLine(0), bad_count, CriteoLine(3), bad_label,
      bad_count,     bad_utf8,  CriteoLine(4)};
  WriteFile(path, absl::StrJoin(lines, "\n") + "\n");
  SourceSpec spec;
  spec.path = path;
  spec.format = "criteo";
  auto reader = ExampleReader::Open(spec, CriteoSchema());
  ASSERT_TRUE(reader.ok()) << reader.status();

  Example ex;
  std::vector<float> labels;
  while (true) {
    auto got = (*reader)->Next(&ex);
    ASSERT_TRUE(got.ok()) << got.status();
    if (!*got) break;
    labels.push_back(ex.label());
    EXPECT_EQ(ex.num_slots(), 26);
  }
  EXPECT_TRUE((*reader)->AtEnd());
  EXPECT_THAT(labels, ElementsAre(1.0f, 1.0f, 0.0f));
  const ReaderCounters& c = (*reader)->counters();
  EXPECT_EQ(c.records, 7);
  EXPECT_EQ(c.parsed, 3);
  EXPECT_EQ(c.errors, 4);
  EXPECT_EQ(c.errors_of(RecordErrorKind::kColumnCount), 2);
  EXPECT_EQ(c.errors_of(RecordErrorKind::kBadNumber), 1);
  EXPECT_EQ(c.errors_of(RecordErrorKind::kInvalidUtf8), 1);
  EXPECT_EQ(c.errors_of(RecordErrorKind::kBadJson), 0);

  // One dead-letter line per bad record: POSITION \t KIND \t MESSAGE \t RAW.
  const std::string dead = ReadFile(path + ".dead");
  std::vector<std::string> dead_lines =
      absl::StrSplit(dead, '\n', absl::SkipEmpty());
  ASSERT_EQ(dead_lines.size(), 4u);
  const std::vector<std::string> raws = {bad_count, bad_label, bad_count,
                                         bad_utf8};
  const std::vector<std::string> kinds = {"column_count", "bad_number",
                                          "column_count", "invalid_utf8"};
  auto source = FileLogSource::Open(path);
  ASSERT_TRUE(source.ok());
  for (size_t i = 0; i < dead_lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(dead_lines[i], '\t');
    ASSERT_GE(f.size(), 4u) << dead_lines[i];
    EXPECT_EQ(f[1], kinds[i]);
    EXPECT_FALSE(f[2].empty());
    // The raw record is the rest of the line, tabs included.
    const size_t third_tab =
        f[0].size() + 1 + f[1].size() + 1 + f[2].size() + 1;
    EXPECT_EQ(dead_lines[i].substr(third_tab), raws[i]);
    // The position points at the record in the log.
    auto pos = StreamPosition::Parse(f[0]);
    ASSERT_TRUE(pos.ok()) << f[0];
    EXPECT_EQ(pos->segment, "train.tsv");
    ASSERT_TRUE((*source)->Seek(*pos).ok());
    RecordBatch batch;
    ASSERT_TRUE((*source)->Poll(1, 0, &batch).ok());
    ASSERT_EQ(batch.records.size(), 1u);
    EXPECT_EQ(batch.records[0].data, raws[i]);
  }
  EXPECT_THAT(dead_lines[0], HasSubstr("expected 40 columns, got 3"));
}

TEST(ExampleReaderTest, CleanStreamLeavesNoDeadLetterFile) {
  TempDir dir;
  const std::string path = dir.File("clean.tsv");
  WriteFile(path, CriteoLine(1) + "\n" + CriteoLine(2) + "\n");
  SourceSpec spec;
  spec.path = path;
  spec.dead_letter = dir.File("dead/letters.log");
  auto reader = ExampleReader::Open(spec, CriteoSchema());
  ASSERT_TRUE(reader.ok());
  std::vector<Example> batch(10);
  auto n = (*reader)->NextBatch(absl::MakeSpan(batch));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ((*reader)->counters().errors, 0);
  EXPECT_FALSE(std::filesystem::exists(spec.dead_letter));
  EXPECT_FALSE(std::filesystem::exists(path + ".dead"));
}

SchemaSpec RatingsSchema() {
  SchemaSpec spec;
  spec.slots = {Slot("user", "userId"), Slot("item", "movieId")};
  spec.labels = {Label("rating")};
  return spec;
}

// Reads every example, returning "user item label" strings to compare runs.
std::vector<std::string> ReadAll(ExampleReader* reader) {
  std::vector<std::string> out;
  Example ex;
  while (true) {
    auto got = reader->Next(&ex);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || !*got) break;
    out.push_back(std::to_string(ex.ids[0]) + " " + std::to_string(ex.ids[1]) +
                  " " + std::to_string(ex.label()));
  }
  return out;
}

TEST(ExampleReaderTest, HeaderSegmentsAndResumeFromPosition) {
  TempDir dir;
  const std::string log = dir.File("ratings");
  std::filesystem::create_directories(log);
  const std::string header = "userId,movieId,rating,timestamp\n";
  WriteFile(log + "/part-0", header + "1,10,4.0,5\n1,11,3.0,6\n");
  WriteFile(log + "/part-1", header + "2,10,5.0,7\n2,12,1.0,8\n3,10,2.0,9\n");
  SourceSpec spec;
  spec.path = log;
  spec.format = "csv";
  auto schema = Schema::Compile(RatingsSchema());
  ASSERT_TRUE(schema.ok());

  auto reader = ExampleReader::Open(spec, *schema);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Example ex;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(*(*reader)->Next(&ex));
  EXPECT_EQ(ex.label(), 5.0f);
  const StreamPosition resume = (*reader)->Position();
  EXPECT_EQ(resume, (StreamPosition{"part-1", 43}));
  const std::vector<std::string> rest = ReadAll(reader->get());
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ((*reader)->counters().headers, 2);
  EXPECT_EQ((*reader)->counters().records, 5);
  EXPECT_EQ((*reader)->counters().errors, 0);

  // A new reader (a restart) reads the header, then resumes exactly.
  auto restarted = ExampleReader::Open(spec, *schema);
  ASSERT_TRUE(restarted.ok());
  ASSERT_TRUE((*restarted)->Seek(resume).ok());
  EXPECT_EQ(ReadAll(restarted->get()), rest);
}

TEST(ExampleReaderTest, HeaderTheSchemaDoesNotFitIsAnError) {
  TempDir dir;
  const std::string path = dir.File("r.csv");
  WriteFile(path, "user,movie,rating\n1,2,3\n");
  SourceSpec spec;
  spec.path = path;
  spec.format = "csv";
  auto schema = Schema::Compile(RatingsSchema());
  auto reader = ExampleReader::Open(spec, *schema);
  ASSERT_TRUE(reader.ok());
  Example ex;
  auto got = (*reader)->Next(&ex);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()),
              HasSubstr("column 'userId' not in the header"));
}

TEST(ExampleReaderTest, HeaderGivenApartFromTheRecords) {
  TempDir dir;
  const std::string path = dir.File("rows.csv");
  WriteFile(path, "1,10,4.0,5\n2,11,3.0,6\n");
  SourceSpec spec;
  spec.path = path;
  spec.format = "csv";
  auto source = MakeSource(spec);
  ASSERT_TRUE(source.ok());
  auto schema = Schema::Compile(RatingsSchema());
  auto reader =
      ExampleReader::Create(*std::move(source), *schema, spec, nullptr,
                            std::string("userId,movieId,rating,timestamp"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_NE((*reader)->parser(), nullptr);
  std::vector<std::string> all = ReadAll(reader->get());
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ((*reader)->counters().headers, 0);
  EXPECT_EQ((*reader)->counters().parsed, 2);
}

TEST(ExampleReaderTest, FollowsAGrowingJsonLog) {
  TempDir dir;
  const std::string path = dir.File("events.jsonl");
  WriteFile(path, R"({"userId": "a", "movieId": 1, "rating": 1})"
                  "\n");
  SourceSpec spec;
  spec.path = path;
  spec.format = "jsonl";
  spec.follow = true;
  auto schema = Schema::Compile(RatingsSchema());
  auto reader = ExampleReader::Open(spec, *schema);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Example ex;
  ASSERT_TRUE(*(*reader)->Next(&ex, 100));
  EXPECT_EQ(ex.label(), 1.0f);
  auto none = (*reader)->Next(&ex, 20);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  EXPECT_FALSE((*reader)->AtEnd());
  WriteFile(path,
            "{\"userId\": \"b\", \"movieId\": 2, \"rating\": 2}\n{oops\n"
            "{\"userId\": \"c\", \"movieId\": 3, \"rating\": 3}\n",
            /*append=*/true);
  ASSERT_TRUE(*(*reader)->Next(&ex, 500));
  EXPECT_EQ(ex.label(), 2.0f);
  ASSERT_TRUE(*(*reader)->Next(&ex, 500));
  EXPECT_EQ(ex.label(), 3.0f);
  EXPECT_EQ((*reader)->counters().errors_of(RecordErrorKind::kBadJson), 1);
  EXPECT_THAT(ReadFile(path + ".dead"),
              HasSubstr("events.jsonl:86\tbad_json\t"));
}

TEST(MakeSourceTest, FileAndErrors) {
  TempDir dir;
  WriteFile(dir.File("x.log"), "a\n");
  SourceSpec spec;
  spec.path = dir.File("x.log");
  auto source = MakeSource(spec);
  ASSERT_TRUE(source.ok()) << source.status();
  RecordBatch batch;
  ASSERT_TRUE((*source)->Poll(10, 0, &batch).ok());
  ASSERT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.records[0].data, "a");

  spec.type = "kafka";
  EXPECT_FALSE(MakeSource(spec).ok());
  spec.type = "file";
  spec.path = "";
  EXPECT_FALSE(MakeSource(spec).ok());
  spec.path = dir.File("missing.log");
  EXPECT_EQ(MakeSource(spec).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace freshet
