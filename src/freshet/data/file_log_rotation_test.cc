// A followed file log whose files are rotated under it, with real files in a
// temp folder: copytruncate, rewrite in place, rename and recreate, removal,
// and a segment that appears sorting before the one being read. Each test
// asserts the exact records read (nothing lost where the data still exists,
// nothing read twice), the warning logged and the counters; and that a
// position taken around a rotation resumes as docs/data_formats.md says.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "freshet/base/fault_injecting_file_system.h"
#include "freshet/base/log_capture.h"
#include "freshet/data/data_test_util.h"
#include "freshet/data/example_reader.h"
#include "freshet/data/file_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing_util::CriteoLine;
using testing_util::TempDir;
using testing_util::WriteFile;

std::unique_ptr<FileLogSource> Follow(const std::string& path) {
  FileLogOptions options;
  options.follow = true;
  options.poll_interval_ms = 1;
  auto source = FileLogSource::Open(path, options);
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

// Polls until `n` records arrived (5 s at most: a source that idles fails
// the test rather than hanging it), then once more for 20 ms to catch
// records that should not be there.
std::vector<std::string> Read(Source* source, size_t n) {
  std::vector<std::string> out;
  RecordBatch batch;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(source->Poll(100, 20, &batch).ok());
    for (const auto& r : batch.records) out.emplace_back(r.data);
  }
  EXPECT_TRUE(source->Poll(100, 20, &batch).ok());
  for (const auto& r : batch.records) out.emplace_back(r.data);
  return out;
}

// Writes `text` to a new file and renames it over `path`, as an atomic
// "replace the file" does.
void ReplaceFile(const std::string& path, const std::string& text) {
  WriteFile(path + ".tmp", text);
  fs::rename(path + ".tmp", path);
}

TEST(FileLogRotationTest, CopytruncateIsReadAgainFromTheStart) {
  TempDir dir;
  const std::string path = dir.File("app.log");
  WriteFile(path, "a\nb\npar");
  auto source = Follow(path);
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("a", "b"));

  // logrotate copytruncate: the copy has everything read so far and the
  // held-back "par"; the writer goes on at the start of the emptied file.
  LogCapture log;
  fs::copy_file(path, dir.File("app.log.1"));
  fs::resize_file(path, 0);
  WriteFile(path, "c\nd\n", /*append=*/true);
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("c", "d"));
  EXPECT_THAT(log.text(), HasSubstr("'app.log' was truncated to 4 bytes, "
                                    "below the read offset 7"));
  EXPECT_EQ(source->Position(), (StreamPosition{"app.log", 4}));
  WriteFile(path, "e\n", /*append=*/true);
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("e"));

  const RotationCounters c = source->rotation_counters();
  EXPECT_EQ(c.rotations, 1);
  EXPECT_EQ(c.gaps, 1);
  EXPECT_EQ(c.lost_bytes, 3);  // "par": its line was cut by the truncation
}

TEST(FileLogRotationTest, RewriteInPlaceOfAnyLengthIsReadFromTheStart) {
  TempDir dir;
  const std::string path = dir.File("app.log");
  WriteFile(path, "a\nb\n");
  auto source = Follow(path);
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("a", "b"));
  LogCapture log;

  // The same file truncated and written again, as long as before: its size
  // does not tell, its bytes do.
  WriteFile(path, "c\nd\n");
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("c", "d"));
  EXPECT_THAT(log.text(), HasSubstr("'app.log' was rewritten in place"));

  // Longer than before: without the check the source would go on at offset
  // 4 of the new bytes, in the middle of a line ("2", "x3").
  WriteFile(path, "x1\nx2\nx3\n");
  EXPECT_THAT(Read(source.get(), 3), ElementsAre("x1", "x2", "x3"));

  // Shorter, as another file renamed over it: the old one is done, the new
  // one is read whole.
  ReplaceFile(path, "y\n");
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("y"));
  EXPECT_THAT(log.text(), HasSubstr("'app.log' was renamed or replaced by "
                                    "another file"));

  const RotationCounters c = source->rotation_counters();
  EXPECT_EQ(c.rotations, 3);
  EXPECT_EQ(c.gaps, 2);  // the in-place rewrites; the replaced file was read
  EXPECT_EQ(c.lost_bytes, 0);
}

