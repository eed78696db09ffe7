#include "freshet/ckpt/checkpointer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "freshet/base/clock.h"
#include "freshet/data/generator.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Rows of the generated stream, and how long a test waits for a write.
// ThreadSanitizer slows training and writes 5-15x (a write copies every
// table's admission sketch), so its build trains on 40% of the stream, the
// tests scaling their checkpoint points with it and asserting the same
// things, waits longer, and does not lower the writer's priority, which on a
// busy machine would starve it.
#if defined(__SANITIZE_THREAD__)
constexpr int64_t kStreamRows = 2400;
constexpr int kWaitS = 120;
constexpr bool kNiceWriter = false;
#else
constexpr int64_t kStreamRows = 6000;
constexpr int kWaitS = 30;
constexpr bool kNiceWriter = true;
#endif

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_checkpointer_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    GeneratorOptions opt;
    opt.kind = GeneratorKind::kCriteo;
    opt.rows = kStreamRows;
    opt.seed = 11;
    data_ = (dir_ / "criteo.tsv").string();
    ASSERT_TRUE(GenerateToPath(opt, data_).ok());
    auto job =
        LoadJobConfig(std::string(FRESHET_SOURCE_DIR) + "/examples/criteo.yaml",
                      {"source.path=" + data_, "model.type=deepfm",
                       "model.hidden=[16]", "train.deterministic=true",
                       // Admission by count: a restore must bring the
                       // sketches back for the resumed run to match.
                       "table_defaults.admission.min_count=2"});
    ASSERT_TRUE(job.ok()) << job.status();
    job_ = *job;
  }
  void TearDown() override { fs::remove_all(dir_); }

  TrainerOptions Options(int64_t max_examples = 0) {
    TrainerOptions o;
    o.track_sync = false;
    o.track_checkpoint = true;
    o.max_examples = max_examples;
    return o;
  }

  CheckpointerOptions CkptOptions(const std::string& dir) {
    CheckpointerOptions o;
    o.dir = dir;
    o.full_every = 3;
    o.keep_full = 10;
    if (!kNiceWriter) o.writer_nice = 0;
    return o;
  }

  fs::path dir_;
  std::string data_;
  JobConfig job_;
};

