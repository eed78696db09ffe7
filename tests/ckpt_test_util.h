// Helpers for the end-to-end tests of `freshet ckpt` and `freshet serve`: a
// small deepfm model trained on generated Criteo rows, checkpointed as a
// full checkpoint and two incrementals (with erased rows in between), and a
// way to run the binary.
#ifndef FRESHET_TESTS_CKPT_TEST_UTIL_H_
#define FRESHET_TESTS_CKPT_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "child_process.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/ckpt_test_fixture.h"
#include "freshet/ckpt/shard_file.h"
#include "freshet/data/generator.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace ckpt_test {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `ENV FRESHET_BINARY ARGS` through the shell; `env` may set or unset
// variables ("env -u NAME", "NAME=value").
inline Result RunFreshet(const std::string& args, const std::string& env = "") {
  std::string cmd = env + (env.empty() ? "" : " ") +
                    std::string(FRESHET_BINARY) + " " + args + " 2>&1";
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    r.output.append(buf.data(), n);
  }
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using ckpt_testing::FlipByte;

inline std::string Hex(uint64_t v) { return absl::StrFormat("%016x", v); }

// Runs `FRESHET_BINARY ARGS` as a child process (see child_process.h).
class ChildProcess : public test::ChildProcess {
 public:
  void Start(const std::vector<std::string>& args,
             const std::vector<std::string>& env, const std::string& out,
             const std::string& err) {
    std::vector<std::string> argv = {FRESHET_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    test::ChildProcess::Start(argv, out, err, env);
  }
};

// A temporary folder with generated data, the job that reads it, and a
// checkpoint folder of a model trained on it: ckpt 1 (full, after 150
// examples), ckpt 2 (incremental, 300 examples, some rows erased before it)
// and ckpt 3 (incremental, the end of 500 examples, more rows erased).
class CheckpointedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_" +
            std::string(::testing::UnitTest::GetInstance()
                            ->current_test_info()
                            ->test_suite_name()) +
            "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ckpt_ = (dir_ / "ckpt").string();
    data_ = (dir_ / "criteo.tsv").string();
    GeneratorOptions gen;
    gen.kind = GeneratorKind::kCriteo;
    gen.rows = 600;
    gen.seed = 3;
    ASSERT_TRUE(GenerateToPath(gen, data_).ok());
    config_ = std::string(FRESHET_SOURCE_DIR) + "/examples/criteo.yaml";
    overrides_ = {"source.path=" + data_, "model.type=deepfm",
                  "train.batch_size=32"};
    auto job = LoadJobConfig(config_, overrides_);
    ASSERT_TRUE(job.ok()) << job.status();
    job_ = *job;

    TrainerOptions opt;
    opt.max_examples = 500;
    opt.track_checkpoint = true;
    int written = 0;
    Trainer* created = nullptr;
    opt.after_batch = [&](ParameterStore&, int64_t examples, double) {
      LocalStore& model = created->model();
      if (written == 0 && examples >= 150) {
        ASSERT_TRUE(
            WriteFullCheckpoint(ckpt_, model, {"cfg", "at-150", 3}).ok());
        ++written;
      } else if (written == 1 && examples >= 300) {
        EraseSome(model, 3);
        ASSERT_TRUE(
            WriteIncrementalCheckpoint(ckpt_, model, {"cfg", "at-300", 6})
                .ok());
        digest_at_2_ = ModelDigest(model);
        ++written;
      }
    };
    auto trainer = Trainer::Create(job_, opt);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    created = trainer->get();
    ASSERT_TRUE((*trainer)->Run().ok());
    ASSERT_EQ(written, 2);
    trainer_ = *std::move(trainer);
    EraseSome(trainer_->model(), 4);
    ASSERT_TRUE(WriteIncrementalCheckpoint(ckpt_, trainer_->model(),
                                           {"cfg", "at-500", 9})
                    .ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Erases `n` rows of each of the model's first three tables.
  static void EraseSome(LocalStore& m, size_t n) {
    for (int t = 0; t < m.num_tables() && t < 3; ++t) {
      std::vector<uint64_t> keys;
      m.table(t).ForEachRow([&](const RowView& r) {
        if (keys.size() < n) keys.push_back(r.key);
      });
      for (uint64_t k : keys) m.table(t).Erase(k);
    }
  }

  LocalStore& model() { return trainer_->model(); }
  std::string CkptPath(uint64_t id) const {
    return (fs::path(ckpt_) / CheckpointDirName(id)).string();
  }
  // `--config ... --set ...` for the job of the model.
  std::string ConfigArgs() const {
    std::string out = "--config " + config_;
    for (const std::string& o : overrides_) out += " --set " + o;
    return out;
  }

  // Flips a byte inside the first block of checkpoint `id`'s largest table
  // file; returns "table-NNN.shard: block 0 (offset O)".
  std::string DamageLargestTable(uint64_t id) {
    std::string best;
    uint64_t best_bytes = 0;
    for (const auto& e : fs::directory_iterator(CkptPath(id))) {
      const std::string name = e.path().filename().string();
      if (name.rfind("table-", 0) == 0 && e.file_size() > best_bytes) {
        best = e.path().string();
        best_bytes = e.file_size();
      }
    }
    auto reader = ShardReader::Open(best);
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok() || (*reader)->blocks().empty()) return "no block";
    const BlockInfo block = (*reader)->blocks()[0];
    reader->reset();
    FlipByte(best, block.offset + block.compressed_size / 2);
    return absl::StrFormat("%s: block 0 (offset %d)",
                           fs::path(best).filename().string(), block.offset);
  }

  fs::path dir_;
  std::string ckpt_;
  std::string data_;
  std::string config_;
  std::vector<std::string> overrides_;
  JobConfig job_;
  std::unique_ptr<Trainer> trainer_;
  uint64_t digest_at_2_ = 0;
};

}  // namespace ckpt_test
}  // namespace freshet

#endif  // FRESHET_TESTS_CKPT_TEST_UTIL_H_
