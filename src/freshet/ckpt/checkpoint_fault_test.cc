// Checkpoints on a failing disk, in process (FaultInjectingFileSystem): a
// failed shard write, a failed rename of the checkpoint folder, a full disk
// while training writes checkpoints, and a crash that loses what was not
// synced. Each time the previous good checkpoint still restores.
// tests/checkpoint_fault_test.cc keeps what only a real process shows
// (kill -9, SIGTERM, the CLI).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "freshet/base/clock.h"
#include "freshet/base/fault_injecting_file_system.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/checkpointer.h"
#include "freshet/ckpt/ckpt_test_fixture.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class CheckpointFaultTest : public ckpt_testing::TrainedModelTest {
 protected:
  CheckpointWriteOptions WriteOptions() {
    CheckpointWriteOptions o;
    o.file_system = &fsys_;
    return o;
  }

  // The names in the checkpoint folder, sorted.
  std::vector<std::string> Listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(ckpt_)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // Restores a fresh model from ckpt_ through fsys_; returns its digest and
  // the manifest applied.
  uint64_t RestoredDigest(Manifest* applied) {
    TrainerOptions opt;
    opt.max_examples = 1;
    auto fresh = Trainer::Create(job_, opt);
    EXPECT_TRUE(fresh.ok());
    auto m = RestoreCheckpoint(ckpt_, &(*fresh)->model(), &fsys_);
    EXPECT_TRUE(m.ok()) << m.status();
    if (m.ok() && applied != nullptr) *applied = *m;
    return ModelDigest((*fresh)->model());
  }

  FaultInjectingFileSystem fsys_;
};

TEST_F(CheckpointFaultTest, FailedShardWriteLeavesThePreviousCheckpoint) {
  std::unique_ptr<Trainer> t = Train(300);
  ASSERT_TRUE(WriteFullCheckpoint(ckpt_, t->model(), {}, WriteOptions()).ok());
  const uint64_t digest = ModelDigest(t->model());
  // The second table's shard file of the next checkpoint cannot be written.
  const std::string shard = CkptPath(2) + ".tmp/table-001.shard";
  fsys_.FailWritesUnder(shard);
  auto failed = WriteFullCheckpoint(ckpt_, t->model(), {}, WriteOptions());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message(), shard + ": write: Input/output error");
  EXPECT_GE(fsys_.failures(), 1);
  // The half-written folder is gone; the published one is untouched.
  EXPECT_EQ(Listing(), std::vector<std::string>{CheckpointDirName(1)});
  EXPECT_TRUE(VerifyCheckpoint(CkptPath(1), &fsys_).ok());
  Manifest applied;
  EXPECT_EQ(RestoredDigest(&applied), digest);
  EXPECT_EQ(applied.id, 1u);
}

TEST_F(CheckpointFaultTest, FailedRenameOfTheCheckpointFolder) {
  std::unique_ptr<Trainer> t = Train(300);
  ASSERT_TRUE(WriteFullCheckpoint(ckpt_, t->model(), {}, WriteOptions()).ok());
  const uint64_t digest = ModelDigest(t->model());
  fsys_.FailRenames(true);
  auto failed = WriteFullCheckpoint(ckpt_, t->model(), {}, WriteOptions());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(
      failed.status().message(),
      CkptPath(2) + ".tmp: rename to " + CkptPath(2) + ": Input/output error");
  EXPECT_EQ(Listing(), std::vector<std::string>{CheckpointDirName(1)});
  Manifest applied;
  EXPECT_EQ(RestoredDigest(&applied), digest);
  EXPECT_EQ(applied.id, 1u);
  // With renames back, the next one is published under the next id.
  fsys_.FailRenames(false);
  auto next = WriteFullCheckpoint(ckpt_, t->model(), {}, WriteOptions());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->id, 2u);
}