TEST(FileLogRotationTest, RenamedFileIsFinishedThenTheNewOneRead) {
  TempDir dir;
  const std::string path = dir.File("app.log");
  WriteFile(path, "a\nb\n");
  auto source = Follow(path);
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("a", "b"));

  LogCapture log;
  WriteFile(path, "c\n", /*append=*/true);
  fs::rename(path, dir.File("app.log.1"));
  // The writer still writes the renamed file until it reopens the path, and
  // its last line has no newline: the writer has moved on, so it is whole.
  WriteFile(dir.File("app.log.1"), "d\nlast", /*append=*/true);
  WriteFile(path, "e\nf\n");
  EXPECT_THAT(Read(source.get(), 5), ElementsAre("c", "d", "last", "e", "f"));
  EXPECT_THAT(log.text(), HasSubstr("'app.log' was renamed or replaced by "
                                    "another file; read it to its end (12 "
                                    "bytes) through the open file"));
  EXPECT_EQ(source->rotation_counters().rotations, 1);
  EXPECT_EQ(source->rotation_counters().gaps, 0);

  // A position in the new file resumes exactly there.
  const StreamPosition at = source->Position();
  EXPECT_EQ(at, (StreamPosition{"app.log", 4}));
  source.reset();
  WriteFile(path, "g\n", /*append=*/true);
  auto resumed = Follow(path);
  ASSERT_TRUE(resumed->Seek(at).ok());
  EXPECT_THAT(Read(resumed.get(), 1), ElementsAre("g"));
}

TEST(FileLogRotationTest, RenamedSegmentInAFolderIsNotReadTwice) {
  TempDir dir;
  WriteFile(dir.File("app.log"), "a\nb\n");
  auto source = Follow(dir.path());
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("a", "b"));

  // "app.log.1" sorts after "app.log": without telling it by its identity
  // the source would read a, b and c again from it.
  WriteFile(dir.File("app.log"), "c\n", /*append=*/true);
  fs::rename(dir.File("app.log"), dir.File("app.log.1"));
  WriteFile(dir.File("app.log"), "d\n");
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("c", "d"));
  WriteFile(dir.File("app.log"), "e\n", /*append=*/true);
  WriteFile(dir.File("app.log.2"), "f\n");
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("e", "f"));
  EXPECT_EQ(source->rotation_counters().rotations, 1);
}

TEST(FileLogRotationTest, RemovedFileIsFinishedThenWaitedFor) {
  TempDir dir;
  const std::string path = dir.File("app.log");
  WriteFile(path, "a\nb\n");
  auto source = Follow(path);
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("a", "b"));

  LogCapture log;
  WriteFile(path, "c\n", /*append=*/true);
  fs::remove(path);
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("c"));
  EXPECT_THAT(log.text(), HasSubstr("'app.log' was removed or renamed away; "
                                    "read it to its end (6 bytes)"));
  EXPECT_THAT(log.text(), HasSubstr("waiting for the file to appear again"));
  // Without the check the source would read the removed file forever.
  WriteFile(path, "d\n");
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("d"));
  EXPECT_EQ(source->Position(), (StreamPosition{"app.log", 2}));
  EXPECT_EQ(source->rotation_counters().rotations, 1);
  EXPECT_EQ(source->rotation_counters().gaps, 0);
}

TEST(FileLogRotationTest, RemovedSegmentIsFinishedAndTheFolderGoesOn) {
  TempDir dir;
  WriteFile(dir.File("0001.log"), "a\n");
  auto source = Follow(dir.path());
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("a"));

  LogCapture log;
  WriteFile(dir.File("0001.log"), "b\npart", /*append=*/true);
  fs::remove(dir.File("0001.log"));
  // The last line is whole: nobody can finish it any more.
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("b", "part"));
  EXPECT_THAT(log.text(),
              HasSubstr("'0001.log' was removed or renamed away; read it to "
                        "its end (8 bytes) through the open file; going on "
                        "with the next segment"));
  EXPECT_EQ(source->Position(), (StreamPosition{"0001.log", 8}));
  WriteFile(dir.File("0002.log"), "c\n");
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("c"));
  EXPECT_EQ(source->rotation_counters().rotations, 1);
}