TEST_F(CheckpointerTest, ResumeFromCheckpointsWrittenWhileTrainingIsExact) {
  // Of the 6000-row stream: a cut every 800 examples, a wait for the write
  // in flight every 1000, a stop at 4500 (scaled with kStreamRows).
  const int64_t kEvery = kStreamRows * 2 / 15;
  const int64_t kWaitEvery = kStreamRows / 6;
  const int64_t kStop = kStreamRows * 3 / 4;
  uint64_t uninterrupted = 0;
  {
    auto t = Trainer::Create(job_, Options());
    ASSERT_TRUE(t.ok()) << t.status();
    ASSERT_TRUE((*t)->Run().ok());
    EXPECT_EQ((*t)->Progress().examples, kStreamRows);
    uninterrupted = ModelDigest((*t)->model());
  }
  const std::string ckpt = (dir_ / "ckpt").string();
  {
    // Checkpoints every kEvery examples, written while training goes on;
    // the run stops at kStop without a final checkpoint.
    Trainer* trainer = nullptr;
    Checkpointer* checkpointer = nullptr;
    TrainerOptions o = Options(kStop);
    int64_t next_wait = kWaitEvery;
    o.after_batch = [&](ParameterStore&, int64_t examples, double) {
      checkpointer->OnBatch(examples, trainer->position());
      // Training goes on while a checkpoint is written, except at every
      // kWaitEvery-th example, where it waits for the write in flight:
      // however slow the writes on a busy machine, every kEvery examples a
      // cut is due and taken.
      if (examples >= next_wait) {
        next_wait += kWaitEvery;
        for (int i = 0; i < kWaitS * 1000; ++i) {
          const CheckpointerStats s = checkpointer->Stats();
          if (s.cuts == s.written + s.failed) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
    };
    auto t = Trainer::Create(job_, o);
    ASSERT_TRUE(t.ok()) << t.status();
    trainer = t->get();
    CheckpointerOptions co = CkptOptions(ckpt);
    co.every_examples = kEvery;
    co.model_config_hash = ModelShapeHash(trainer->model());
    auto c = Checkpointer::Create(&trainer->model(), co);
    ASSERT_TRUE(c.ok()) << c.status();
    checkpointer = c->get();
    ASSERT_TRUE(trainer->Run().ok());
    c->reset();  // waits for the write in flight
  }
  auto list = ListCheckpoints(ckpt);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_GE(list->size(), 4u);
  int incrementals = 0;
  for (const CheckpointInfo& info : *list) {
    ASSERT_TRUE(info.manifest_status.ok());
    EXPECT_TRUE(VerifyCheckpoint(info.path).ok());
    if (info.manifest.kind == CheckpointKind::kIncremental) ++incrementals;
  }
  EXPECT_GE(incrementals, 1);
  EXPECT_EQ(list->front().manifest.kind, CheckpointKind::kFull);

  auto t = Trainer::Create(job_, Options());
  ASSERT_TRUE(t.ok()) << t.status();
  auto m = RestoreCheckpoint(ckpt, &(*t)->model());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GE(m->metadata.examples, kStreamRows / 2);
  EXPECT_LT(m->metadata.examples, kStop);
  EXPECT_EQ(m->metadata.model_config_hash, ModelShapeHash((*t)->model()));
  ASSERT_TRUE(
      (*t)->Resume(m->metadata.stream_position, m->metadata.examples).ok());
  ASSERT_TRUE((*t)->Run().ok());
  EXPECT_EQ((*t)->Progress().examples, kStreamRows);
  EXPECT_EQ(ModelDigest((*t)->model()), uninterrupted);
}

TEST_F(CheckpointerTest, FinalAndRequestedCheckpointsAfterTrainingStopped) {
  const std::string ckpt = (dir_ / "ckpt").string();
  auto t = Trainer::Create(job_, Options(2000));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Run().ok());
  auto c = Checkpointer::Create(&(*t)->model(), CkptOptions(ckpt));
  ASSERT_TRUE(c.ok());
  auto first = (*c)->Final((*t)->examples(), (*t)->position());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->kind, CheckpointKind::kFull);
  EXPECT_EQ(first->metadata.examples, 2000);
  // Nothing new since: Final() gives the same checkpoint.
  auto again = (*c)->Final((*t)->examples(), (*t)->position());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, first->id);
  // A request after training stopped is served at once.
  const uint64_t ticket = (*c)->Request();
  auto requested = (*c)->WaitFor(ticket, kWaitS);
  ASSERT_TRUE(requested.ok()) << requested.status();
  EXPECT_GT(requested->id, first->id);
  EXPECT_EQ(requested->kind, CheckpointKind::kIncremental);
  const CheckpointerStats stats = (*c)->Stats();
  EXPECT_EQ(stats.written, 2);
  EXPECT_EQ(stats.failed, 0);
  EXPECT_EQ(stats.last_id, requested->id);
  std::string metrics;
  (*c)->AppendMetrics(&metrics);
  EXPECT_NE(metrics.find("freshet_checkpoints_written_total 2\n"),
            std::string::npos);
}

TEST_F(CheckpointerTest, FailedWriteIsCountedAndTheNextCheckpointIsFull) {
  const std::string ckpt = (dir_ / "ckpt").string();
  auto t = Trainer::Create(job_, Options(1000));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Run().ok());
  CheckpointerOptions co = CkptOptions(ckpt);
  co.full_every = 100;
  auto c = Checkpointer::Create(&(*t)->model(), co);
  ASSERT_TRUE(c.ok());
  (*c)->TrainingStopped((*t)->examples(), (*t)->position());
  auto first = (*c)->WaitFor((*c)->Request(), kWaitS);
  ASSERT_TRUE(first.ok()) << first.status();
  // The folder becomes unusable (a file where it was: even root cannot
  // write into it).
  const std::string moved = ckpt + ".moved";
  fs::rename(ckpt, moved);
  { std::ofstream(ckpt) << "not a folder"; }
  auto failed = (*c)->WaitFor((*c)->Request(), kWaitS);
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ((*c)->Stats().failed, 1);
  EXPECT_FALSE((*c)->Stats().last_error.empty());
  std::string metrics;
  (*c)->AppendMetrics(&metrics);
  EXPECT_NE(metrics.find("freshet_checkpoint_failures_total 1\n"),
            std::string::npos);
  fs::remove(ckpt);
  fs::rename(moved, ckpt);
  EXPECT_TRUE(
      VerifyCheckpoint((fs::path(ckpt) / CheckpointDirName(first->id)).string())
          .ok());
  // The failed write took the change bits: the next one is full.
  auto next = (*c)->WaitFor((*c)->Request(), kWaitS);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->kind, CheckpointKind::kFull);
  auto restored = Trainer::Create(job_, Options());
  ASSERT_TRUE(restored.ok());
  ASSERT_TRUE(RestoreCheckpoint(ckpt, &(*restored)->model()).ok());
  EXPECT_EQ(ModelDigest((*restored)->model()), ModelDigest((*t)->model()));
}

