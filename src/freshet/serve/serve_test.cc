#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "freshet/data/generator.h"
#include "freshet/data/record_parser.h"
#include "freshet/serve/histogram.h"
#include "freshet/serve/predictor.h"
#include "freshet/serve/serving_replica.h"
#include "freshet/serve/serving_table.h"
#include "freshet/sync/delta_sink.h"
#include "freshet/sync/fp16.h"
#include "freshet/sync/sync_publisher.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

TEST(ServingTableTest, UpsertLookupEraseAndReuse) {
  ServingTable t("x", 3, WeightPrecision::kFp32);
  float out[3];
  EXPECT_FALSE(t.Lookup(1, out));
  EXPECT_THAT(out, ::testing::ElementsAre(0.0f, 0.0f, 0.0f));
  const float a[3] = {0.1f, 0.2f, 0.3f};
  const float b[3] = {-1.0f, 2.0f, -3.0f};
  t.Upsert(1, a);
  t.Upsert(2, b);
  ASSERT_TRUE(t.Lookup(1, out));
  EXPECT_THAT(out, ::testing::ElementsAre(0.1f, 0.2f, 0.3f));
  t.Upsert(1, b);  // overwrite
  ASSERT_TRUE(t.Lookup(1, out));
  EXPECT_THAT(out, ::testing::ElementsAre(-1.0f, 2.0f, -3.0f));
  EXPECT_TRUE(t.Erase(1));
  EXPECT_FALSE(t.Erase(1));
  EXPECT_FALSE(t.Lookup(1, out));
  EXPECT_EQ(t.size(), 1);
  const int64_t bytes = t.bytes();
  t.Upsert(3, a);  // reuses the freed slot
  EXPECT_EQ(t.bytes(), bytes);
  ASSERT_TRUE(t.Lookup(2, out));
  EXPECT_THAT(out, ::testing::ElementsAre(-1.0f, 2.0f, -3.0f));
  float rows[6];
  const uint64_t keys[2] = {3, 7};
  t.LookupBatch(keys, rows);
  EXPECT_THAT(rows, ::testing::ElementsAre(0.1f, 0.2f, 0.3f, 0, 0, 0));
}

TEST(ServingTableTest, MissingKeysReadAsTheDefaultRow) {
  ServingTable t("x", 2, WeightPrecision::kFp16, {0.5f, -0.25f});
  float out[2];
  EXPECT_FALSE(t.Lookup(9, out));
  EXPECT_THAT(out, ::testing::ElementsAre(0.5f, -0.25f));
  const float a[2] = {1.0f, 2.0f};
  t.Upsert(9, a);
  ASSERT_TRUE(t.Lookup(9, out));
  EXPECT_THAT(out, ::testing::ElementsAre(1.0f, 2.0f));
}

TEST(ServingTableTest, UpsertBatchEqualsOneByOne) {
  for (WeightPrecision p : {WeightPrecision::kFp32, WeightPrecision::kFp16}) {
    ServingTable a("a", 4, p), b("b", 4, p);
    std::mt19937_64 rng(1);
    for (int round = 0; round < 5; ++round) {
      std::vector<uint64_t> keys(1000);
      for (uint64_t& k : keys) k = rng() % 3000;  // repeats and overwrites
      std::vector<float> w(keys.size() * 4);
      for (float& x : w) x = static_cast<float>(rng() % 1000) / 7.0f;
      a.UpsertBatch(keys, w.data());
      for (size_t i = 0; i < keys.size(); ++i) b.Upsert(keys[i], &w[i * 4]);
      for (int e = 0; e < 100; ++e) {
        const uint64_t k = rng() % 3000;
        EXPECT_EQ(a.Erase(k), b.Erase(k));
      }
    }
    ASSERT_EQ(a.size(), b.size());
    float x[4], y[4];
    for (uint64_t k = 0; k < 3000; ++k) {
      ASSERT_EQ(a.Lookup(k, x), b.Lookup(k, y));
      for (int d = 0; d < 4; ++d) ASSERT_EQ(x[d], y[d]) << k;
    }
  }
}

// A replayed plan gives the second copy exactly what the first got, deletes
// and reused slots included; a plan from an unequal table is refused.
TEST(ServingTableTest, ReplayOfAnUpsertPlanEqualsTheUpsert) {
  for (WeightPrecision p : {WeightPrecision::kFp32, WeightPrecision::kFp16}) {
    ServingTable a("a", 4, p), b("b", 4, p);
    std::mt19937_64 rng(2);
    ServingTable::UpsertPlan plan;
    int replayed = 0;
    for (int round = 0; round < 8; ++round) {
      for (int e = 0; e < 150; ++e) {
        const uint64_t k = rng() % 3000;
        EXPECT_EQ(a.Erase(k), b.Erase(k));
      }
      std::vector<uint64_t> keys(1000);
      for (uint64_t& k : keys) k = rng() % 3000;
      std::vector<float> w(keys.size() * 4);
      for (float& x : w) x = static_cast<float>(rng() % 1000) / 7.0f;
      a.UpsertBatch(keys, w.data(), &plan);
      EXPECT_FALSE(plan.created.empty());
      EXPECT_LT(plan.created.size(), keys.size());
      if (b.Replay(keys, w.data(), plan)) ++replayed;
    }
    EXPECT_EQ(replayed, 8);
    ASSERT_EQ(a.size(), b.size());
    float x[4], y[4];
    for (uint64_t k = 0; k < 3000; ++k) {
      ASSERT_EQ(a.Lookup(k, x), b.Lookup(k, y)) << k;
      for (int d = 0; d < 4; ++d) ASSERT_EQ(x[d], y[d]) << k;
    }
    // A table that differs: the replay is refused, and an upsert fixes it.
    ServingTable c("c", 4, p);
    const float one[4] = {1, 1, 1, 1};
    c.Upsert(999999, one);
    std::vector<uint64_t> keys = {1, 2, 3};
    std::vector<float> w(12, 2.0f);
    ServingTable d("d", 4, p);
    d.UpsertBatch(keys, w.data(), &plan);
    EXPECT_FALSE(c.Replay(keys, w.data(), plan));
    c.UpsertBatch(keys, w.data());
    for (uint64_t k : keys) {
      ASSERT_TRUE(c.Lookup(k, x));
      EXPECT_EQ(x[0], 2.0f);
    }
  }
}

