// Test fixtures of the checkpoint layer: a temporary folder per test, and a
// deepfm model (embedding tables, TABLE/wide tables and a dense part with
// optimizer state) trained on generated Criteo rows with checkpoint
// tracking on.
#ifndef FRESHET_CKPT_CKPT_TEST_FIXTURE_H_
#define FRESHET_CKPT_CKPT_TEST_FIXTURE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "freshet/base/config.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/data/generator.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace ckpt_testing {

// Flips the bits of one byte of a file (damage a checksum must catch).
inline void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

// A fresh folder per test, removed after it.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("freshet_ckpt_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

// Generated data (600 rows drawn with `data_seed_`, set it in the derived
// constructor), the deepfm job over it, and a checkpoint folder DIR/ckpt.
class TrainedModelTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    ckpt_ = (dir_ / "ckpt").string();
    GeneratorOptions opt;
    opt.kind = GeneratorKind::kCriteo;
    opt.rows = 600;
    opt.seed = data_seed_;
    data_ = (dir_ / "criteo.tsv").string();
    ASSERT_TRUE(GenerateToPath(opt, data_).ok());
    auto job = LoadJobConfig(
        std::string(FRESHET_SOURCE_DIR) + "/examples/criteo.yaml",
        {"source.path=" + data_, "model.type=deepfm", "train.batch_size=32"});
    ASSERT_TRUE(job.ok()) << job.status();
    job_ = *job;
  }

  // Trains on the first `examples` examples with checkpoint tracking on.
  std::unique_ptr<Trainer> Train(
      int64_t examples,
      std::function<void(LocalStore&, int64_t, double)> after_batch = {}) {
    TrainerOptions opt;
    opt.max_examples = examples;
    opt.track_checkpoint = true;
    // The hook sees the trainer's own LocalStore.
    Trainer* created = nullptr;
    if (after_batch) {
      opt.after_batch = [&created, fn = std::move(after_batch)](
                            ParameterStore&, int64_t n, double start) {
        fn(created->model(), n, start);
      };
    }
    auto trainer = Trainer::Create(job_, opt);
    EXPECT_TRUE(trainer.ok()) << trainer.status();
    if (trainer.ok()) created = trainer->get();
    absl::Status st = (*trainer)->Run();
    EXPECT_TRUE(st.ok()) << st;
    return *std::move(trainer);
  }

  std::string CkptPath(uint64_t id) const {
    return (std::filesystem::path(ckpt_) / CheckpointDirName(id)).string();
  }

  // Erases the first `n` rows of table t; returns the keys.
  static std::vector<uint64_t> EraseSome(LocalStore& m, int t, size_t n) {
    std::vector<uint64_t> keys;
    m.table(t).ForEachRow([&](const RowView& r) {
      if (keys.size() < n) keys.push_back(r.key);
    });
    for (uint64_t k : keys) EXPECT_TRUE(m.table(t).Erase(k));
    return keys;
  }

  uint64_t data_seed_ = 11;
  std::string data_;
  std::string ckpt_;
  JobConfig job_;
};

}  // namespace ckpt_testing
}  // namespace freshet

#endif  // FRESHET_CKPT_CKPT_TEST_FIXTURE_H_
