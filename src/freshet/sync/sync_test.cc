#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "freshet/base/hash.h"
#include "freshet/data/schema.h"
#include "freshet/sync/delta_batch.h"
#include "freshet/sync/fp16.h"
#include "freshet/sync/sync_publisher.h"
#include "freshet/train/rec_model.h"

namespace freshet {
namespace {

TEST(Fp16Test, KnownValues) {
  EXPECT_EQ(FloatToHalfSoftware(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalfSoftware(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalfSoftware(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalfSoftware(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(FloatToHalfSoftware(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(FloatToHalfSoftware(std::ldexp(1.0f, -25)), 0x0000);  // tie → even
  EXPECT_EQ(FloatToHalfSoftware(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(FloatToHalfSoftware(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(HalfToFloatSoftware(0x3555), 0.333251953125f);
  EXPECT_EQ(HalfToFloatSoftware(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isnan(HalfToFloatSoftware(FloatToHalfSoftware(NAN))));
}

TEST(Fp16Test, SoftwareMatchesHardwareOnEveryHalfAndRandomFloats) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = HalfToFloatSoftware(static_cast<uint16_t>(h));
    const float g = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(g));
      continue;
    }
    ASSERT_EQ(std::memcmp(&f, &g, 4), 0) << h;
    ASSERT_EQ(FloatToHalfSoftware(f), h) << h;  // exact round trip
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 1000000; ++i) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalfSoftware(f), FloatToHalf(f)) << f;
  }
}

DeltaBatch SampleBatch(WeightPrecision precision) {
  DeltaBatch b;
  b.shard = 3;
  b.version = 42;
  b.created_unix_us = 1700000000000000;
  b.oldest_update_unix_us = 1699999999000000;
  b.examples = 123456;
  b.has_dense = true;
  b.dense = {0.5f, -1.25f, 3.0e-5f};
  DeltaTable t;
  t.name = "C1";
  t.dim = 3;
  t.precision = precision;
  t.deleted_keys = {9, 10};
  t.keys = {1, 2};
  t.weights = {0.1f, 0.2f, 0.3f, -0.4f, 0.5f, 1e-3f};
  b.tables.push_back(t);
  DeltaTable w;
  w.name = "C1/wide";
  w.dim = 1;
  b.tables.push_back(w);  // empty table part
  return b;
}

TEST(DeltaBatchTest, RoundTripFp32IsExact) {
  DeltaBatch b = SampleBatch(WeightPrecision::kFp32);
  std::string bytes;
  EncodeDeltaBatch(b, &bytes);
  EXPECT_EQ(EncodedDeltaBatchSize(b), static_cast<int64_t>(bytes.size()));
  absl::StatusOr<DeltaBatch> d = DecodeDeltaBatch(bytes);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->shard, 3u);
  EXPECT_EQ(d->version, 42u);
  EXPECT_EQ(d->created_unix_us, b.created_unix_us);
  EXPECT_EQ(d->oldest_update_unix_us, b.oldest_update_unix_us);
  EXPECT_EQ(d->examples, 123456);
  EXPECT_TRUE(d->has_dense);
  EXPECT_EQ(d->dense, b.dense);
  ASSERT_EQ(d->tables.size(), 2u);
  EXPECT_EQ(d->tables[0].name, "C1");
  EXPECT_EQ(d->tables[0].dim, 3);
  EXPECT_EQ(d->tables[0].deleted_keys, b.tables[0].deleted_keys);
  EXPECT_EQ(d->tables[0].keys, b.tables[0].keys);
  EXPECT_EQ(d->tables[0].weights, b.tables[0].weights);
  EXPECT_EQ(d->tables[1].name, "C1/wide");
  EXPECT_TRUE(d->tables[1].keys.empty());
  EXPECT_EQ(d->num_rows(), 2);
  EXPECT_EQ(d->num_deleted(), 2);
}

TEST(DeltaBatchTest, Fp16WeightsAreRoundedAndHalfTheSize) {
  DeltaBatch b = SampleBatch(WeightPrecision::kFp16);
  std::string half, full;
  EncodeDeltaBatch(b, &half);
  EXPECT_EQ(EncodedDeltaBatchSize(b), static_cast<int64_t>(half.size()));
  b.tables[0].precision = WeightPrecision::kFp32;
  EncodeDeltaBatch(b, &full);
  EXPECT_EQ(full.size() - half.size(), 6u * 2);
  absl::StatusOr<DeltaBatch> d = DecodeDeltaBatch(half);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->tables[0].weights.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(d->tables[0].weights[i], RoundToHalf(b.tables[0].weights[i]));
  }
  EXPECT_NE(d->tables[0].weights[0], b.tables[0].weights[0]);  // 0.1 rounds
}

TEST(DeltaBatchTest, HeartbeatWithoutDense) {
  DeltaBatch b;
  b.version = 7;
  std::string bytes;
  EncodeDeltaBatch(b, &bytes);
  absl::StatusOr<DeltaBatch> d = DecodeDeltaBatch(bytes);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->has_dense);
  EXPECT_EQ(d->version, 7u);
  EXPECT_EQ(d->oldest_update_unix_us, 0);
}

TEST(DeltaBatchTest, EveryFlippedByteAndEveryTruncationIsAnError) {
  std::string bytes;
  EncodeDeltaBatch(SampleBatch(WeightPrecision::kFp16), &bytes);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x20;
    EXPECT_FALSE(DecodeDeltaBatch(bad).ok()) << "byte " << i;
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeDeltaBatch(bytes.substr(0, n)).ok()) << "length " << n;
  }
  EXPECT_TRUE(DecodeDeltaBatch(bytes).ok());
}

// A sink that decodes every batch and keeps a mirror of the training tables.
class MirrorSink : public DeltaSink {
 public:
  absl::Status Send(std::string_view encoded, const DeltaBatch&) override {
    absl::StatusOr<DeltaBatch> b = DecodeDeltaBatch(encoded);
    if (!b.ok()) return b.status();
    versions.push_back(b->version);
    if (b->has_dense) dense = b->dense;
    for (const DeltaTable& t : b->tables) {
      auto& rows = tables[t.name];
      for (uint64_t k : t.deleted_keys) rows.erase(k);
      for (size_t i = 0; i < t.keys.size(); ++i) {
        rows[t.keys[i]].assign(t.weights.begin() + i * t.dim,
                               t.weights.begin() + (i + 1) * t.dim);
      }
    }
    return absl::OkStatus();
  }
  std::vector<uint64_t> versions;
  std::vector<float> dense;
  std::map<std::string, absl::flat_hash_map<uint64_t, std::vector<float>>>
      tables;
};

std::unique_ptr<RecModel> SmallModel() {
  absl::StatusOr<JobConfig> job = ParseJobConfig(
      "schema:\n"
      "  label: label\n"
      "  slots: [a, b]\n"
      "tables:\n"
      "  - {name: a, dim: 4}\n"
      "  - {name: b, dim: 4, serving_precision: fp16}\n"
      "model: {type: fm}\n"
      "source: {type: generator}\n",
      "test.yaml", "");
  EXPECT_TRUE(job.ok()) << job.status();
  auto schema = Schema::Compile(job->schema);
  EXPECT_TRUE(schema.ok()) << schema.status();
  auto model = RecModel::Create(*job, *schema, 1);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(*model);
}

void ExpectMirrorEqualsTables(const RecModel& model, const MirrorSink& sink) {
  for (int i = 0; i < model.num_tables(); ++i) {
    const EmbeddingTable& t = model.table(i);
    const bool fp16 = t.spec().serving_precision == "fp16";
    auto it = sink.tables.find(t.spec().name);
    ASSERT_NE(it, sink.tables.end()) << t.spec().name;
    EXPECT_EQ(static_cast<int64_t>(it->second.size()), t.size())
        << t.spec().name;
    t.ForEachRow([&](const RowView& row) {
      auto r = it->second.find(row.key);
      ASSERT_NE(r, it->second.end()) << t.spec().name << " key " << row.key;
      for (size_t k = 0; k < row.weights.size(); ++k) {
        const float want = fp16 ? RoundToHalf(row.weights[k]) : row.weights[k];
        ASSERT_EQ(r->second[k], want) << t.spec().name << " key " << row.key;
      }
    });
  }
}

TEST(SyncPublisherTest, NoUpdateIsDroppedHoweverManyRowsChange) {
  std::unique_ptr<RecModel> model = SmallModel();
  MirrorSink sink;
  SyncPublisher publisher(model.get(), &sink, {});
  std::mt19937_64 rng(5);
  std::vector<float> out;
  std::vector<float> grads;
  for (int round = 0; round < 6; ++round) {
    // Rounds touch from a few rows to 200k rows per table.
    const size_t n = round % 2 == 0 ? 200000 : 37;
    for (int i = 0; i < model->num_tables(); ++i) {
      EmbeddingTable& t = model->table(i);
      std::vector<uint64_t> keys(n);
      for (uint64_t& k : keys) k = rng() % 300000;
      out.resize(n * t.dim());
      ASSERT_TRUE(t.Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
      grads.assign(n * t.dim(), 0.01f * (round + 1));
      ASSERT_TRUE(t.Apply(keys, grads, round).ok());
      // Deletions too.
      for (size_t e = 0; e < std::min<size_t>(50, n); ++e) t.Erase(keys[e]);
    }
    model->dense().params()[0] = static_cast<float>(round);
    publisher.OnBatch(*model, round, MonotonicSeconds());
    ASSERT_TRUE(publisher.PublishNow().ok());
    ExpectMirrorEqualsTables(*model, sink);
    ASSERT_EQ(sink.dense.size(), model->dense().num_params());
    EXPECT_EQ(sink.dense[0], static_cast<float>(round));
  }
  // Versions are consecutive from 1.
  for (size_t i = 0; i < sink.versions.size(); ++i) {
    EXPECT_EQ(sink.versions[i], i + 1);
  }
  const SyncStats s = publisher.stats();
  EXPECT_EQ(s.batches, 6);
  EXPECT_GT(s.rows, 600000);
  EXPECT_GT(s.deleted, 0);
}

TEST(SyncPublisherTest, BackgroundThreadPublishesEveryIntervalAndOnStop) {
  std::unique_ptr<RecModel> model = SmallModel();
  MirrorSink sink;
  SyncPublisherOptions opt;
  opt.interval_s = 0.02;
  SyncPublisher publisher(model.get(), &sink, opt);
  publisher.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Changed after the last periodic batch: must still arrive, by Stop().
  std::vector<uint64_t> keys = {1, 2, 3};
  std::vector<float> out(3 * model->table(0).dim());
  ASSERT_TRUE(model->table(0)
                  .Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain)
                  .ok());
  publisher.Stop();
  const SyncStats s = publisher.stats();
  EXPECT_GE(s.batches, 5);  // ~15 expected; loose for loaded machines
  EXPECT_LE(s.batches, 40);
  ExpectMirrorEqualsTables(*model, sink);
  EXPECT_EQ(s.last_version, sink.versions.back());
}

}  // namespace
}  // namespace freshet
