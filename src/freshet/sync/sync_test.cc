#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "freshet/base/hash.h"
#include "freshet/data/schema.h"
#include "freshet/store/local_store.h"
#include "freshet/sync/delta_batch.h"
#include "freshet/sync/delta_merge.h"
#include "freshet/sync/delta_sink.h"
#include "freshet/sync/fp16.h"
#include "freshet/sync/sync_publisher.h"

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
    if (b->full) tables.clear();  // a full batch holds every row
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

// A fixed batch with an fp32 and an fp16 table, deletions and a dense part.
DeltaBatch GoldenBatch() {
  DeltaBatch b;
  b.shard = 2;
  b.epoch = 1700000000123456;
  b.base_version = 40;
  b.version = 42;
  b.created_unix_us = 1700000000000000;
  b.oldest_update_unix_us = 1699999999000000;
  b.examples = 123456;
  b.has_dense = true;
  b.dense = {0.5f, -1.25f, 3.0e-5f};
  DeltaTable a;
  a.name = "C1";
  a.dim = 3;
  a.deleted_keys = {9, 0xfedcba9876543210};
  a.keys = {1, 2};
  a.weights = {0.1f, 0.2f, 0.3f, -0.4f, 0.5f, 1e-3f};
  b.tables.push_back(a);
  DeltaTable h;
  h.name = "C2";
  h.dim = 2;
  h.precision = WeightPrecision::kFp16;
  h.deleted_keys = {7};
  h.keys = {5, 6, 8};
  h.weights = {1.0f, -2.0f, 0.333f, 65504.0f, -0.0f, 1e-6f};
  b.tables.push_back(h);
  DeltaTable w;
  w.name = "C1/wide";
  w.dim = 1;
  b.tables.push_back(w);  // nothing changed
  return b;
}

// The byte form is a format: these bytes must not change unless the format
// does (then bump DeltaBatch::kFormatVersion, update docs/sync_format.md and
// regenerate with FRESHET_UPDATE_GOLDEN=1 build/freshet_sync_test
// --gtest_filter='*Golden*').
TEST(DeltaBatchTest, BytesEqualTheGoldenFile) {
  const std::string path =
      std::string(FRESHET_SOURCE_DIR) + "/tests/golden/delta_batch_v2.bin";
  const DeltaBatch b = GoldenBatch();
  std::string bytes;
  EncodeDeltaBatch(b, &bytes);
  const char* update = std::getenv("FRESHET_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path << " is missing";
  std::stringstream golden;
  golden << in.rdbuf();
  const std::string want = golden.str();
  ASSERT_EQ(bytes.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(bytes[i], want[i]) << "first difference at byte " << i;
  }
  // And the golden bytes read back as the batch (fp16 weights rounded).
  absl::StatusOr<DeltaBatch> d = DecodeDeltaBatch(want);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->epoch, b.epoch);
  EXPECT_EQ(d->base_version, 40u);
  EXPECT_EQ(d->version, 42u);
  EXPECT_FALSE(d->full);
  EXPECT_EQ(d->dense, b.dense);
  ASSERT_EQ(d->tables.size(), 3u);
  EXPECT_EQ(d->tables[0].weights, b.tables[0].weights);
  EXPECT_EQ(d->tables[1].deleted_keys, b.tables[1].deleted_keys);
  EXPECT_EQ(d->tables[1].keys, b.tables[1].keys);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(d->tables[1].weights[i], RoundToHalf(b.tables[1].weights[i]));
  }
}

TEST(DeltaBatchTest, FullFlagRoundTripsAndUnknownFlagsAreRefused) {
  DeltaBatch b = GoldenBatch();
  b.full = true;
  std::string bytes;
  EncodeDeltaBatch(b, &bytes);
  absl::StatusOr<DeltaBatch> d = DecodeDeltaBatch(bytes);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->full);
  EXPECT_TRUE(d->has_dense);
  // Flags are bytes 12..15; set bit 2 and fix the checksum.
  bytes[12] |= 4;
  const uint64_t sum = XXH3_64bits(bytes.data(), bytes.size() - 8);
  std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
  EXPECT_EQ(DecodeDeltaBatch(bytes).status().code(),
            absl::StatusCode::kDataLoss);
}

