// The file log and the dead-letter file on a failing disk
// (FaultInjectingFileSystem): a full disk under the dead letters does not
// stop the stream; a log sink's failed writes are reported; after a crash
// only what was synced is read back.
#include <string>
#include <vector>

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

using ::testing::HasSubstr;
using testing_util::CriteoLine;
using testing_util::ReadFile;
using testing_util::TempDir;
using testing_util::WriteFile;

// Until this change a failed dead-letter write ended the stream with an
// error (and `freshet run` with exit code 1).
TEST(FileLogFaultTest, FullDiskUnderTheDeadLettersDoesNotStopTheStream) {
  TempDir dir;
  const std::string path = dir.File("train.tsv");
  std::vector<std::string> lines;
  for (int i = 0; i < 200; ++i) {
    lines.push_back(i % 4 == 1 ? "1\t2\t3 malformed " + std::to_string(i)
                               : CriteoLine(i));
  }
  WriteFile(path, absl::StrJoin(lines, "\n") + "\n");
  FaultInjectingFileSystem fsys;
  // Room for about two dead letters.
  fsys.SetSpaceBudget(150);
  SourceSpec spec;
  spec.path = path;
  spec.format = "criteo";
  auto schema = Schema::Compile(testing_util::CriteoSchemaSpec());
  ASSERT_TRUE(schema.ok());
  auto reader = ExampleReader::Open(spec, *schema, &fsys);
  ASSERT_TRUE(reader.ok()) << reader.status();

  LogCapture log;
  Example ex;
  int64_t parsed = 0;
  while (true) {
    auto got = (*reader)->Next(&ex);
    ASSERT_TRUE(got.ok()) << got.status();
    if (!*got) break;
    ++parsed;
  }
  EXPECT_TRUE((*reader)->AtEnd());
  const ReaderCounters& c = (*reader)->counters();
  EXPECT_EQ(parsed, 150);
  EXPECT_EQ(c.errors, 50);
  EXPECT_GE(c.dead_letter_failures, 48);
  EXPECT_LE(c.dead_letter_failures, 49);
  EXPECT_GE(fsys.failures(), 48);
  // The first failure is logged, with its position and the reason.
  EXPECT_THAT(log.text(), HasSubstr("dead letter for the record at"));
  EXPECT_THAT(log.text(), HasSubstr("No space left on device"));
  EXPECT_THAT(log.text(), HasSubstr("reading goes on"));
  // What fitted is there, from the first rejected record on.
  EXPECT_THAT(ReadFile(path + ".dead"), HasSubstr("malformed 1\n"));
}

TEST(FileLogFaultTest, SinkReportsAFailedWriteWithThePath) {
  TempDir dir;
  const std::string path = dir.File("log/out.log");
  FaultInjectingFileSystem fsys;
  auto sink = FileLogSink::Open(path, /*fsync_on_flush=*/true, &fsys);
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Append("one").ok());
  ASSERT_TRUE((*sink)->Flush().ok());
  fsys.FailWritesUnder(dir.File("log/"));
  ASSERT_TRUE((*sink)->Append("two").ok());  // buffered
  absl::Status s = (*sink)->Flush();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "cannot flush '" + path + "': Input/output error");
  fsys.ClearFaults();
  ASSERT_TRUE((*sink)->Append("three").ok());
  ASSERT_TRUE((*sink)->Flush().ok());
  EXPECT_EQ(ReadFile(path), "one\nthree\n");
}

TEST(FileLogFaultTest, CrashKeepsTheSyncedRecordsOnly) {
  TempDir dir;
  const std::string path = dir.File("events.log");
  FaultInjectingFileSystem fsys;
  {
    auto sink = FileLogSink::Open(path, /*fsync_on_flush=*/true, &fsys);
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Append("a").ok());
    ASSERT_TRUE((*sink)->Append("b").ok());
    ASSERT_TRUE((*sink)->Flush().ok());
  }
  {
    // A writer that flushes without fsync: its records reach the OS only.
    auto sink = FileLogSink::Open(path, /*fsync_on_flush=*/false, &fsys);
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Append("c").ok());
    ASSERT_TRUE((*sink)->Flush().ok());
  }
  ASSERT_TRUE(fsys.DropUnsyncedData().ok());
  FileLogOptions options;
  options.file_system = &fsys;
  auto source = FileLogSource::Open(path, options);
  ASSERT_TRUE(source.ok()) << source.status();
  RecordBatch batch;
  ASSERT_TRUE((*source)->Poll(10, 0, &batch).ok());
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records[0].data, "a");
  EXPECT_EQ(batch.records[1].data, "b");
  EXPECT_EQ(batch.end.offset, 4);
}

}  // namespace
}  // namespace freshet
