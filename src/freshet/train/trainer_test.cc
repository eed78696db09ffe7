#include "freshet/train/trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "freshet/base/fault_injecting_file_system.h"
#include "freshet/base/log_capture.h"
#include "freshet/data/generator.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_trainer_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string GenerateCriteo(int64_t rows, uint64_t seed) {
    GeneratorOptions opt;
    opt.kind = GeneratorKind::kCriteo;
    opt.rows = rows;
    opt.seed = seed;
    std::string path = (dir_ / ("criteo_" + std::to_string(seed) + ".tsv"));
    EXPECT_TRUE(GenerateToPath(opt, path).ok());
    return path;
  }

  // A Criteo job over `data`, with the given model and overrides.
  JobConfig CriteoJob(const std::string& data, const std::string& model,
                      std::vector<std::string> overrides = {}) {
    overrides.push_back("source.path=" + data);
    overrides.push_back("model.type=" + model);
    auto job = LoadJobConfig(
        std::string(FRESHET_SOURCE_DIR) + "/examples/criteo.yaml", overrides);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }

  TrainerProgress Train(const JobConfig& job, TrainerOptions options = {},
                        uint64_t* digest = nullptr) {
    auto trainer = Trainer::Create(job, options);
    EXPECT_TRUE(trainer.ok()) << trainer.status();
    absl::Status status = (*trainer)->Run();
    EXPECT_TRUE(status.ok()) << status;
    if (digest) *digest = ModelDigest((*trainer)->model());
    return (*trainer)->Progress();
  }

  fs::path dir_;
};

TEST_F(TrainerTest, ScoresEachExampleBeforeTrainingOnIt) {
  // Ten copies of one positive record. A model with zero-initialised wide
  // weights and bias scores the first copy at p = 0.5; were it trained first,
  // its loss would be below ln 2.
  std::string line = "1\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13";
  for (int c = 0; c < 26; ++c) line += "\tabcdef0" + std::to_string(c % 10);
  std::string path = dir_ / "same.tsv";
  {
    std::ofstream out(path);
    for (int i = 0; i < 10; ++i) out << line << "\n";
  }
  JobConfig job = CriteoJob(path, "lr", {"train.batch_size=1"});
  TrainerOptions one;
  one.max_examples = 1;
  TrainerProgress first = Train(job, one);
  EXPECT_EQ(first.examples, 1);
  EXPECT_NEAR(first.logloss, std::log(2.0), 1e-6);

  TrainerProgress all = Train(job);
  EXPECT_EQ(all.examples, 10);
  // Later copies were scored after training on the earlier ones.
  EXPECT_LT(all.logloss, std::log(2.0) - 0.01);
}

TEST_F(TrainerTest, DeterministicModeIsBitIdentical) {
  std::string data = GenerateCriteo(20000, 3);
  for (const char* model : {"lr", "deepfm"}) {
    JobConfig job = CriteoJob(data, model, {"train.batch_size=128"});
    TrainerOptions det;
    det.deterministic = true;
    uint64_t a = 0, b = 0;
    TrainerProgress pa = Train(job, det, &a);
    TrainerProgress pb = Train(job, det, &b);
    EXPECT_EQ(a, b) << model;
    EXPECT_EQ(pa.logloss, pb.logloss) << model;
    EXPECT_EQ(pa.examples, 20000);
    // A different seed for the dense part gives a different model.
    if (std::string(model) == "deepfm") {
      JobConfig other =
          CriteoJob(data, model, {"train.batch_size=128", "train.seed=7"});
      uint64_t c = 0;
      Train(other, det, &c);
      EXPECT_NE(a, c);
    }
  }
}

TEST_F(TrainerTest, LearnsTheGeneratorsSignalWithEveryModel) {
  std::string data = GenerateCriteo(30000, 5);
  for (const char* model :
       {"lr", "fm", "deepfm", "wide_deep", "dcn_v2", "mlp"}) {
    JobConfig job = CriteoJob(data, model, {"train.batch_size=64"});
    TrainerProgress p = Train(job);
    EXPECT_EQ(p.examples, 30000) << model;
    EXPECT_GT(p.auc, 0.66) << model;
    EXPECT_GT(p.window_auc, 0.68) << model;
    EXPECT_LT(p.logloss, 0.52) << model;
    EXPECT_GT(p.table_rows, 1000) << model;
    EXPECT_GT(p.table_bytes, p.table_rows * 8) << model;
  }
}