// Format 1 (no epoch, no base version) is still read: its batches were
// consecutive, each built on the one before.
TEST(DeltaBatchTest, ReadsFormat1) {
  std::string v1("FSDB", 4);
  auto put = [&v1](auto v) {
    v1.append(reinterpret_cast<const char*>(&v), sizeof(v));
  };
  put(uint32_t{1});    // format
  put(uint32_t{3});    // shard
  put(uint32_t{1});    // flags: dense
  put(uint64_t{9});    // version
  put(int64_t{1000});  // created
  put(int64_t{900});   // oldest
  put(int64_t{77});    // examples
  put(uint32_t{1});    // tables
  put(uint16_t{1});
  v1 += "a";
  put(uint8_t{0});  // fp32
  put(uint8_t{0});
  put(uint16_t{2});  // dim
  put(uint64_t{1});  // deleted
  put(uint64_t{1});  // rows
  put(uint64_t{5});
  put(uint64_t{6});
  put(1.5f);
  put(-2.5f);
  put(uint64_t{1});  // dense count
  put(0.25f);
  put(static_cast<uint64_t>(XXH3_64bits(v1.data(), v1.size())));
  absl::StatusOr<DeltaBatch> d = DecodeDeltaBatch(v1);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->shard, 3u);
  EXPECT_EQ(d->epoch, 0u);
  EXPECT_EQ(d->version, 9u);
  EXPECT_EQ(d->base_version, 8u);
  EXPECT_FALSE(d->full);
  EXPECT_EQ(d->examples, 77);
  ASSERT_EQ(d->tables.size(), 1u);
  EXPECT_EQ(d->tables[0].deleted_keys, std::vector<uint64_t>{5});
  EXPECT_EQ(d->tables[0].keys, std::vector<uint64_t>{6});
  EXPECT_EQ(d->tables[0].weights, (std::vector<float>{1.5f, -2.5f}));
  EXPECT_EQ(d->dense, std::vector<float>{0.25f});
}

DeltaTable Part(std::vector<uint64_t> deleted, std::vector<uint64_t> keys,
                float w) {
  DeltaTable t;
  t.name = "t";
  t.dim = 2;
  t.deleted_keys = std::move(deleted);
  t.keys = std::move(keys);
  for (size_t i = 0; i < t.keys.size(); ++i) {
    t.weights.push_back(w + t.keys[i]);
    t.weights.push_back(-w);
  }
  return t;
}

// Applies `batch` (deletions first) to a map of rows.
void ApplyToMap(const DeltaBatch& batch,
                std::map<uint64_t, std::vector<float>>* rows) {
  if (batch.full) rows->clear();
  for (const DeltaTable& t : batch.tables) {
    for (uint64_t k : t.deleted_keys) rows->erase(k);
    for (size_t i = 0; i < t.keys.size(); ++i) {
      (*rows)[t.keys[i]].assign(t.weights.begin() + i * t.dim,
                                t.weights.begin() + (i + 1) * t.dim);
    }
  }
}

