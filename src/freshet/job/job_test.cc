// Tests of the job classes in process: an EmbeddedJob trained to the end of
// a file and asked over HTTP on 127.0.0.1, resumed from its own checkpoints;
// a CheckpointServing that follows a folder; a BatchScorer against the
// forward pass of the model training ended with.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

// After the Eigen headers of the job classes: <httplib.h> brings
// <resolv.h>, whose _res macro breaks Eigen.
#include "freshet/job/batch_scorer.h"
#include "freshet/job/checkpoint_serving.h"
#include "freshet/job/checkpointed_training.h"
#include "freshet/job/embedded_job.h"
#include "freshet/job/training_job.h"
//
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "freshet/base/config.h"
#include "freshet/base/fault_injecting_file_system.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/data/data_test_util.h"
#include "freshet/data/generator.h"
#include "freshet/data/record_parser.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

class JobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = (dir_ / "stream.tsv").string();
    ckpt_ = (dir_ / "ckpt").string();
    GeneratorOptions gen;
    gen.kind = GeneratorKind::kCriteo;
    gen.rows = 2000;
    gen.seed = 9;
    ASSERT_TRUE(GenerateToPath(gen, data_).ok());
  }

  JobConfig Job(std::vector<std::string> overrides = {}) {
    overrides.insert(
        overrides.begin(),
        {"source.type=file", "source.path=" + data_, "model.type=deepfm",
         "train.batch_size=64", "sync.interval=50ms", "serve.port=0",
         "serve.http_threads=2", "serve.admin_token=secret"});
    auto job = LoadJobConfig(
        std::string(FRESHET_SOURCE_DIR) + "/examples/synthetic.yaml",
        overrides);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }

  static bool WaitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 3000 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  static json GetJson(int port, const std::string& path) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10);
    auto res = client.Get(path);
    if (!res || res->status != 200) return {};
    return json::parse(res->body);
  }

  testing_util::TempDir temp_;
  const fs::path dir_{temp_.path()};
  std::string data_, ckpt_;
};

// Side outputs that cannot be written (a disk that fails every write):
// window-log lines and dead letters are counted in /metrics and the report,
// and training and serving go on.
TEST_F(JobTest, EmbeddedJobCountsSideWritesThatFailInMetrics) {
  {
    std::ofstream out(data_, std::ios::app);
    for (int i = 0; i < 3; ++i) out << "not\ta\tcriteo\trecord\n";
  }
  FaultInjectingFileSystem faulty;
  faulty.FailWritesUnder(dir_.string());
  EmbeddedJobOptions options;
  options.window_log = (dir_ / "windows.jsonl").string();
  options.file_system = &faulty;
  auto run = EmbeddedJob::Create(Job({"train.window_examples=500"}), options);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE((*run)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return (*run)->training_done(); }));
  EXPECT_TRUE((*run)->training_status().ok()) << (*run)->training_status();
  const int port = (*run)->port();
  ASSERT_TRUE(WaitFor([&] {
    return GetJson(port, "/statusz")["training"]["examples"] == 2000;
  }));
  httplib::Client client("127.0.0.1", port);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              HasSubstr("freshet_train_window_log_write_failures_total 4\n"));
  EXPECT_THAT(metrics->body,
              HasSubstr("freshet_train_dead_letter_write_failures_total 3\n"));
  ASSERT_TRUE((*run)->Stop().ok());
  const EmbeddedJobReport report = (*run)->Report();
  EXPECT_EQ(report.training.examples, 2000);
  EXPECT_EQ(report.training.window_log_failures, 4);
  EXPECT_EQ(report.training.dead_letter_failures, 3);
  EXPECT_THAT(RunSummaryText(report),
              HasSubstr("side writes  4 window-log lines, 3 dead letters not "
                        "written"));
}

