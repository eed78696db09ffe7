#include "freshet/data/file_log.h"

#include <filesystem>
#include <string>
#include <vector>

#include "freshet/data/data_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;
using testing_util::ReadFile;
using testing_util::TempDir;
using testing_util::WriteFile;

std::unique_ptr<FileLogSource> MustOpen(const std::string& path,
                                        FileLogOptions options = {}) {
  auto source = FileLogSource::Open(path, options);
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

// Polls until the end of a finite stream (or an empty poll in follow mode).
std::vector<std::string> Drain(Source* source, size_t max_records = 1000,
                               int timeout_ms = 0) {
  std::vector<std::string> out;
  RecordBatch batch;
  while (true) {
    EXPECT_TRUE(source->Poll(max_records, timeout_ms, &batch).ok());
    for (const auto& r : batch.records) out.emplace_back(r.data);
    if (batch.records.empty()) break;
  }
  return out;
}

TEST(StreamPositionTest, RoundTrip) {
  for (const StreamPosition& p :
       {StreamPosition{"part-0001.tsv", 123456789012},
        StreamPosition{"a:b:c", 0}, StreamPosition{"", 7}}) {
    auto back = StreamPosition::Parse(p.ToString());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, p);
  }
  EXPECT_EQ((StreamPosition{"seg", 42}).ToString(), "seg:42");
  EXPECT_FALSE(StreamPosition::Parse("no-offset").ok());
  EXPECT_FALSE(StreamPosition::Parse("seg:").ok());
  EXPECT_FALSE(StreamPosition::Parse("seg:-1").ok());
  EXPECT_FALSE(StreamPosition::Parse("seg:12x").ok());
}

TEST(FileLogSourceTest, ReadsLinesAcrossSmallBlocksWithPositions) {
  TempDir dir;
  const std::string path = dir.File("log.tsv");
  WriteFile(path,
            "first\nsecond line\r\n\nfourth is longer than a block\nlast");
  FileLogOptions options;
  options.block_bytes = 4;
  auto source = MustOpen(path, options);
  RecordBatch batch;
  ASSERT_TRUE(source->Poll(100, 0, &batch).ok());
  std::vector<std::string> data;
  std::vector<int64_t> offsets;
  for (const auto& r : batch.records) {
    data.emplace_back(r.data);
    offsets.push_back(r.position.offset);
    EXPECT_EQ(r.position.segment, "log.tsv");
  }
  // '\r' is dropped, an empty line is a record, the unterminated last line
  // is returned at the end of a finite stream.
  EXPECT_THAT(data, ElementsAre("first", "second line", "",
                                "fourth is longer than a block", "last"));
  EXPECT_THAT(offsets, ElementsAre(0, 6, 19, 20, 50));
  EXPECT_TRUE(source->AtEnd());
  EXPECT_EQ(batch.end, (StreamPosition{"log.tsv", 54}));
  ASSERT_TRUE(source->Poll(100, 0, &batch).ok());
  EXPECT_TRUE(batch.records.empty());
}

TEST(FileLogSourceTest, SeekReReadsExactlyTheFollowingRecords) {
  TempDir dir;
  const std::string path = dir.File("log");
  std::string text;
  for (int i = 0; i < 100; ++i) text += "record-" + std::to_string(i) + "\n";
  WriteFile(path, text);
  auto source = MustOpen(path);
  RecordBatch batch;
  ASSERT_TRUE(source->Poll(37, 0, &batch).ok());
  ASSERT_EQ(batch.records.size(), 37u);
  const StreamPosition after = source->Position();
  EXPECT_EQ(after, batch.end);
  const StreamPosition of_tenth = batch.records[10].position;
  std::vector<std::string> rest = Drain(source.get());
  ASSERT_EQ(rest.size(), 63u);
  EXPECT_EQ(rest.front(), "record-37");

  ASSERT_TRUE(source->Seek(after).ok());
  EXPECT_FALSE(source->AtEnd());
  EXPECT_EQ(Drain(source.get()), rest);

  auto parsed = StreamPosition::Parse(of_tenth.ToString());
  ASSERT_TRUE(parsed.ok());
  ASSERT_TRUE(source->Seek(*parsed).ok());
  std::vector<std::string> from_tenth = Drain(source.get(), 7);
  ASSERT_EQ(from_tenth.size(), 90u);
  EXPECT_EQ(from_tenth.front(), "record-10");
  EXPECT_EQ(from_tenth.back(), "record-99");

  EXPECT_EQ(source->Seek({"other", 0}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(source->Seek({"log", 1 << 20}).code(),
            absl::StatusCode::kOutOfRange);
}

TEST(FileLogSourceTest, FollowPicksUpAppendsAndHoldsBackPartialLines) {
  TempDir dir;
  const std::string path = dir.File("live.log");
  WriteFile(path, "a\nb\n");
  FileLogOptions options;
  options.follow = true;
  auto source = MustOpen(path, options);
  EXPECT_THAT(Drain(source.get(), 100, 20), ElementsAre("a", "b"));
  EXPECT_FALSE(source->AtEnd());

  WriteFile(path, "c\npart", /*append=*/true);
  RecordBatch batch;
  ASSERT_TRUE(source->Poll(100, 200, &batch).ok());
  ASSERT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.records[0].data, "c");
  // The partial line is held back, even after waiting.
  ASSERT_TRUE(source->Poll(100, 30, &batch).ok());
  EXPECT_TRUE(batch.records.empty());
  EXPECT_EQ(source->Position(), (StreamPosition{"live.log", 6}));

  WriteFile(path, "ial\n", /*append=*/true);
  ASSERT_TRUE(source->Poll(100, 200, &batch).ok());
  ASSERT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.records[0].data, "partial");
  EXPECT_EQ(batch.records[0].position, (StreamPosition{"live.log", 6}));
  EXPECT_EQ(source->Position(), (StreamPosition{"live.log", 14}));
}

