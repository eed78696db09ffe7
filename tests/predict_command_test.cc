// End-to-end tests of `freshet predict`: a model trained by `freshet train
// --checkpoint-dir`, its records scored by the binary and compared with a
// forward pass in this process over the same checkpoint; and the inputs a
// user gets wrong (no checkpoint, another model's checkpoint, malformed
// records, no data file).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "ckpt_test_util.h"
#include "freshet/base/config.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/data/generator.h"
#include "freshet/data/record_parser.h"
#include "freshet/data/schema.h"
#include "freshet/store/local_store.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ckpt_test::ReadFile;
using ckpt_test::Result;
using ckpt_test::RunFreshet;
using ::testing::HasSubstr;

class PredictCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_predict_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    train_ = (dir_ / "train.tsv").string();
    score_ = (dir_ / "score.tsv").string();
    ckpt_ = (dir_ / "ckpt").string();
    GeneratorOptions gen;
    gen.kind = GeneratorKind::kCriteo;
    gen.rows = 3000;
    gen.seed = 5;
    ASSERT_TRUE(GenerateToPath(gen, train_).ok());
    gen.rows = 400;
    gen.seed = 6;  // ids the model has not seen among ones it has
    ASSERT_TRUE(GenerateToPath(gen, score_).ok());
    config_ = std::string(FRESHET_SOURCE_DIR) + "/examples/criteo.yaml";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Trains the job on train_ with checkpoints in ckpt_; returns the digest
  // line's value.
  std::string Train(const std::string& sets = "") {
    Result r = RunFreshet(
        "train --config " + config_ + " --set source.path=" + train_ +
        " --set train.batch_size=64 --set model.type=deepfm " + sets +
        " --checkpoint-dir " + ckpt_);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const size_t at = r.output.find("digest       ");
    EXPECT_NE(at, std::string::npos) << r.output;
    return at == std::string::npos ? "" : r.output.substr(at + 13, 16);
  }

  Result Predict(const std::string& data, const std::string& extra = "") {
    return RunFreshet("predict --config " + config_ +
                      " --set model.type=deepfm --checkpoint " + ckpt_ +
                      " --data " + data + " " + extra);
  }

  // The output's "RECORD\tSCORE" lines.
  static std::vector<std::pair<int64_t, float>> ParseScores(
      const std::string& text) {
    std::vector<std::pair<int64_t, float>> out;
    for (absl::string_view line :
         absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
      int64_t n = 0;
      float score = 0;
      EXPECT_EQ(f.size(), 2u) << line;
      if (f.size() != 2 || !absl::SimpleAtoi(f[0], &n) ||
          !absl::SimpleAtof(f[1], &score)) {
        ADD_FAILURE() << "not RECORD<TAB>SCORE: " << line;
        continue;
      }
      out.emplace_back(n, score);
    }
    return out;
  }

  fs::path dir_;
  std::string train_, score_, ckpt_, config_;
};