TEST(DeltaMergeTest, LaterChangeWinsAndTheNetEffectIsKept) {
  // Starting rows 1..9; older: delete 1, 2, 8, re-insert 2, upsert 3, 4, 5;
  // newer: upsert 4 and 1, delete 5 and 2, delete and re-insert 6.
  std::map<uint64_t, std::vector<float>> base;
  for (uint64_t k = 1; k < 10; ++k) base[k] = {0.0f, 0.0f};
  DeltaBatch older, newer;
  older.tables.push_back(Part({1, 2, 8}, {2, 3, 4, 5}, 10.0f));
  older.has_dense = true;
  older.dense = {1.0f};
  older.oldest_update_unix_us = 100;
  newer.tables.push_back(Part({5, 2, 6}, {4, 1, 6}, 20.0f));
  newer.oldest_update_unix_us = 200;
  newer.version = 5;
  newer.base_version = 3;

  std::map<uint64_t, std::vector<float>> one_by_one = base, merged = base;
  ApplyToMap(older, &one_by_one);
  ApplyToMap(newer, &one_by_one);
  MergeOlderInto(older, &newer);
  ApplyToMap(newer, &merged);
  EXPECT_EQ(merged, one_by_one);

  const DeltaTable& t = newer.tables[0];
  // No key both deleted and upserted, none twice.
  EXPECT_THAT(t.deleted_keys, ::testing::UnorderedElementsAre(5, 2, 8));
  EXPECT_THAT(t.keys, ::testing::UnorderedElementsAre(3, 4, 1, 6));
  EXPECT_EQ(t.weights.size(), t.keys.size() * 2);
  EXPECT_TRUE(newer.has_dense);  // older's dense part, newer had none
  EXPECT_EQ(newer.dense, std::vector<float>{1.0f});
  EXPECT_EQ(newer.oldest_update_unix_us, 100);  // the older stamp
  EXPECT_EQ(newer.version, 5u);                 // newer's header
  EXPECT_EQ(newer.base_version, 3u);

  // Merging into a batch with its own dense part keeps that one.
  DeltaBatch newest;
  newest.has_dense = true;
  newest.dense = {2.0f};
  newest.tables.push_back(Part({}, {}, 0.0f));
  MergeOlderInto(newer, &newest);
  EXPECT_EQ(newest.dense, std::vector<float>{2.0f});
  ApplyToMap(newest, &merged);
  EXPECT_EQ(merged, one_by_one);
}

// A sink that fails (or delivers and then reports failure) on chosen sends.
class FlakySink : public DeltaSink {
 public:
  FlakySink(MirrorSink* mirror, std::vector<int> fail,
            std::vector<int> ambiguous)
      : mirror_(mirror),
        fail_(std::move(fail)),
        ambiguous_(std::move(ambiguous)) {}
  absl::Status Send(std::string_view encoded, const DeltaBatch& b) override {
    ++sends;
    auto has = [this](const std::vector<int>& v) {
      return std::find(v.begin(), v.end(), sends) != v.end();
    };
    if (has(fail_)) return absl::UnavailableError("down");
    absl::Status s = mirror_->Send(encoded, b);
    if (has(ambiguous_)) return absl::DeadlineExceededError("timed out");
    return s;
  }
  int sends = 0;

 private:
  MirrorSink* mirror_;
  std::vector<int> fail_, ambiguous_;
};

std::unique_ptr<LocalStore> SmallModel() {
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
  auto model = LocalStore::Create(*job, *schema, 1);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(*model);
}