TEST(FileLogSourceTest, FollowWaitsUpToTheTimeout) {
  TempDir dir;
  const std::string path = dir.File("idle.log");
  WriteFile(path, "");
  FileLogOptions options;
  options.follow = true;
  auto source = MustOpen(path, options);
  RecordBatch batch;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(source->Poll(10, 50, &batch).ok());
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(batch.records.empty());
  EXPECT_GE(waited, std::chrono::milliseconds(45));
  EXPECT_LT(waited, std::chrono::seconds(2));
}

TEST(FileLogSourceTest, FolderOfSegmentsInNameOrder) {
  TempDir dir;
  WriteFile(dir.File("0002.log"), "c\nd\n");
  WriteFile(dir.File("0001.log"), "a\nb");  // last line without newline
  WriteFile(dir.File(".hidden"), "x\n");
  auto source = MustOpen(dir.path());
  RecordBatch batch;
  ASSERT_TRUE(source->Poll(100, 0, &batch).ok());
  std::vector<std::string> data;
  std::vector<std::string> where;
  for (const auto& r : batch.records) {
    data.emplace_back(r.data);
    where.push_back(r.position.ToString());
  }
  EXPECT_THAT(data, ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(where, ElementsAre("0001.log:0", "0001.log:2", "0002.log:0",
                                 "0002.log:2"));
  EXPECT_TRUE(source->AtEnd());

  ASSERT_TRUE(source->Seek({"0001.log", 2}).ok());
  EXPECT_THAT(Drain(source.get()), ElementsAre("b", "c", "d"));
  ASSERT_TRUE(source->Seek({"0002.log", 2}).ok());
  EXPECT_THAT(Drain(source.get()), ElementsAre("d"));
}

TEST(FileLogSourceTest, FollowedFolderPicksUpNewSegments) {
  TempDir dir;
  FileLogOptions options;
  options.follow = true;
  auto source = MustOpen(dir.path(), options);  // empty folder
  RecordBatch batch;
  ASSERT_TRUE(source->Poll(10, 10, &batch).ok());
  EXPECT_TRUE(batch.records.empty());

  WriteFile(dir.File("0001.log"), "a\nhalf");
  EXPECT_THAT(Drain(source.get(), 100, 30), ElementsAre("a"));
  // A later segment means the writer moved on: "half" is complete.
  WriteFile(dir.File("0002.log"), "b\n");
  EXPECT_THAT(Drain(source.get(), 100, 30), ElementsAre("half", "b"));
  EXPECT_EQ(source->Position(), (StreamPosition{"0002.log", 2}));
  WriteFile(dir.File("0002.log"), "c\n", /*append=*/true);
  EXPECT_THAT(Drain(source.get(), 100, 30), ElementsAre("c"));
}

TEST(FileLogSourceTest, OverlongLineIsTruncatedAndSkipped) {
  TempDir dir;
  const std::string path = dir.File("long.log");
  WriteFile(path,
            "ok\n" + std::string(100, 'x') + "\nnext\n" + std::string(50, 'y'));
  FileLogOptions options;
  options.max_record_bytes = 10;
  options.block_bytes = 8;
  auto source = MustOpen(path, options);
  RecordBatch batch;
  ASSERT_TRUE(source->Poll(100, 0, &batch).ok());
  ASSERT_EQ(batch.records.size(), 4u);
  EXPECT_EQ(batch.records[0].data, "ok");
  EXPECT_EQ(batch.records[1].data, std::string(11, 'x'));
  EXPECT_EQ(batch.records[1].position.offset, 3);
  EXPECT_EQ(batch.records[2].data, "next");
  EXPECT_EQ(batch.records[2].position.offset, 104);
  EXPECT_EQ(batch.records[3].data, std::string(11, 'y'));
  EXPECT_EQ(batch.end.offset, 159);
}

TEST(FileLogSourceTest, MissingPathIsNotFound) {
  TempDir dir;
  EXPECT_EQ(FileLogSource::Open(dir.File("nope")).status().code(),
            absl::StatusCode::kNotFound);
  // A folder with no segments is an error unless followed.
  EXPECT_FALSE(FileLogSource::Open(dir.path()).ok());
}

TEST(FileLogSinkTest, AppendsLinesAndCreatesFolders) {
  TempDir dir;
  const std::string path = dir.File("sub/dir/out.log");
  {
    auto sink = FileLogSink::Open(path, /*fsync_on_flush=*/true);
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Append("one").ok());
    ASSERT_TRUE((*sink)->Append("two\tcols").ok());
    ASSERT_TRUE((*sink)->Flush().ok());
    EXPECT_EQ(ReadFile(path), "one\ntwo\tcols\n");
  }
  auto again = FileLogSink::Open(path);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Append("three").ok());
  ASSERT_TRUE((*again)->Flush().ok());
  EXPECT_EQ(ReadFile(path), "one\ntwo\tcols\nthree\n");

  // What the sink writes, the source reads back.
  auto source = MustOpen(path);
  EXPECT_THAT(Drain(source.get()), ElementsAre("one", "two\tcols", "three"));
}

}  // namespace
}  // namespace freshet