TEST_F(PredictCommandTest, ScoresEqualTheForwardPassOfTheCheckpointedModel) {
  const std::string digest = Train();
  const std::string out = (dir_ / "scores.tsv").string();
  Result r = Predict(score_, "--out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("scored 400 of 400 records"));
  const auto scores = ParseScores(ReadFile(out));
  ASSERT_EQ(scores.size(), 400u);

  // The reference: the checkpoint restored here (the very model training
  // ended with: same digest), the records parsed line by line, one forward
  // pass over all of them.
  auto job =
      LoadJobConfig(config_, {"source.path=" + score_, "model.type=deepfm"});
  ASSERT_TRUE(job.ok()) << job.status();
  auto schema = Schema::Compile(job->schema);
  ASSERT_TRUE(schema.ok()) << schema.status();
  auto model = LocalStore::Create(*job, *schema, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(RestoreCheckpoint(ckpt_, model->get()).ok());
  EXPECT_EQ(ckpt_test::Hex(ModelDigest(**model)), digest);
  auto parser = MakeRecordParser(*schema, job->source);
  ASSERT_TRUE(parser.ok()) << parser.status();
  std::ifstream in(score_);
  std::string line;
  std::vector<Example> examples;
  while (std::getline(in, line)) {
    Example e;
    ASSERT_TRUE((*parser)->Parse(line, &e).ok());
    examples.push_back(std::move(e));
  }
  BatchEmbedder embedder(model->get());
  ASSERT_TRUE(
      embedder.Embed(examples, LookupMode::kServe, EmbeddingTable::kNoEventTime)
          .ok());
  std::vector<float> logits(examples.size());
  ModelWorkspace ws;
  (*model)->dense().Forward(embedder.input(), &ws, logits.data());
  const double offset = (*model)->dense().serving_logit_offset();
  for (size_t i = 0; i < examples.size(); ++i) {
    const float want =
        static_cast<float>(1.0 / (1.0 + std::exp(-(logits[i] + offset))));
    EXPECT_EQ(scores[i].first, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(scores[i].second, want) << "record " << i + 1;
  }
}

TEST_F(PredictCommandTest, MalformedRecordsAreCountedAndSkipped) {
  Train();
  // Records 3 and 6 are malformed: too few columns, a bad number.
  std::ifstream in(score_);
  std::vector<std::string> lines;
  std::string line;
  while (lines.size() < 6 && std::getline(in, line)) lines.push_back(line);
  const std::string mixed = (dir_ / "mixed.tsv").string();
  {
    std::ofstream out(mixed);
    out << lines[0] << "\n"
        << lines[1] << "\n"
        << "1\t2\t3\n";
    out << lines[2] << "\n" << lines[3] << "\n";
    std::string bad = lines[4];
    bad.replace(bad.find('\t') + 1, 0, "x");  // I1 is not a number
    out << bad << "\n" << lines[5] << "\n";
  }
  const std::string all_out = (dir_ / "all.out"),
                    mixed_out = (dir_ / "mixed.out");
  Result all = Predict(score_, "--out " + all_out);
  ASSERT_EQ(all.exit_code, 0) << all.output;
  Result r = Predict(mixed, "--out " + mixed_out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("scored 5 of 7 records"));
  EXPECT_THAT(r.output,
              HasSubstr("2 malformed (bad_number 1, column_count 1)"));
  std::vector<int64_t> numbers;
  for (const auto& [n, s] : ParseScores(ReadFile(mixed_out))) {
    numbers.push_back(n);
  }
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 2, 4, 5, 7}));
  // A good record scores the same wherever it is in the file, to the last
  // bits that the dense kernels' handling of a batch's remainder may change.
  const auto want = ParseScores(ReadFile(all_out));
  const auto got = ParseScores(ReadFile(mixed_out));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_NEAR(got[2].second, want[2].second, 1e-6);
  EXPECT_NEAR(got[4].second, want[5].second, 1e-6);
}

TEST_F(PredictCommandTest, RefusesAFolderWithoutCheckpoints) {
  Result r = Predict(score_);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(ckpt_ + ": no checkpoint to score with"));
  fs::create_directories(ckpt_);
  r = Predict(score_);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no checkpoint to score with"));
}

TEST_F(PredictCommandTest, RefusesTheCheckpointOfAnotherModelShape) {
  Train();
  Result r = Predict(score_,
                     "--set model.type=wide_deep --set "
                     "'tables=[{name: C3, dim: 16}]'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("cannot score with the checkpoints of " + ckpt_));
  EXPECT_THAT(r.output, HasSubstr("table \"C3\" has dim 8"));
  r = Predict(score_, "--set model.type=fm");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("dense part"));
}

TEST_F(PredictCommandTest, RefusesAMissingDataFile) {
  Train();
  Result r = Predict((dir_ / "missing.tsv").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("missing.tsv: no such file or folder"));
}

}  // namespace
}  // namespace freshet