TEST(FileLogRotationTest, LateSegmentAfterARemovedOneDoesNotRewind) {
  TempDir dir;
  WriteFile(dir.File("0001.log"), "a\n");
  WriteFile(dir.File("0003.log"), "c\n");
  auto source = Follow(dir.path());
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("a", "c"));
  fs::remove(dir.File("0003.log"));
  EXPECT_THAT(Read(source.get(), 0), IsEmpty());
  // Read it, then go on after the removed segment, not after the late one
  // (which would read 0001.log again).
  WriteFile(dir.File("0000.log"), "z\n");
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("z"));
  WriteFile(dir.File("0004.log"), "d\n");
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("d"));
  EXPECT_EQ(source->rotation_counters().rotations, 2);
}

TEST(FileLogRotationTest, LateSegmentSortingBeforeTheCurrentOneIsRead) {
  TempDir dir;
  WriteFile(dir.File("0002.log"), "c\nhalf");
  auto source = Follow(dir.path());
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("c"));

  LogCapture log;
  WriteFile(dir.File("0001.log"), "a\nb\n");
  RecordBatch batch;
  std::vector<std::string> where;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (where.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(source->Poll(100, 20, &batch).ok());
    for (const auto& r : batch.records) {
      where.push_back(std::string(r.data) + "@" + r.position.ToString());
    }
  }
  EXPECT_THAT(where, ElementsAre("a@0001.log:0", "b@0001.log:2"));
  EXPECT_THAT(log.text(),
              HasSubstr("segment '0001.log' appeared after '0002.log' "
                        "although it sorts before it; reading it now, then "
                        "going on with '0002.log' at offset 2"));
  // Back on the active segment, with its held-back partial line.
  EXPECT_EQ(source->Position(), (StreamPosition{"0002.log", 2}));
  WriteFile(dir.File("0002.log"), "-done\nd\n", /*append=*/true);
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("half-done", "d"));
  // A second late one, while the first is not forgotten: read once.
  WriteFile(dir.File("0000.log"), "z\n");
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("z"));
  EXPECT_EQ(source->rotation_counters().rotations, 2);
  EXPECT_EQ(source->rotation_counters().gaps, 0);

  // A position on the active segment after the late ones resumes without
  // reading them again: they sort before it.
  const StreamPosition at = source->Position();
  source.reset();
  WriteFile(dir.File("0002.log"), "e\n", /*append=*/true);
  auto resumed = Follow(dir.path());
  ASSERT_TRUE(resumed->Seek(at).ok());
  EXPECT_THAT(Read(resumed.get(), 1), ElementsAre("e"));
}

// A writer that renames its file away every 25 lines and goes on in a new
// one while the source reads: every line exactly once, in order. (A file
// renamed away before the source ever opened it cannot be seen at all, so
// the writer renames a file only once the source has read from it.)
TEST(FileLogRotationTest, ConcurrentRenameRotationLosesNothing) {
  TempDir dir;
  const std::string path = dir.File("app.log");
  WriteFile(path, "");
  auto source = Follow(path);
  constexpr int kLines = 400;
  std::atomic<int> read{0};
  std::thread writer([&] {
    int first = 0;  // the first line of the file being written
    for (int i = 0; i < kLines; ++i) {
      WriteFile(path, absl::StrCat("line-", i, "\n"), /*append=*/true);
      if (i % 25 != 24) continue;
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (read.load() <= first &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      fs::rename(path, dir.File(absl::StrCat("app.log.", i)));
      first = i + 1;
    }
  });
  std::vector<std::string> got;
  RecordBatch batch;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.size() < kLines && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(source->Poll(7, 20, &batch).ok());
    for (const auto& r : batch.records) got.emplace_back(r.data);
    read.store(static_cast<int>(got.size()));
  }
  writer.join();
  ASSERT_TRUE(source->Poll(100, 20, &batch).ok());
  for (const auto& r : batch.records) got.emplace_back(r.data);
  std::vector<std::string> want;
  for (int i = 0; i < kLines; ++i) want.push_back(absl::StrCat("line-", i));
  EXPECT_EQ(absl::StrJoin(got, " "), absl::StrJoin(want, " "));
  EXPECT_EQ(source->rotation_counters().gaps, 0);
}