// The `every` trigger reads the options' clock: a ManualClock moves it
// without a sleep.
TEST_F(CheckpointerTest, TimeTriggerFollowsTheClock) {
  auto t = Trainer::Create(job_, Options(500));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Run().ok());
  ManualClock clock(1'000'000'000'000);
  CheckpointerOptions co = CkptOptions((dir_ / "ckpt").string());
  co.every_ms = 60'000;
  co.max_write_mbps = 0;
  co.clock = &clock;
  auto c = Checkpointer::Create(&(*t)->model(), co);
  ASSERT_TRUE(c.ok());
  (*c)->OnBatch(100, (*t)->position());
  EXPECT_EQ((*c)->Stats().cuts, 0);
  clock.AdvanceMicros(59'999'000);
  (*c)->OnBatch(200, (*t)->position());
  EXPECT_EQ((*c)->Stats().cuts, 0);
  clock.AdvanceMicros(1'000);
  (*c)->OnBatch(300, (*t)->position());
  EXPECT_EQ((*c)->Stats().cuts, 1);
  auto m = (*c)->Final(300, (*t)->position());
  ASSERT_TRUE(m.ok()) << m.status();
  // The manifest and the stats are stamped by the same clock.
  EXPECT_EQ(m->created_unix_ms, clock.NowMillis());
  EXPECT_EQ((*c)->Stats().last_unix_ms, clock.NowMillis());
  // Due again one period after the cut, and only with new examples.
  clock.AdvanceMicros(60'000'000);
  (*c)->OnBatch(300, (*t)->position());
  EXPECT_EQ((*c)->Stats().cuts, 1);
}

TEST_F(CheckpointerTest, MaxWriteRatePacesTheWrite) {
  auto t = Trainer::Create(job_, Options(2000));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Run().ok());
  LocalStore& model = (*t)->model();
  CheckpointerOptions co = CkptOptions((dir_ / "paced").string());
  co.max_write_mbps = 0.5;
  auto c = Checkpointer::Create(&model, co);
  ASSERT_TRUE(c.ok());
  const double start = MonotonicSeconds();
  auto m = (*c)->Final((*t)->examples(), (*t)->position());
  const double seconds = MonotonicSeconds() - start;
  ASSERT_TRUE(m.ok()) << m.status();
  // The raw bytes of its rows, read at no more than 0.5 MB/s.
  double raw = 0;
  for (int i = 0; i < model.num_tables(); ++i) {
    raw += static_cast<double>(m->files[i].rows) *
           (20 + 4.0 * (model.table(i).dim() + model.table(i).state_floats()));
  }
  ASSERT_GT(raw, 2e5);
  EXPECT_GE(seconds, raw / 0.5e6 * 0.95);
}

TEST_F(CheckpointerTest, RejectsBadOptions) {
  auto t = Trainer::Create(job_, Options());
  ASSERT_TRUE(t.ok());
  CheckpointerOptions o;
  EXPECT_EQ(Checkpointer::Create(&(*t)->model(), o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.dir = (dir_ / "x").string();
  o.full_every = 0;
  EXPECT_EQ(Checkpointer::Create(&(*t)->model(), o).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A NaN passes a `< 0` check; the pacer would then wait without end.
  for (double mbps : {std::nan(""), -1.0, HUGE_VAL}) {
    o = CheckpointerOptions();
    o.dir = (dir_ / "x").string();
    o.max_write_mbps = mbps;
    absl::StatusOr<std::unique_ptr<Checkpointer>> c =
        Checkpointer::Create(&(*t)->model(), o);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << mbps;
    EXPECT_THAT(c.status().message(), HasSubstr("max_write_mbps")) << mbps;
  }
  o.max_write_mbps = 0;
  EXPECT_TRUE(Checkpointer::Create(&(*t)->model(), o).ok());
}

}  // namespace
}  // namespace freshet