TEST_F(JobTest, EmbeddedJobTrainsSyncsAndServesItsStatus) {
  auto run = EmbeddedJob::Create(Job());
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE((*run)->Start().ok());
  EXPECT_EQ((*run)->checkpoints(), nullptr);
  ASSERT_TRUE(WaitFor([&] { return (*run)->training_done(); }));
  EXPECT_TRUE((*run)->training_status().ok());

  const int port = (*run)->port();
  ASSERT_TRUE(WaitFor([&] {
    return GetJson(port, "/statusz")["training"]["examples"] == 2000;
  }));
  json st = GetJson(port, "/statusz");
  EXPECT_EQ(st["training"]["done"], true);
  EXPECT_EQ(st["sync"]["interval_ms"], 50);
  EXPECT_FALSE(st.contains("checkpoint"));
  httplib::Client client("127.0.0.1", port);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("freshet_train_examples_total 2000\n"));
  EXPECT_THAT(metrics->body, HasSubstr("freshet_source_rotations_total 0\n"));
  EXPECT_THAT(metrics->body,
              HasSubstr("freshet_source_rotation_lost_bytes_total 0\n"));
  EXPECT_THAT(metrics->body, HasSubstr("freshet_sync_published_batches_total"));
  // No checkpoint folder: the admin call says how to get one.
  httplib::Headers auth = {{"Authorization", "Bearer secret"}};
  auto admin = client.Post("/admin/checkpoint", auth, "", "application/json");
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 409);
  EXPECT_THAT(admin->body, HasSubstr("--checkpoint-dir"));

  ASSERT_TRUE((*run)->Stop().ok());
  // The last sync after training stopped: serving holds training's rows.
  LocalStore& model = (*run)->store();
  const ServingReplica& replica = (*run)->replica();
  EXPECT_EQ(replica.status().version, (*run)->sync_stats().last_version);
  replica.Read([&](const ServingReplica::View& view) {
    for (int i = 0; i < model.num_tables(); ++i) {
      EXPECT_EQ(view.table(i).size(), model.table(i).size()) << i;
    }
  });
  EXPECT_EQ((*run)->progress().examples, 2000);
  // The report is the job's counters in one value.
  const EmbeddedJobReport report = (*run)->Report();
  EXPECT_EQ(report.training.examples, 2000);
  EXPECT_EQ(report.sync.batches, (*run)->sync_stats().batches);
  EXPECT_EQ(report.serving_version, replica.status().version);
  EXPECT_EQ(report.freshness_batches, replica.freshness().count());
  EXPECT_EQ(report.requests, (*run)->server().requests());
  EXPECT_TRUE((*run)->Stop().ok());  // twice is fine
}

TEST_F(JobTest, EmbeddedJobCheckpointsOnExitAndResumesWhereItStopped) {
  std::optional<absl::StatusOr<Manifest>> final;
  EmbeddedJobOptions opt;
  opt.on_training_stopped = [&](const auto& f) { final = f; };
  {
    auto run = EmbeddedJob::Create(Job({"checkpoint.dir=" + ckpt_}), opt);
    ASSERT_TRUE(run.ok()) << run.status();
    ASSERT_TRUE((*run)->Start().ok());
    ASSERT_NE((*run)->checkpoints(), nullptr);
    EXPECT_FALSE((*run)->checkpoints()->resumed());
    ASSERT_TRUE(WaitFor([&] { return (*run)->training_done(); }));
    json st = GetJson((*run)->port(), "/statusz");
    EXPECT_EQ(st["checkpoint"]["dir"], ckpt_);
    EXPECT_EQ(st["checkpoint"]["written"], 1);
    ASSERT_TRUE((*run)->Stop().ok());
    EXPECT_FALSE((*run)->final_checkpoint_failed());
  }
  ASSERT_TRUE(final.has_value());
  ASSERT_TRUE(final->ok()) << final->status();
  EXPECT_EQ((*final)->metadata.examples, 2000);

  // A second run resumes at the end of the file: nothing left to train.
  auto again = EmbeddedJob::Create(Job({"checkpoint.dir=" + ckpt_}));
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*again)->Start().ok());
  ASSERT_TRUE((*again)->checkpoints()->resumed());
  EXPECT_EQ((*again)->checkpoints()->resumed()->id, (*final)->id);
  ASSERT_TRUE((*again)->Stop().ok());
  EXPECT_EQ((*again)->progress().examples, 2000);

  // Another model's checkpoints are refused, naming the folder.
  auto other =
      EmbeddedJob::Create(Job({"checkpoint.dir=" + ckpt_, "model.type=fm"}));
  ASSERT_TRUE(other.ok()) << other.status();
  absl::Status st = (*other)->Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(st.message(), HasSubstr("cannot resume from " + ckpt_));
}

// Trains `job` to the end of its stream with a final checkpoint in
// job.checkpoint.dir (TrainingJob, as `freshet train` does); returns the job.
std::unique_ptr<TrainingJob> TrainWithCheckpoint(const JobConfig& job) {
  auto train = TrainingJob::Create(job);
  EXPECT_TRUE(train.ok()) << train.status();
  EXPECT_TRUE((*train)->Start().ok());
  EXPECT_NE((*train)->checkpoints(), nullptr);
  EXPECT_TRUE((*train)->Run().ok());
  auto final = (*train)->Finish();
  EXPECT_TRUE(final && final->ok());
  return *std::move(train);
}