TEST(FileLogRotationTest, ResumeInARotatedSegmentIsLoggedAndCounted) {
  TempDir dir;
  WriteFile(dir.File("0001.log"), "a\nb\nc\n");
  WriteFile(dir.File("0003.log"), "d\n");
  LogCapture log;

  // The checkpointed segment is shorter than the checkpointed offset: it
  // was truncated or replaced while the job was down.
  auto short_one = Follow(dir.path());
  ASSERT_TRUE(short_one->Seek({"0001.log", 10}).ok());
  EXPECT_THAT(Read(short_one.get(), 4), ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(log.text(), HasSubstr("segment '0001.log' has 6 bytes, fewer "
                                    "than the resumed offset 10"));
  EXPECT_EQ(short_one->rotation_counters().gaps, 1);

  // The checkpointed segment is gone: go on after it.
  auto gone = Follow(dir.path());
  ASSERT_TRUE(gone->Seek({"0002.log", 5}).ok());
  EXPECT_THAT(Read(gone.get(), 1), ElementsAre("d"));
  EXPECT_THAT(log.text(), HasSubstr("segment '0002.log' of the resumed "
                                    "position 0002.log:5 is gone"));
  EXPECT_EQ(gone->rotation_counters().gaps, 1);

  // Without follow mode both stay errors.
  auto finite = FileLogSource::Open(dir.path());
  ASSERT_TRUE(finite.ok());
  EXPECT_EQ((*finite)->Seek({"0001.log", 10}).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*finite)->Seek({"0002.log", 5}).code(),
            absl::StatusCode::kNotFound);
}

// The reader's counters carry the source's, for /metrics and the summaries.
TEST(FileLogRotationTest, ReaderCountsRotationsAndLostBytes) {
  TempDir dir;
  const std::string path = dir.File("train.tsv");
  WriteFile(path, CriteoLine(0) + "\n" + CriteoLine(1) + "\n1\t2");
  SourceSpec spec;
  spec.format = "criteo";
  auto schema = Schema::Compile(testing_util::CriteoSchemaSpec());
  ASSERT_TRUE(schema.ok());
  auto reader = ExampleReader::Create(Follow(path), *schema, spec, nullptr);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Example ex;
  auto next = [&]() {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      auto got = (*reader)->Next(&ex, 20);
      EXPECT_TRUE(got.ok());
      if (got.ok() && *got) return true;
    }
    return false;
  };
  ASSERT_TRUE(next());
  ASSERT_TRUE(next());
  fs::resize_file(path, 0);
  WriteFile(path, CriteoLine(2) + "\n", /*append=*/true);
  ASSERT_TRUE(next());
  const ReaderCounters& c = (*reader)->counters();
  EXPECT_EQ(c.records, 3);
  EXPECT_EQ(c.errors, 0);
  EXPECT_EQ(c.rotations, 1);
  EXPECT_EQ(c.rotation_gaps, 1);
  EXPECT_EQ(c.rotation_lost_bytes, 3);  // "1\t2"
}

}  // namespace
}  // namespace freshet

namespace freshet {
namespace {

// Out of descriptors (a crowd of connections, say), a followed folder cannot
// be listed for a while: the stream waits and goes on, nothing is lost.
TEST(FileLogFollowTest, AFailedListingIsRetriedNotFatal) {
  TempDir dir;
  WriteFile(dir.File("seg-0001"), "a\nb\n");
  FaultInjectingFileSystem fsys;
  FileLogOptions options;
  options.follow = true;
  options.poll_interval_ms = 1;
  options.file_system = &fsys;
  auto opened = FileLogSource::Open(dir.path(), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<FileLogSource> source = *std::move(opened);
  EXPECT_THAT(Read(source.get(), 2), ElementsAre("a", "b"));

  LogCapture log;
  fsys.FailListings(true);
  WriteFile(dir.File("seg-0002"), "c\n");
  RecordBatch batch;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(source->Poll(100, 5, &batch).ok());
    EXPECT_TRUE(batch.records.empty());
  }
  EXPECT_GE(source->list_failures(), 1);
  EXPECT_THAT(log.text(), HasSubstr("Too many open files"));
  fsys.FailListings(false);
  EXPECT_THAT(Read(source.get(), 1), ElementsAre("c"));
}

}  // namespace
}  // namespace freshet