TEST_F(TrainerTest, TwoComputeThreadsLearnAsWellAsOneAndRepeat) {
  std::string data = GenerateCriteo(30000, 6);
  JobConfig one =
      CriteoJob(data, "deepfm", {"train.batch_size=256", "train.threads=1"});
  JobConfig two =
      CriteoJob(data, "deepfm", {"train.batch_size=256", "train.threads=2"});
  TrainerProgress p1 = Train(one);
  uint64_t d2 = 0, d2_again = 0;
  TrainerProgress p2 = Train(two, {}, &d2);
  // Each table is updated by one thread per phase: the result depends on the
  // thread count, not on timing.
  Train(two, {}, &d2_again);
  EXPECT_EQ(d2, d2_again);
  EXPECT_EQ(p2.examples, 30000);
  EXPECT_NEAR(p1.auc, p2.auc, 0.01);
  EXPECT_NEAR(p1.logloss, p2.logloss, 0.01);
}

TEST_F(TrainerTest, MalformedRecordsAreSkippedAndCounted) {
  std::string data = GenerateCriteo(1000, 8);
  std::string mixed = dir_ / "mixed.tsv";
  {
    std::ifstream in(data);
    std::ofstream out(mixed);
    std::string line;
    int i = 0;
    while (std::getline(in, line)) {
      out << line << "\n";
      if (++i % 100 == 0) out << "not\ta\tcriteo\trecord\n";
    }
  }
  JobConfig job = CriteoJob(mixed, "lr");
  TrainerProgress p = Train(job);
  EXPECT_EQ(p.examples, 1000);
  EXPECT_EQ(p.malformed, 10);
  EXPECT_EQ(p.records, 1010);
  EXPECT_TRUE(fs::exists(mixed + ".dead"));
  EXPECT_EQ(p.dead_letter_failures, 0);

  // Dead letters that cannot be written (their folder is a regular file)
  // are counted in the progress; training goes on.
  JobConfig unwritable =
      CriteoJob(mixed, "lr", {"source.dead_letter=" + data + "/x.dead"});
  TrainerProgress q = Train(unwritable);
  EXPECT_EQ(q.examples, 1000);
  EXPECT_EQ(q.malformed, 10);
  EXPECT_EQ(q.dead_letter_failures, 10);
}

TEST_F(TrainerTest, WindowLogHasOneLinePerWindow) {
  std::string data = GenerateCriteo(5000, 9);
  JobConfig job = CriteoJob(
      data, "lr", {"train.window_examples=1000", "train.batch_size=100"});
  TrainerOptions opt;
  opt.window_log = dir_ / "windows.jsonl";
  Train(job, opt);
  std::ifstream in(opt.window_log);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_THAT(line, ::testing::HasSubstr("\"examples\": " +
                                           std::to_string(lines * 1000)));
    EXPECT_THAT(line, ::testing::HasSubstr("\"window_auc\": 0."));
  }
  EXPECT_EQ(lines, 5);
}

// A window-log line that cannot be written is counted and logged, and
// training goes on; the line after it starts on a line of its own.
TEST_F(TrainerTest, WindowLogWriteFailureIsCountedAndTrainingGoesOn) {
  std::string data = GenerateCriteo(5000, 9);
  JobConfig job = CriteoJob(
      data, "lr", {"train.window_examples=1000", "train.batch_size=100"});
  FaultInjectingFileSystem faulty;
  TrainerOptions opt;
  opt.window_log = dir_ / "windows.jsonl";
  opt.file_system = &faulty;
  faulty.FailNthWrite(2);  // the line of the second window
  TrainerProgress p;
  {
    LogCapture log;
    p = Train(job, opt);
    EXPECT_THAT(log.text(), HasSubstr("window log"));
    EXPECT_THAT(log.text(), HasSubstr("training goes on"));
  }
  EXPECT_EQ(p.examples, 5000);
  EXPECT_EQ(p.window_log_failures, 1);
  std::ifstream in(opt.window_log);
  std::string line;
  std::vector<int64_t> windows;
  int empty = 0;  // the one after the failed write
  while (std::getline(in, line)) {
    if (line.empty()) {
      ++empty;
      continue;
    }
    const size_t at = line.find("\"examples\": ");
    ASSERT_NE(at, std::string::npos) << line;
    windows.push_back(std::stoll(line.substr(at + 12)));
    EXPECT_EQ(line.back(), '}') << line;
  }
  EXPECT_EQ(windows, (std::vector<int64_t>{1000, 3000, 4000, 5000}));
  EXPECT_EQ(empty, 1);
}