TEST_F(JobTest, TrainingJobRunsOnlyAfterItResumed) {
  auto train = TrainingJob::Create(Job({"checkpoint.dir=" + ckpt_}));
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ((*train)->Run().code(), absl::StatusCode::kFailedPrecondition);
  auto plain = TrainingJob::Create(Job());
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE((*plain)->Start().ok());
  ASSERT_TRUE((*plain)->Run().ok());
  EXPECT_EQ((*plain)->checkpoints(), nullptr);
  EXPECT_FALSE((*plain)->Finish().has_value());
  EXPECT_EQ((*plain)->trainer().examples(), 2000);
  // The second job resumes at the end of the first one's checkpoint.
  std::unique_ptr<TrainingJob> first =
      TrainWithCheckpoint(Job({"checkpoint.dir=" + ckpt_}));
  auto second = TrainingJob::Create(Job({"checkpoint.dir=" + ckpt_}));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE((*second)->Start().ok());
  ASSERT_TRUE((*second)->checkpoints()->resumed());
  ASSERT_TRUE((*second)->Run().ok());
  EXPECT_EQ((*second)->trainer().examples(), 2000);
}

TEST_F(JobTest, CheckpointServingFollowsTheFolder) {
  JobConfig job = Job({"checkpoint.dir=" + ckpt_});
  auto serving = CheckpointServing::Create(job, ckpt_);
  ASSERT_TRUE(serving.ok()) << serving.status();
  absl::Status st = (*serving)->Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;  // no folder yet

  std::unique_ptr<TrainingJob> train = TrainWithCheckpoint(job);
  LocalStore* store = &train->store();
  serving = CheckpointServing::Create(job, ckpt_);
  ASSERT_TRUE(serving.ok()) << serving.status();
  ASSERT_TRUE((*serving)->Start().ok());
  EXPECT_EQ((*serving)->served().last.id, 1u);
  EXPECT_EQ((*serving)->replica().status().version, 1u);
  absl::StatusOr<bool> reloaded = (*serving)->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_FALSE(*reloaded);  // nothing newer

  // A newer checkpoint with one row fewer: the reload serves exactly it.
  EmbeddingTable& t = store->table(0);
  uint64_t erased = 0;
  t.ForEachRow([&](const RowView& r) { erased = r.key; });
  t.Erase(erased);
  ASSERT_TRUE(WriteIncrementalCheckpoint(ckpt_, *store, {}).ok());
  reloaded = (*serving)->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ((*serving)->served().last.id, 2u);
  EXPECT_EQ((*serving)->served().ids, (std::vector<uint64_t>{1, 2}));
  (*serving)->replica().Read([&](const ServingReplica::View& view) {
    EXPECT_EQ(view.table(0).size(), t.size());
    std::vector<float> row(t.dim());
    EXPECT_FALSE(view.table(0).Lookup(erased, row.data()));
  });
  json st_json = GetJson((*serving)->port(), "/statusz");
  EXPECT_EQ(st_json["checkpoint"]["id"], 2);
  EXPECT_EQ(st_json["checkpoint"]["chain"], json::array({1, 2}));

  // A config of another model: refused at start, with what differs.
  auto other = CheckpointServing::Create(
      Job({"tables=[{name: C3, dim: 16}]", "model.type=wide_deep"}), ckpt_);
  ASSERT_TRUE(other.ok()) << other.status();
  st = (*other)->Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(st.message(), HasSubstr("table \"C3\" has dim 8"));
}

TEST_F(JobTest, BatchScorerScoresAsTheModelTrainingEndedWith) {
  JobConfig job = Job({"checkpoint.dir=" + ckpt_});
  std::unique_ptr<TrainingJob> train = TrainWithCheckpoint(job);
  LocalStore* store = &train->store();
  auto scorer = BatchScorer::Create(job, ckpt_);
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  std::ostringstream out;
  auto counts = (*scorer)->ScoreFile(data_, &out);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->scored, 2000);

  // The first 256 records (one batch of ScoreFile) through the trained
  // model itself.
  auto parser = MakeRecordParser(job.schema, job.source);
  ASSERT_TRUE(parser.ok()) << parser.status();
  std::ifstream in(data_);
  std::string line;
  std::vector<Example> examples;
  while (examples.size() < 256 && std::getline(in, line)) {
    Example e;
    ASSERT_TRUE((*parser)->Parse(line, &e).ok());
    examples.push_back(std::move(e));
  }
  LocalStore& model = *store;
  BatchEmbedder embedder(&model);
  ASSERT_TRUE(
      embedder.Embed(examples, LookupMode::kServe, EmbeddingTable::kNoEventTime)
          .ok());
  std::vector<float> logits(examples.size());
  ModelWorkspace ws;
  model.dense().Forward(embedder.input(), &ws, logits.data());
  std::istringstream lines(out.str());
  for (size_t i = 0; i < examples.size(); ++i) {
    int64_t number = 0;
    float score = 0;
    ASSERT_TRUE(lines >> number >> score);
    EXPECT_EQ(number, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(score,
              static_cast<float>(
                  1.0 / (1.0 + std::exp(-static_cast<double>(logits[i])))))
        << i;
  }
}

}  // namespace
}  // namespace freshet