void ExpectMirrorEqualsTables(const LocalStore& model, const MirrorSink& sink) {
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
  std::unique_ptr<LocalStore> model = SmallModel();
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

// Rows changed while the sink was down reach it once it is back, deletions
// and dense part included; the batch after a success carries only what
// changed since.
TEST(SyncPublisherTest, FailedSendsKeepTheirRowsUntilTheSinkTakesThem) {
  std::unique_ptr<LocalStore> model = SmallModel();
  MirrorSink mirror;
  FlakySink sink(&mirror, /*fail=*/{2, 3, 4}, /*ambiguous=*/{6});
  SyncPublisher publisher(model.get(), &sink, {});
  std::mt19937_64 rng(9);
  std::vector<float> out, grads;
  for (int round = 1; round <= 8; ++round) {
    for (int i = 0; i < model->num_tables(); ++i) {
      EmbeddingTable& t = model->table(i);
      std::vector<uint64_t> keys(500);
      for (uint64_t& k : keys) k = rng() % 5000;
      out.resize(keys.size() * t.dim());
      ASSERT_TRUE(t.Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
      grads.assign(keys.size() * t.dim(), 0.01f * round);
      ASSERT_TRUE(t.Apply(keys, grads, round).ok());
      for (int e = 0; e < 20; ++e) t.Erase(keys[e]);
    }
    model->dense().params()[0] = static_cast<float>(round);
    publisher.OnBatch(*model, round, MonotonicSeconds());
    absl::StatusOr<uint64_t> v = publisher.PublishNow();
    const SyncStats s = publisher.stats();
    if (round >= 2 && round <= 4) {
      EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable);
      EXPECT_GT(s.pending_rows, 0);
      EXPECT_EQ(s.acked_version, 1u);
      continue;
    }
    if (round == 6) {
      EXPECT_FALSE(v.ok());  // delivered all the same
    } else {
      ASSERT_TRUE(v.ok()) << v.status();
      EXPECT_EQ(s.pending_rows, 0);
      EXPECT_EQ(s.acked_version, *v);
    }
    ExpectMirrorEqualsTables(*model, mirror);
    EXPECT_EQ(mirror.dense[0], static_cast<float>(round));
    if (round == 8) {
      // Nothing failed before it: only this round's rows (500 draws a
      // table), where the merged batches held many rounds' worth.
      EXPECT_LE(s.last_rows, 500 * model->num_tables());
    }
  }
  const SyncStats s = publisher.stats();
  EXPECT_EQ(s.batches, 8);
  EXPECT_EQ(s.failed, 4);
  EXPECT_EQ(s.full_batches, 1);  // the first; failures are merged, not full
}

// The first batch of a publisher is full (it may follow another one's), and
// so is the next batch after the sink reports a gap or RequestFull().
TEST(SyncPublisherTest, FullBatchesFirstAfterAGapAndOnRequest) {
  std::unique_ptr<LocalStore> model = SmallModel();
  std::vector<uint64_t> keys = {1, 2, 3};
  std::vector<float> out(3 * model->table(0).dim());
  ASSERT_TRUE(model->table(0)
                  .Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain)
                  .ok());
  class Recorder : public DeltaSink {
   public:
    absl::Status Send(std::string_view, const DeltaBatch& b) override {
      full.push_back(b.full);
      rows.push_back(b.num_rows());
      base.push_back(b.base_version);
      epoch = b.epoch;
      return answers.empty() ? absl::OkStatus() : Next();
    }
    bool wants_bytes() const override { return false; }
    absl::Status Next() {
      absl::Status s = answers.front();
      answers.erase(answers.begin());
      return s;
    }
    std::vector<bool> full;
    std::vector<int64_t> rows;
    std::vector<uint64_t> base;
    uint64_t epoch = 0;
    std::vector<absl::Status> answers;
  } sink;
  SyncPublisherOptions opt;
  opt.epoch = 77;
  SyncPublisher publisher(model.get(), &sink, opt);
  sink.answers = {absl::OkStatus(),        absl::OkStatus(),
                  SyncGapError("missing"), absl::OkStatus(),
                  absl::OkStatus(),        absl::AlreadyExistsError("dup"),
                  absl::OkStatus()};
  for (int i = 0; i < 5; ++i) publisher.PublishNow().IgnoreError();
  publisher.RequestFull();
  publisher.PublishNow().IgnoreError();
  publisher.PublishNow().IgnoreError();
  EXPECT_EQ(sink.epoch, 77u);
  EXPECT_THAT(sink.full, ::testing::ElementsAre(true, false, false, true, false,
                                                true, false));
  // Full batches hold every row (3 in table 0), deltas only changes (none).
  EXPECT_THAT(sink.rows, ::testing::ElementsAre(3, 0, 0, 3, 0, 3, 0));
  // The gap report is not an acknowledgement; a duplicate report is.
  EXPECT_THAT(sink.base, ::testing::ElementsAre(0, 1, 2, 2, 4, 5, 6));
  EXPECT_EQ(publisher.stats().gaps, 1);
  EXPECT_EQ(publisher.stats().full_batches, 3);
}

TEST(SyncPublisherTest, BackgroundThreadPublishesEveryIntervalAndOnStop) {
  std::unique_ptr<LocalStore> model = SmallModel();
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