// A disk that fails every write: each lost line is counted, the warning is
// logged once (then every 100th), not once per window.
TEST_F(TrainerTest, WindowLogFailuresAreLoggedRateLimited) {
  std::string data = GenerateCriteo(5000, 9);
  JobConfig job = CriteoJob(
      data, "lr", {"train.window_examples=500", "train.batch_size=100"});
  FaultInjectingFileSystem faulty;
  faulty.FailWritesUnder(dir_.string());
  TrainerOptions opt;
  opt.window_log = dir_ / "windows.jsonl";
  opt.file_system = &faulty;
  LogCapture log;
  TrainerProgress p = Train(job, opt);
  EXPECT_EQ(p.examples, 5000);
  EXPECT_EQ(p.window_log_failures, 10);
  const std::string text = log.text();
  size_t warnings = 0;
  for (size_t at = text.find("window log"); at != std::string::npos;
       at = text.find("window log", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << text;
}

// A window log that cannot even be created is an error before training
// starts, naming the file.
TEST_F(TrainerTest, WindowLogThatCannotBeCreatedIsAnError) {
  std::string data = GenerateCriteo(100, 9);
  JobConfig job = CriteoJob(data, "lr");
  TrainerOptions opt;
  opt.window_log = data + "/windows.jsonl";  // under a regular file
  auto trainer = Trainer::Create(job, opt);
  ASSERT_FALSE(trainer.ok());
  EXPECT_THAT(trainer.status().message(),
              HasSubstr("cannot write the window log " + opt.window_log));
}

TEST_F(TrainerTest, RejectsAJobWithoutLabel) {
  std::string data = GenerateCriteo(10, 10);
  JobConfig job = CriteoJob(data, "lr");
  job.schema.labels.clear();
  auto trainer = Trainer::Create(job, {});
  ASSERT_FALSE(trainer.ok());
  EXPECT_THAT(std::string(trainer.status().message()),
              ::testing::HasSubstr("training needs a label"));
}

TEST_F(TrainerTest, MissingDataFileIsAClearError) {
  JobConfig job = CriteoJob((dir_ / "nope.tsv").string(), "lr");
  auto trainer = Trainer::Create(job, {});
  ASSERT_FALSE(trainer.ok());
  EXPECT_THAT(std::string(trainer.status().message()),
              ::testing::HasSubstr("nope.tsv"));
}

}  // namespace
}  // namespace freshet

namespace freshet {
namespace {

// Dense values near the float maximum (a common missing-value marker) with
// no transform overflow a deep model: a non-finite score. The batch's
// updates are skipped and counted, the parameters stay finite, the metrics
// stay defined, and training reaches the end of the stream.
TEST_F(TrainerTest, NonFiniteScoresSkipTheBatchAndTrainingGoesOn) {
  std::string csv = "y,a,b,c\n";
  for (int i = 0; i < 400; ++i) {
    const bool marker = i % 10 == 3;
    csv += std::to_string(i % 3 == 0) + "," +
           (marker ? "3.4e38" : std::to_string(0.01 * (i % 17))) + "," +
           (marker ? "3.4e38" : std::to_string(0.02 * (i % 5))) + ",v" +
           std::to_string(i % 11) + "\n";
  }
  const std::string data = (dir_ / "huge.csv").string();
  std::ofstream(data) << csv;
  auto job = ParseJobConfig(R"(
schema:
  label: {name: y, column: y}
  dense: [{name: a}, {name: b}]
  slots: [{name: c, column: c}]
model: {type: deepfm, hidden: [64]}
source: {type: file, path: huge.csv, format: csv, header: true}
train: {batch_size: 8}
)",
                            "huge.yaml", dir_.string());
  ASSERT_TRUE(job.ok()) << job.status();
  TrainerOptions options;
  options.deterministic = true;
  auto trainer = Trainer::Create(*job, options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Run().ok());
  const TrainerProgress p = (*trainer)->Progress();
  EXPECT_EQ(p.examples, 400);
  EXPECT_GT(p.non_finite, 0);
  EXPECT_LT(p.non_finite, 400);
  EXPECT_TRUE(std::isfinite(p.logloss));
  EXPECT_TRUE(std::isfinite(p.auc));
  LocalStore& store = (*trainer)->model();
  for (float w : store.dense().params()) ASSERT_TRUE(std::isfinite(w));
  for (int t = 0; t < store.num_tables(); ++t) {
    store.table(t).ForEachRow([](const RowView& r) {
      for (float w : r.weights) ASSERT_TRUE(std::isfinite(w));
    });
  }
}

}  // namespace
}  // namespace freshet