TEST(ServingTableTest, Fp16StoresTheRoundedWeights) {
  ServingTable t("x", 2, WeightPrecision::kFp16);
  const float w[2] = {0.1f, -123.456f};
  t.Upsert(5, w);
  float out[2];
  ASSERT_TRUE(t.Lookup(5, out));
  EXPECT_EQ(out[0], RoundToHalf(0.1f));
  EXPECT_EQ(out[1], RoundToHalf(-123.456f));
  EXPECT_NE(out[0], 0.1f);
}

TEST(HistogramTest, PercentilesAndPrometheusText) {
  Histogram h({0.1, 1.0}, /*keep_samples=*/4);
  for (double v : {0.05, 0.5, 2.0}) h.Record(v);
  EXPECT_EQ(h.count(), 3);
  EXPECT_DOUBLE_EQ(h.sum(), 2.55);
  EXPECT_DOUBLE_EQ(h.Percentile(0.5), 0.5);
  EXPECT_DOUBLE_EQ(h.Percentile(1.0), 2.0);
  EXPECT_DOUBLE_EQ(h.Percentile(0.0), 0.05);
  std::string text;
  h.AppendPrometheus("x_seconds", "help", &text);
  EXPECT_THAT(text, ::testing::HasSubstr("x_seconds_bucket{le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("x_seconds_bucket{le=\"1\"} 2\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("x_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("x_seconds_count 3\n"));
  // Only the last 4 samples are kept for percentiles; buckets keep all.
  for (double v : {7.0, 7.0, 7.0, 7.0}) h.Record(v);
  EXPECT_DOUBLE_EQ(h.Percentile(0.0), 7.0);
  EXPECT_EQ(h.count(), 7);
}

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_serve_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Generate(int64_t rows) {
    GeneratorOptions opt;
    opt.kind = GeneratorKind::kCriteo;
    opt.rows = rows;
    opt.seed = 3;
    std::string path = dir_ / "criteo.tsv";
    EXPECT_TRUE(GenerateToPath(opt, path).ok());
    return path;
  }

  JobConfig Job(const std::string& data, std::vector<std::string> overrides) {
    overrides.push_back("source.type=file");
    overrides.push_back("source.path=" + data);
    auto job = LoadJobConfig(
        std::string(FRESHET_SOURCE_DIR) + "/examples/synthetic.yaml",
        overrides);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }

  fs::path dir_;
};

// Checks that every serving weight of `replica` equals its training weight
// in `model` (fp32) or its fp16 rounding, that both hold the same rows, and
// that the dense parameters are equal. Returns the rows checked.
int64_t ExpectServingEqualsTraining(const LocalStore& model,
                                    const ServingReplica& replica,
                                    int* fp16_tables = nullptr) {
  int64_t rows_checked = 0;
  replica.Read([&](const ServingReplica::View& view) {
    ASSERT_EQ(replica.num_tables(), model.num_tables());
    for (int i = 0; i < model.num_tables(); ++i) {
      const EmbeddingTable& t = model.table(i);
      ASSERT_EQ(replica.table_name(i), t.spec().name);
      const ServingTable& s = view.table(i);
      ASSERT_EQ(s.size(), t.size()) << t.spec().name;
      const bool fp16 = t.spec().serving_precision == "fp16";
      if (fp16_tables != nullptr) *fp16_tables += fp16;
      std::vector<float> got(t.dim());
      t.ForEachRow([&](const RowView& row) {
        ASSERT_TRUE(s.Lookup(row.key, got.data())) << t.spec().name;
        for (int k = 0; k < t.dim(); ++k) {
          const float want =
              fp16 ? RoundToHalf(row.weights[k]) : row.weights[k];
          ASSERT_EQ(got[k], want) << t.spec().name << " key " << row.key;
        }
        ++rows_checked;
      });
    }
    absl::Span<const float> a = model.dense().params();
    absl::Span<const float> b = view.dense().params();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
  });
  return rows_checked;
}

// Trains with sync running every 50 ms (in process, or through the byte
// form), stops, waits one interval and checks
// that every serving weight equals its training weight (fp32) or its fp16
// rounding, and that serving scores equal the training forward pass.
void CheckConvergence(const JobConfig& job, const std::string& data,
                      bool compare_scores, bool via_bytes) {
  auto schema = Schema::Compile(job.schema, job.dir);
  ASSERT_TRUE(schema.ok()) << schema.status();
  auto replica = ServingReplica::Create(job, *schema);
  ASSERT_TRUE(replica.ok()) << replica.status();
  ReplicaSink sink(replica->get(), via_bytes);
  std::atomic<SyncPublisher*> pub{nullptr};
  TrainerOptions topt;
  topt.after_batch = [&pub](ParameterStore& m, int64_t n, double t) {
    if (SyncPublisher* p = pub.load()) p->OnBatch(m, n, t);
  };
  auto trainer = Trainer::Create(job, topt);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  LocalStore& model = (*trainer)->model();
  SyncPublisherOptions sopt;
  sopt.interval_s = 0.05;
  SyncPublisher publisher(&model, &sink, sopt);
  pub.store(&publisher);
  publisher.Start();
  ASSERT_TRUE((*trainer)->Run().ok());
  // One interval after training stops (plus slack for a loaded machine).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Then no more heartbeats: the replica's version stays put while the
  // prediction below is compared with it.
  publisher.Stop();
  EXPECT_GE((*replica)->status().batches, 2);
  EXPECT_EQ((*replica)->status().version_gaps, 0);

  int fp16_tables = 0;
  const int64_t rows_checked =
      ExpectServingEqualsTraining(model, **replica, &fp16_tables);
  EXPECT_GT(rows_checked, 1000);
  if (job.tables.size() > 0 && !compare_scores) EXPECT_GT(fp16_tables, 0);
  if (!compare_scores) return;

  // Symmetric fusion: the predictor's score of a record equals the training
  // forward pass (kServe lookups) on the same weights.
  auto parser = MakeRecordParser(*schema, job.source);
  ASSERT_TRUE(parser.ok()) << parser.status();
  std::ifstream in(data);
  std::string line;
  std::vector<Example> examples;
  while (examples.size() < 64 && std::getline(in, line)) {
    Example e;
    ASSERT_TRUE((*parser)->Parse(line, &e).ok());
    examples.push_back(std::move(e));
  }
  BatchEmbedder embedder(&model);
  ASSERT_TRUE(
      embedder.Embed(examples, LookupMode::kServe, EmbeddingTable::kNoEventTime)
          .ok());
  std::vector<float> logits(examples.size());
  ModelWorkspace ws;
  model.dense().Forward(embedder.input(), &ws, logits.data());

  PredictRequest req;
  req.context.slot_offsets.assign((*schema)->num_slots() + 1, 0);
  req.context.dense.assign((*schema)->num_dense(), NAN);
  req.candidates = examples;
  Predictor predictor(replica->get(), {});
  PredictResult result;
  ASSERT_TRUE(predictor.Predict(req, &result).ok());
  ASSERT_EQ(result.scores.size(), examples.size());
  EXPECT_EQ(result.model_version, (*replica)->status().version);
  EXPECT_EQ(result.degradation, "fresh");
  const double offset = model.dense().serving_logit_offset();
  for (size_t i = 0; i < examples.size(); ++i) {
    const double want = 1.0 / (1.0 + std::exp(-(logits[i] + offset)));
    EXPECT_NEAR(result.scores[i], want, 1e-6) << i;
  }
}

TEST_F(ServeTest, DeepFmServingEqualsTrainingToFp16AfterOneInterval) {
  const std::string data = Generate(6000);
  JobConfig job =
      Job(data, {"tables=[{name: C3, serving_precision: fp16}, {name: C12, "
                 "serving_precision: fp16}]",
                 "train.batch_size=128"});
  CheckConvergence(job, data, /*compare_scores=*/false, /*via_bytes=*/true);
}

TEST_F(ServeTest, LrServingEqualsTrainingAndScoresMatchTheForwardPass) {
  const std::string data = Generate(6000);
  JobConfig job = Job(data, {"model.type=lr", "train.batch_size=128",
                             "model.negative_sampling_rate=0.25"});
  CheckConvergence(job, data, /*compare_scores=*/true, /*via_bytes=*/false);
}

TEST_F(ServeTest, DeepFmScoresMatchTheForwardPass) {
  const std::string data = Generate(3000);
  JobConfig job = Job(data, {"train.batch_size=128"});
  CheckConvergence(job, data, /*compare_scores=*/true, /*via_bytes=*/false);
}

// Wraps a sink and breaks chosen sends, numbered from 1: kFail reports an
// error and delivers nothing, kAmbiguous delivers and then reports an error
// (a timeout after the write), kWithhold loses the batch but reports success.
// A deaf sink reports success whatever the replica said, as a network stream
// without a back channel does.
class FaultySink : public DeltaSink {
 public:
  enum Fault { kFail, kAmbiguous, kWithhold };
  FaultySink(DeltaSink* inner, std::map<int, Fault> faults, bool deaf = false)
      : inner_(inner), faults_(std::move(faults)), deaf_(deaf) {}

  absl::Status Send(std::string_view encoded,
                    const DeltaBatch& batch) override {
    const int n = ++sends_;
    auto it = faults_.find(n);
    if (it != faults_.end()) {
      switch (it->second) {
        case kFail:
          return absl::UnavailableError(absl::StrCat("send ", n, " failed"));
        case kAmbiguous:
          inner_->Send(encoded, batch).IgnoreError();
          return absl::DeadlineExceededError(
              absl::StrCat("send ", n, " timed out after delivery"));
        case kWithhold:
          return absl::OkStatus();
      }
    }
    absl::Status s = inner_->Send(encoded, batch);
    return deaf_ ? absl::OkStatus() : s;
  }
  bool wants_bytes() const override { return inner_->wants_bytes(); }
  int sends() const { return sends_.load(); }

 private:
  DeltaSink* const inner_;
  const std::map<int, Fault> faults_;
  const bool deaf_;
  std::atomic<int> sends_{0};
};

// Trains `job` with a publisher that sends a batch every second training
// batch from the trainer's thread (so which updates a broken send carried
// does not depend on timing), calling probe() after each; then publishes
// `after` more batches once training has stopped.
struct SyncRun {
  std::unique_ptr<Trainer> trainer;
  SyncStats stats;
};
SyncRun TrainAndPublish(const JobConfig& job, DeltaSink* sink,
                        const SyncPublisherOptions& sopt, int after,
                        const std::function<void()>& probe = {}) {
  SyncRun run;
  std::atomic<SyncPublisher*> pub{nullptr};
  int batches = 0;
  TrainerOptions topt;
  topt.after_batch = [&](ParameterStore& m, int64_t n, double t) {
    SyncPublisher* p = pub.load();
    if (p == nullptr) return;
    p->OnBatch(m, n, t);
    if (++batches % 2 == 0) {
      p->PublishNow().IgnoreError();
      if (probe) probe();
    }
  };
  auto trainer = Trainer::Create(job, topt);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  if (!trainer.ok()) return run;
  run.trainer = std::move(*trainer);
  SyncPublisher publisher(&run.trainer->model(), sink, sopt);
  pub.store(&publisher);
  EXPECT_TRUE(run.trainer->Run().ok());
  pub.store(nullptr);
  for (int i = 0; i < after; ++i) publisher.PublishNow().IgnoreError();
  run.stats = publisher.stats();
  return run;
}

struct ReplicaOf {
  std::shared_ptr<const Schema> schema;
  std::unique_ptr<ServingReplica> replica;
};
ReplicaOf MakeReplica(const JobConfig& job) {
  ReplicaOf r;
  auto schema = Schema::Compile(job.schema, job.dir);
  EXPECT_TRUE(schema.ok()) << schema.status();
  r.schema = *schema;
  auto replica = ServingReplica::Create(job, r.schema);
  EXPECT_TRUE(replica.ok()) << replica.status();
  r.replica = std::move(*replica);
  return r;
}

// The defect this guards against: rows of a batch whose send failed were
// gone (their dirty bits cleared), so serving never got them. Fails without
// SyncPublisher's pending batch.
TEST_F(ServeTest, SinkThatFailsThenRecoversConvergesExactly) {
  const std::string data = Generate(3000);
  JobConfig job = Job(data, {"model.type=lr", "train.batch_size=64"});
  for (bool via_bytes : {false, true}) {
    ReplicaOf r = MakeReplica(job);
    ReplicaSink replica_sink(r.replica.get(), via_bytes);
    // Sends 2 to 5 fail outright, 7 and 8 are delivered but reported failed.
    FaultySink sink(&replica_sink, {{2, FaultySink::kFail},
                                    {3, FaultySink::kFail},
                                    {4, FaultySink::kFail},
                                    {5, FaultySink::kFail},
                                    {7, FaultySink::kAmbiguous},
                                    {8, FaultySink::kAmbiguous}});
    SyncRun run = TrainAndPublish(job, &sink, {}, /*after=*/1);
    ASSERT_NE(run.trainer, nullptr);
    ASSERT_GT(sink.sends(), 12);
    EXPECT_EQ(run.stats.failed, 6);
    EXPECT_EQ(run.stats.pending_rows, 0);
    EXPECT_EQ(run.stats.acked_version, run.stats.last_version);
    const ReplicaStatus st = r.replica->status();
    EXPECT_EQ(st.version, run.stats.last_version);
    EXPECT_EQ(st.version_gaps, 0);
    EXPECT_FALSE(st.gap_open);
    EXPECT_GT(ExpectServingEqualsTraining(run.trainer->model(), *r.replica),
              1000);
  }
}

// A batch lost on the way (the sink said it took it) leaves a gap: the
// replica refuses what builds on it, serves its last version flagged stale,
// and the publisher's next batch, full, heals it.
TEST_F(ServeTest, GapIsDetectedReportedStaleAndHealedByAFullBatch) {
  const std::string data = Generate(3000);
  JobConfig job = Job(data, {"model.type=lr", "train.batch_size=64"});
  ReplicaOf r = MakeReplica(job);
  ReplicaSink replica_sink(r.replica.get(), /*via_bytes=*/true);
  FaultySink sink(&replica_sink, {{4, FaultySink::kWithhold}});
  Predictor predictor(r.replica.get(), {});
  bool saw_stale = false;
  int probes = 0;
  SyncRun run = TrainAndPublish(job, &sink, {}, /*after=*/1, [&] {
    ++probes;
    if (probes != 5) return;  // right after the batch that follows the gap
    saw_stale = true;
    const ReplicaStatus st = r.replica->status();
    EXPECT_TRUE(st.gap_open);
    EXPECT_EQ(st.version, 3u);
    EXPECT_TRUE(r.replica->sync_gap());
    EXPECT_EQ(predictor.Degradation(predictor.StalenessMs()), "stale");
  });
  ASSERT_NE(run.trainer, nullptr);
  ASSERT_TRUE(saw_stale);
  EXPECT_EQ(run.stats.gaps, 1);
  EXPECT_EQ(run.stats.full_batches, 2);  // the first, and the healing one
  const ReplicaStatus st = r.replica->status();
  EXPECT_EQ(st.version_gaps, 1);
  EXPECT_FALSE(st.gap_open);
  EXPECT_EQ(st.full_batches, 2);
  EXPECT_EQ(st.version, run.stats.last_version);
  EXPECT_EQ(predictor.Degradation(predictor.StalenessMs()), "fresh");
  EXPECT_GT(ExpectServingEqualsTraining(run.trainer->model(), *r.replica),
            1000);
}

// Without a back channel (a network stream) the replica heals from the
// full batch the publisher emits every full_every batches.
TEST_F(ServeTest, GapHealsFromPeriodicFullBatchesWithoutABackChannel) {
  const std::string data = Generate(3000);
  JobConfig job = Job(data, {"model.type=lr", "train.batch_size=64"});
  ReplicaOf r = MakeReplica(job);
  ReplicaSink replica_sink(r.replica.get(), /*via_bytes=*/true);
  FaultySink sink(&replica_sink, {{5, FaultySink::kWithhold}},
                  /*deaf=*/true);
  SyncPublisherOptions sopt;
  sopt.full_every = 4;
  std::vector<bool> gap_after;
  SyncRun run =
      TrainAndPublish(job, &sink, sopt, /*after=*/sopt.full_every,
                      [&] { gap_after.push_back(r.replica->sync_gap()); });
  ASSERT_NE(run.trainer, nullptr);
  ASSERT_GE(gap_after.size(), 9u);
  // Batch 5 lost: 6 and 7 are refused, 8 (full) heals.
  EXPECT_THAT(std::vector<bool>(gap_after.begin(), gap_after.begin() + 9),
              ::testing::ElementsAre(false, false, false, false, false, true,
                                     true, false, false));
  EXPECT_EQ(run.stats.gaps, 0);  // the publisher never heard of it
  EXPECT_EQ(r.replica->status().version_gaps, 1);
  EXPECT_FALSE(r.replica->sync_gap());
  EXPECT_GT(ExpectServingEqualsTraining(run.trainer->model(), *r.replica),
            1000);
}

// A replica over one dim-8 table "a" (plus a/wide) and an lr-free fm model.
std::unique_ptr<ServingReplica> TinyReplica() {
  absl::StatusOr<JobConfig> job = ParseJobConfig(
      "schema:\n  label: label\n  slots: [a, b]\n  dense: [{name: d}]\n"
      "tables:\n  - {name: a, dim: 8}\n  - {name: b, dim: 8}\n"
      "model: {type: fm}\nsource: {type: generator}\n",
      "tiny.yaml", "");
  EXPECT_TRUE(job.ok()) << job.status();
  auto schema = Schema::Compile(job->schema);
  EXPECT_TRUE(schema.ok()) << schema.status();
  auto replica = ServingReplica::Create(*job, *schema);
  EXPECT_TRUE(replica.ok()) << replica.status();
  return std::move(*replica);
}

// Version v sets every row of keys [0, n) in "a" and "a/wide", and every
// dense parameter, to v.
DeltaBatch Uniform(uint64_t v, int n, size_t num_dense) {
  DeltaBatch b;
  b.version = v;
  b.has_dense = true;
  b.dense.assign(num_dense, static_cast<float>(v));
  for (const auto& [name, dim] :
       std::vector<std::pair<std::string, int>>{{"a", 8}, {"a/wide", 1}}) {
    DeltaTable t;
    t.name = name;
    t.dim = dim;
    for (int k = 0; k < n; ++k) t.keys.push_back(k);
    t.weights.assign(static_cast<size_t>(n) * dim, static_cast<float>(v));
    b.tables.push_back(std::move(t));
  }
  return b;
}

TEST(ServingReplicaTest, VersionsAreMonotonicAndBadBatchesChangeNothing) {
  std::unique_ptr<ServingReplica> r = TinyReplica();
  size_t num_dense = 0;
  r->Read([&](const ServingReplica::View& v) {
    num_dense = v.dense().num_params();
  });
  ASSERT_TRUE(r->Apply(Uniform(5, 10, num_dense)).ok());
  EXPECT_EQ(r->Apply(Uniform(5, 10, num_dense)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r->Apply(Uniform(3, 10, num_dense)).code(),
            absl::StatusCode::kAlreadyExists);
  DeltaBatch unknown = Uniform(6, 10, num_dense);
  unknown.tables[1].name = "nope";
  EXPECT_EQ(r->Apply(unknown).code(), absl::StatusCode::kInvalidArgument);
  DeltaBatch other_shard = Uniform(6, 10, num_dense);
  other_shard.shard = 1;
  EXPECT_EQ(r->Apply(other_shard).code(), absl::StatusCode::kInvalidArgument);
  DeltaBatch bad_dense = Uniform(6, 10, num_dense + 1);
  EXPECT_EQ(r->Apply(bad_dense).code(), absl::StatusCode::kInvalidArgument);
  std::string corrupt;
  EncodeDeltaBatch(Uniform(6, 10, num_dense), &corrupt);
  corrupt[corrupt.size() / 2] ^= 1;
  EXPECT_EQ(r->ApplyEncoded(corrupt).code(), absl::StatusCode::kDataLoss);
  r->Read([&](const ServingReplica::View& v) {
    EXPECT_EQ(v.version(), 5u);
    float row[8];
    ASSERT_TRUE(v.table(0).Lookup(3, row));
    EXPECT_EQ(row[0], 5.0f);
    EXPECT_EQ(v.dense().params()[0], 5.0f);
  });
  EXPECT_EQ(r->status().rejected, 6);
  EXPECT_EQ(r->status().duplicates, 2);
  // Deletions are applied before rows. Version 9 builds on version 0, so it
  // follows on 5 too.
  DeltaBatch del = Uniform(9, 0, num_dense);
  del.tables[0].deleted_keys = {1, 2};
  ASSERT_TRUE(r->Apply(del).ok());
  EXPECT_EQ(r->status().version_gaps, 0);
  EXPECT_EQ(r->table_rows(0), 8);
}

// Adds the replica's tables that `b` lacks, empty, and makes it full.
DeltaBatch Full(DeltaBatch b, const ServingReplica& r) {
  b.full = true;
  r.Read([&](const ServingReplica::View& v) {
    for (int i = 0; i < r.num_tables(); ++i) {
      bool listed = false;
      for (const DeltaTable& t : b.tables) listed |= t.name == r.table_name(i);
      if (listed) continue;
      DeltaTable t;
      t.name = r.table_name(i);
      t.dim = v.table(i).dim();
      b.tables.push_back(std::move(t));
    }
  });
  return b;
}

// A replica at version c applies a batch (base b, version v) of its epoch
// iff b <= c < v. Duplicates and older epochs are dropped; a gap changes
// nothing, stays open (flagged stale) and closes with a full batch, after
// which the replica holds exactly the full batch's rows.
TEST(ServingReplicaTest, OrderingDropsDuplicatesRefusesGapsAndFullBatchesHeal) {
  std::unique_ptr<ServingReplica> r = TinyReplica();
  size_t num_dense = 0;
  r->Read([&](const ServingReplica::View& v) {
    num_dense = v.dense().num_params();
  });
  auto at = [&](uint64_t epoch, uint64_t base, uint64_t v, int n) {
    DeltaBatch b = Uniform(v, n, num_dense);
    b.epoch = epoch;
    b.base_version = base;
    b.created_unix_us = SystemClock::Default()->NowMicros();
    return b;
  };
  Predictor p(r.get(), {});
  auto degradation = [&] { return p.Degradation(p.StalenessMs()); };

  ASSERT_TRUE(r->Apply(Full(at(7, 0, 1, 10), *r)).ok());
  EXPECT_EQ(degradation(), "fresh");
  ASSERT_TRUE(r->Apply(at(7, 1, 2, 10)).ok());
  // 3 arrived although its send reported an error; 4 builds on 2 as well
  // and follows 3 all the same.
  ASSERT_TRUE(r->Apply(at(7, 2, 3, 10)).ok());
  ASSERT_TRUE(r->Apply(at(7, 2, 4, 10)).ok());
  EXPECT_EQ(r->Apply(at(7, 2, 4, 10)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r->Apply(at(7, 1, 3, 10)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r->Apply(Full(at(7, 0, 4, 10), *r)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r->Apply(at(6, 0, 9, 10)).code(),
            absl::StatusCode::kFailedPrecondition);  // an older publisher
  EXPECT_EQ(r->Apply(at(7, 4, 4, 10)).code(),
            absl::StatusCode::kInvalidArgument);  // base not below version
  EXPECT_EQ(r->status().duplicates, 3);
  EXPECT_EQ(r->status().version, 4u);
  EXPECT_FALSE(r->status().gap_open);

  // 5 never arrives; 6 builds on it.
  absl::Status gap = r->Apply(at(7, 5, 6, 12));
  EXPECT_TRUE(IsSyncGap(gap)) << gap;
  EXPECT_TRUE(r->sync_gap());
  EXPECT_TRUE(r->status().gap_open);
  EXPECT_EQ(degradation(), "stale");
  EXPECT_TRUE(IsSyncGap(r->Apply(at(7, 6, 7, 12))));
  EXPECT_TRUE(IsSyncGap(r->Apply(at(8, 0, 1, 12))));  // a new epoch's delta
  EXPECT_EQ(r->status().version_gaps, 1);  // one gap, however many batches
  r->Read([&](const ServingReplica::View& v) {
    EXPECT_EQ(v.version(), 4u);
    float row[8];
    EXPECT_FALSE(v.table(0).Lookup(11, row));  // nothing of 6 or 7 applied
    ASSERT_TRUE(v.table(0).Lookup(3, row));
    EXPECT_EQ(row[0], 4.0f);
  });

  // A full batch of keys [0, 5) heals; keys 5..9 are gone, on both copies.
  ASSERT_TRUE(r->Apply(Full(at(7, 5, 8, 5), *r)).ok());
  EXPECT_FALSE(r->sync_gap());
  EXPECT_FALSE(r->status().gap_open);
  EXPECT_EQ(degradation(), "fresh");
  EXPECT_EQ(r->table_rows(0), 5);
  ASSERT_TRUE(r->Apply(at(7, 8, 9, 0)).ok());  // switches to the other copy
  EXPECT_EQ(r->table_rows(0), 5);
  r->Read([&](const ServingReplica::View& v) {
    float row[8];
    EXPECT_FALSE(v.table(0).Lookup(7, row));
    ASSERT_TRUE(v.table(0).Lookup(4, row));
    EXPECT_EQ(row[0], 8.0f);
  });

  // A new publisher's full batch takes over; the old one is dropped after.
  ASSERT_TRUE(r->Apply(Full(at(9, 0, 1, 3), *r)).ok());
  EXPECT_EQ(r->status().epoch, 9u);
  EXPECT_EQ(r->table_rows(0), 3);
  EXPECT_EQ(r->Apply(at(7, 9, 10, 10)).code(),
            absl::StatusCode::kFailedPrecondition);
  // A full batch must list every table.
  DeltaBatch partial = at(9, 1, 2, 3);
  partial.full = true;
  EXPECT_EQ(r->Apply(partial).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r->status().full_batches, 3);
}

// Appliers rewrite every row and the dense part with the version number while
// readers check that one request sees one version: every row and the dense
// parameters agree, and no row is torn. The loops are bounded by counts, not
// by time, so that a loaded machine (or ThreadSanitizer) slows the test down
// without making it fail: each reader makes kReads checks, and the applier
// goes on until both readers are done and at least kMinVersions were applied.
TEST(ServingReplicaTest, RequestsNeverSeeATornRowOrAMixOfVersions) {
  std::unique_ptr<ServingReplica> r = TinyReplica();
  size_t num_dense = 0;
  r->Read([&](const ServingReplica::View& v) {
    num_dense = v.dense().num_params();
  });
  const int kRows = 2000;
  const int kReaders = 2;
  const int64_t kReads = 200;
  const uint64_t kMinVersions = 30;
  ASSERT_TRUE(r->Apply(Uniform(1, kRows, num_dense)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> readers_done{0};
  std::atomic<int64_t> checks{0};
  std::atomic<int64_t> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(t);
      float row[8], w;
      for (int64_t n = 0; n < kReads; ++n) {
        r->Read([&](const ServingReplica::View& v) {
          const float version = static_cast<float>(v.version());
          if (v.dense().params()[0] != version) ++failures;
          for (int i = 0; i < 16; ++i) {
            const uint64_t key = rng() % kRows;
            v.table(0).Lookup(key, row);
            v.table(1).Lookup(key, &w);
            for (float x : row) {
              if (x != version) ++failures;
            }
            if (w != version) ++failures;
          }
        });
        ++checks;
      }
      ++readers_done;
    });
  }
  // Predictions run concurrently too, through the full request path, until
  // the readers and the applier are done (at least one).
  std::atomic<int64_t> predictions{0};
  std::thread predictor_thread([&] {
    Predictor p(r.get(), {});
    auto req = ParsePredictRequest(
        R"({"context": {"a": 7, "d": 1.5}, "candidates": [{"b": "x"}, {}]})",
        r->schema(), 1000);
    ASSERT_TRUE(req.ok()) << req.status();
    PredictResult res;
    do {
      ASSERT_TRUE(p.Predict(*req, &res).ok());
      ASSERT_EQ(res.scores.size(), 2u);
      ++predictions;
    } while (!stop.load());
  });
  uint64_t v = 2;
  while (v < 2 + kMinVersions || readers_done.load() < kReaders) {
    std::string bytes;
    EncodeDeltaBatch(Uniform(v++, kRows, num_dense), &bytes);
    ASSERT_TRUE(r->ApplyEncoded(bytes).ok());
  }
  stop.store(true);
  for (auto& t : readers) t.join();
  predictor_thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(checks.load(), 100);
  EXPECT_GT(v, 20u);
  EXPECT_GE(predictions.load(), 1);
}

TEST(PredictRequestTest, ParsesValuesAsTheRecordParsersHashThem) {
  std::unique_ptr<ServingReplica> r = TinyReplica();
  const Schema& s = r->schema();
  auto req = ParsePredictRequest(
      R"({"context": {"a": 42, "d": 2}, "candidates": [{"b": "x"}, {"b": ["y"]}]})",
      s, 10);
  ASSERT_TRUE(req.ok()) << req.status();
  ASSERT_EQ(req->context.slot_ids(0).size(), 1u);
  EXPECT_EQ(req->context.slot_ids(0)[0], FeatureId(s.slot(0).seed, "42"));
  EXPECT_TRUE(req->context.slot_ids(1).empty());
  EXPECT_EQ(req->context.dense[0], 2.0f);
  EXPECT_EQ(req->candidates[0].slot_ids(1)[0], FeatureId(s.slot(1).seed, "x"));
  EXPECT_EQ(req->candidates[1].slot_ids(1)[0], FeatureId(s.slot(1).seed, "y"));
  EXPECT_TRUE(std::isnan(req->candidates[0].dense[0]));

  auto code = [&](const std::string& body, int max = 10) {
    return ParsePredictRequest(body, s, max).status().code();
  };
  EXPECT_EQ(code("{not json"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(R"({"candidates": [{"zz": 1}]})"),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(R"({"candidates": []})"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(R"({"context": {}})"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(R"({"candidates": [{}, {}, {}]})", 2),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(code(R"({"candidates": [{"a": {"x": 1}}]})"),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(R"({"candidates": [{"a": [1, 2]}]})"),
            absl::StatusCode::kInvalidArgument);  // single-valued slot
  EXPECT_EQ(code(R"({"candidates": [{"d": "abc"}]})"),
            absl::StatusCode::kInvalidArgument);
  // A body nested absurdly deep is refused before it is walked.
  EXPECT_EQ(code("{\"candidates\": [{\"a\": " + std::string(50000, '[') +
                 std::string(50000, ']') + "}]}"),
            absl::StatusCode::kInvalidArgument);
  // Non-finite dense values are refused, whatever their spelling.
  for (const char* bad :
       {R"({"candidates": [{"d": 1e39}]})", R"({"candidates": [{"d": "inf"}]})",
        R"({"candidates": [{"d": "nan"}]})",
        R"({"context": {"d": "-Infinity"}, "candidates": [{}]})"}) {
    EXPECT_EQ(code(bad), absl::StatusCode::kInvalidArgument) << bad;
  }

  // A slot in both the context and a candidate is refused by Predict.
  auto both = ParsePredictRequest(
      R"({"context": {"a": 1}, "candidates": [{"a": 2}]})", s, 10);
  ASSERT_TRUE(both.ok());
  Predictor p(r.get(), {});
  PredictResult res;
  EXPECT_EQ(p.Predict(*both, &res).code(), absl::StatusCode::kInvalidArgument);
}

// A finite but huge input can overflow a model: the score is never answered
// (it would be a null in JSON, with "fresh"); Predict says why.
TEST(PredictorTest, NonFiniteScoresAreAnErrorNotAnAnswer) {
  std::unique_ptr<ServingReplica> r = TinyReplica();
  DeltaBatch b;
  b.version = 1;
  b.has_dense = true;
  r->Read([&](const ServingReplica::View& v) {
    b.dense.assign(v.dense().num_params(), 1e30f);
  });
  ASSERT_TRUE(r->Apply(b).ok());
  Predictor p(r.get(), {});
  PredictResult res;
  auto ok =
      ParsePredictRequest(R"({"candidates": [{"d": 1}]})", r->schema(), 10);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_TRUE(p.Predict(*ok, &res).ok());
  ASSERT_EQ(res.scores.size(), 1u);
  EXPECT_TRUE(std::isfinite(res.scores[0]));
  auto huge = ParsePredictRequest(R"({"candidates": [{"d": 1}, {"d": 1e10}]})",
                                  r->schema(), 10);
  ASSERT_TRUE(huge.ok()) << huge.status();
  const absl::Status st = p.Predict(*huge, &res);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal) << st;
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("candidates[1]"));
}

TEST(PredictorTest, ContextIsSharedAndStalenessIsReported) {
  std::unique_ptr<ServingReplica> r = TinyReplica();
  size_t num_dense = 0;
  r->Read([&](const ServingReplica::View& v) {
    num_dense = v.dense().num_params();
  });
  PredictorOptions opt;
  opt.stale_after_ms = 1000;
  Predictor p(r.get(), opt);
  auto req = ParsePredictRequest(
      R"({"context": {"a": 1}, "candidates": [{"b": "x"}, {"b": "x"}, {"b": "y"}]})",
      r->schema(), 10);
  ASSERT_TRUE(req.ok());
  PredictResult res;
  ASSERT_TRUE(p.Predict(*req, &res).ok());
  EXPECT_EQ(res.degradation, "stale");  // nothing applied yet
  EXPECT_EQ(res.model_version, 0u);

  DeltaBatch b;
  b.version = 1;
  b.created_unix_us = SystemClock::Default()->NowMicros();
  b.has_dense = true;
  r->Read([&](const ServingReplica::View& v) {
    absl::Span<const float> params = v.dense().params();
    b.dense.assign(params.begin(), params.end());
  });
  for (const char* name : {"a", "b"}) {
    DeltaTable t;
    t.name = name;
    t.dim = 8;
    t.keys = {FeatureId(r->schema().slot(name[0] - 'a').seed,
                        name[0] == 'a' ? "1" : "x")};
    t.weights = {0.5f, -0.5f, 0.25f, 1.0f, -1.0f, 0.1f, 0.2f, 0.3f};
    b.tables.push_back(t);
  }
  ASSERT_TRUE(r->Apply(b).ok());
  ASSERT_TRUE(p.Predict(*req, &res).ok());
  EXPECT_EQ(res.model_version, 1u);
  EXPECT_EQ(res.degradation, "fresh");
  EXPECT_GE(res.staleness_ms, 0);
  EXPECT_LT(res.staleness_ms, 1000);
  ASSERT_EQ(res.scores.size(), 3u);
  EXPECT_EQ(res.scores[0], res.scores[1]);  // same candidate, same score
  EXPECT_NE(res.scores[0], res.scores[2]);  // b=x has a row, b=y does not
}

}  // namespace
}  // namespace freshet