// Replaces the process-level test that ran `freshet run` on a 2 MiB tmpfs:
// the first checkpoint fits, the later ones do not; the failures are
// counted and reported while training goes on to the end of its stream, the
// final checkpoint fails too, and the one that fitted still restores.
TEST_F(CheckpointFaultTest, FullDiskDuringCheckpointsTrainingGoesOn) {
  constexpr int64_t kBudget = 2048;
  Trainer* trainer = nullptr;
  Checkpointer* checkpointer = nullptr;
  bool full = false;
  int64_t trained_after_full = 0;
  TrainerOptions o;
  o.track_checkpoint = true;
  o.after_batch = [&](ParameterStore&, int64_t examples, double) {
    // The disk fills up once the first checkpoint is published (no write
    // is in flight then: cuts are taken only below).
    if (!full && checkpointer->Stats().cuts >= 1) {
      // Waits for the first write, however slow this machine is.
      for (int i = 0; i < 30000; ++i) {
        const CheckpointerStats s = checkpointer->Stats();
        if (s.cuts == s.written + s.failed) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      fsys_.SetSpaceBudget(kBudget);
      full = true;
    }
    if (full) trained_after_full = examples;
    checkpointer->OnBatch(examples, trainer->position());
  };
  auto t = Trainer::Create(job_, o);
  ASSERT_TRUE(t.ok()) << t.status();
  trainer = t->get();
  CheckpointerOptions co;
  co.dir = ckpt_;
  co.every_examples = 64;
  co.full_every = 1;
  co.keep_full = 1;
  co.max_write_mbps = 0;
  co.file_system = &fsys_;
  auto c = Checkpointer::Create(&trainer->model(), co);
  ASSERT_TRUE(c.ok()) << c.status();
  checkpointer = c->get();

  // Training is not stopped by the failures: it reaches the end.
  ASSERT_TRUE(trainer->Run().ok());
  EXPECT_EQ(trainer->examples(), 600);
  ASSERT_TRUE(full) << "no checkpoint was published before the end";
  EXPECT_EQ(trained_after_full, 600);

  auto final_ckpt =
      checkpointer->Final(trainer->examples(), trainer->position());
  ASSERT_FALSE(final_ckpt.ok());
  EXPECT_EQ(final_ckpt.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(final_ckpt.status().message(),
              HasSubstr(": write: No space left on device"));

  const CheckpointerStats s = checkpointer->Stats();
  EXPECT_EQ(s.written, 1);
  EXPECT_GE(s.failed, 2);
  EXPECT_GT(s.last_bytes, static_cast<uint64_t>(kBudget));
  EXPECT_THAT(s.last_error, HasSubstr("No space left on device"));
  std::string metrics;
  checkpointer->AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr("freshet_checkpoints_written_total 1\n"));
  EXPECT_THAT(metrics, HasSubstr("freshet_checkpoint_failures_total " +
                                 std::to_string(s.failed) + "\n"));
  // The failed writes removed their .tmp folders (and gave the space back).
  EXPECT_EQ(Listing(), std::vector<std::string>{CheckpointDirName(s.last_id)});
  EXPECT_EQ(fsys_.space_left(), kBudget);
  fsys_.ClearFaults();
  EXPECT_TRUE(VerifyCheckpoint(CkptPath(s.last_id), &fsys_).ok());
  Manifest applied;
  RestoredDigest(&applied);
  EXPECT_EQ(applied.id, s.last_id);
  EXPECT_LT(applied.metadata.examples, 600);
}

// A crash while a checkpoint is being written: what was not synced is lost.
// Every published checkpoint was synced before its rename, so it survives
// whole, and the interrupted one is ignored: restore picks the last
// complete checkpoint.
TEST_F(CheckpointFaultTest, CrashLosesUnsyncedDataRestorePicksTheLastComplete) {
  std::unique_ptr<Trainer> t = Train(300);
  ASSERT_TRUE(WriteFullCheckpoint(ckpt_, t->model(), {}, WriteOptions()).ok());
  auto incremental =
      WriteIncrementalCheckpoint(ckpt_, t->model(), {}, WriteOptions());
  ASSERT_TRUE(incremental.ok()) << incremental.status();
  const uint64_t digest = ModelDigest(t->model());
  // The writer of the third dies after writing part of a shard file.
  const std::string tmp = CkptPath(3) + ".tmp";
  ASSERT_TRUE(fsys_.CreateDir(tmp).ok());
  {
    ShardHeader h;
    h.name = "partial";
    h.dim = 2;
    ShardWriterOptions so;
    so.file_system = &fsys_;
    auto w = ShardWriter::Create(tmp + "/table-000.shard", h, so);
    ASSERT_TRUE(w.ok());
    for (uint64_t k = 0; k < 1000; ++k) {
      const float weights[2] = {1, 2};
      ASSERT_TRUE((*w)->AddRow(k, 0, 0, weights, {}).ok());
    }
  }  // destroyed without Finish(): no fsync
  ASSERT_GT(fs::file_size(tmp + "/table-000.shard"), 0u);

  ASSERT_TRUE(fsys_.DropUnsyncedData().ok());
  EXPECT_EQ(fs::file_size(tmp + "/table-000.shard"), 0u);
  for (uint64_t id : {1, 2}) {
    EXPECT_TRUE(VerifyCheckpoint(CkptPath(id), &fsys_).ok()) << id;
  }
  Manifest applied;
  EXPECT_EQ(RestoredDigest(&applied), digest);
  EXPECT_EQ(applied.id, 2u);
  // The next write takes the id after the leftover, and retention removes
  // the leftover.
  auto next = WriteFullCheckpoint(ckpt_, t->model(), {}, WriteOptions());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->id, 4u);
  auto removed = ApplyRetention(ckpt_, 1, &fsys_);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(Listing(), std::vector<std::string>{CheckpointDirName(4)});
}

}  // namespace
}  // namespace freshet
