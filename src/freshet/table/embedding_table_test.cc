#include "freshet/table/embedding_table.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "freshet/base/hash.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

TableSpec Spec(int dim, const std::string& optimizer = "sgd") {
  TableSpec spec;
  spec.name = "t";
  spec.dim = dim;
  spec.initializer.type = "normal";
  spec.initializer.stddev = 0.1;
  spec.optimizer.type = optimizer;
  spec.optimizer.learning_rate = 1.0;
  return spec;
}

std::unique_ptr<EmbeddingTable> Make(const TableSpec& spec,
                                     EmbeddingTableOptions options = {}) {
  auto table = EmbeddingTable::Create(spec, options);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(*table);
}

std::vector<float> LookupOne(EmbeddingTable* t, uint64_t key,
                             LookupMode mode = LookupMode::kServe,
                             int64_t now = EmbeddingTable::kNoEventTime) {
  std::vector<float> out(t->dim());
  EXPECT_TRUE(t->Lookup({key}, absl::MakeSpan(out), mode, now).ok());
  return out;
}

TEST(EmbeddingTableTest, RejectsBadSpecsAndSizes) {
  EXPECT_FALSE(EmbeddingTable::Create(Spec(0)).ok());
  EXPECT_FALSE(EmbeddingTable::Create(Spec(4, "nope")).ok());
  TableSpec spec = Spec(4);
  spec.admission.min_count = 70000;
  EXPECT_FALSE(EmbeddingTable::Create(spec).ok());
  spec = Spec(4);
  spec.initializer.type = "gaussian";
  EXPECT_FALSE(EmbeddingTable::Create(spec).ok());
  auto t = Make(Spec(4));
  std::vector<float> out(7);
  EXPECT_EQ(t->Lookup({1, 2}, absl::MakeSpan(out), LookupMode::kTrain).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t->Apply({1, 2}, out, 0).code(),
            absl::StatusCode::kInvalidArgument);
}

// Keys that agree in their low 32 or 48 bits (what a table truncating keys
// would merge) keep separate rows and separate weights.
TEST(EmbeddingTableTest, CollisionFree) {
  auto t = Make(Spec(2));
  std::vector<uint64_t> keys;
  for (uint64_t hi = 0; hi < 64; ++hi) {
    keys.push_back((hi << 32) | 0xDEADBEEFull);      // same low 32 bits
    keys.push_back((hi << 48) | 0x123456789ABCull);  // same low 48 bits
  }
  // Plus random keys, enough that some share 32-bit index hashes.
  uint64_t x = 1;
  for (int i = 0; i < 100000; ++i) keys.push_back(x = Mix64(x + i));
  std::vector<float> out(keys.size() * 2);
  ASSERT_TRUE(t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  EXPECT_EQ(t->size(), static_cast<int64_t>(keys.size()));
  // Tag each row with its position by a distinct gradient.
  std::vector<float> grads(keys.size() * 2);
  for (size_t i = 0; i < keys.size(); ++i) {
    grads[2 * i] = out[2 * i] - static_cast<float>(i);  // w - g = i
    grads[2 * i + 1] = 0;
  }
  ASSERT_TRUE(t->Apply(keys, grads, 1).ok());
  ASSERT_TRUE(t->Lookup(keys, absl::MakeSpan(out), LookupMode::kServe).ok());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_NEAR(out[2 * i], static_cast<float>(i), 0.02) << "key " << keys[i];
  }
  EXPECT_TRUE(t->CheckInvariants().ok()) << t->CheckInvariants();
}

TEST(EmbeddingTableTest, InitIsDeterministicPerKeyAndServeDoesNotInsert) {
  auto a = Make(Spec(8));
  auto b = Make(Spec(8));
  // Serve lookups of unknown keys return the default (zeros) and insert
  // nothing.
  EXPECT_EQ(LookupOne(a.get(), 5), std::vector<float>(8, 0.0f));
  EXPECT_EQ(a->size(), 0);
  std::vector<uint64_t> keys = {1, 2, 3, 4, 5};
  std::vector<uint64_t> reversed(keys.rbegin(), keys.rend());
  std::vector<float> out(40);
  ASSERT_TRUE(a->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  ASSERT_TRUE(
      b->Lookup(reversed, absl::MakeSpan(out), LookupMode::kTrain).ok());
  for (uint64_t k : keys) {
    std::vector<float> wa = LookupOne(a.get(), k), wb = LookupOne(b.get(), k);
    EXPECT_EQ(wa, wb);
    EXPECT_NE(wa, std::vector<float>(8, 0.0f));
  }
  EXPECT_NE(LookupOne(a.get(), 1), LookupOne(a.get(), 2));
  // A constant initializer is also the default of unknown keys.
  TableSpec spec = Spec(3);
  spec.initializer.type = "constant";
  spec.initializer.value = 0.5;
  auto c = Make(spec);
  EXPECT_EQ(LookupOne(c.get(), 9), std::vector<float>(3, 0.5f));
}

TEST(EmbeddingTableTest, ApplyUsesTheTableOptimizer) {
  TableSpec spec = Spec(4, "adagrad");
  spec.optimizer.learning_rate = 0.1;
  auto t = Make(spec);
  auto opt = SparseOptimizer::Create(spec.optimizer, 4);
  ASSERT_TRUE(opt.ok());
  std::vector<float> w = LookupOne(t.get(), 42, LookupMode::kTrain, 0);
  std::vector<float> state(4);
  opt->InitState(state.data());
  const std::vector<float> g = {0.5f, -1.0f, 0.25f, 2.0f};
  // The same key twice in one batch is updated twice, in order.
  std::vector<float> gg = g;
  gg.insert(gg.end(), g.begin(), g.end());
  ASSERT_TRUE(t->Apply({42, 42}, gg, 10).ok());
  opt->Update(w.data(), state.data(), g.data());
  opt->Update(w.data(), state.data(), g.data());
  EXPECT_EQ(LookupOne(t.get(), 42), w);
  EXPECT_EQ(t->Stats().applied, 2);
  // Gradients of keys without a row are dropped and counted.
  ASSERT_TRUE(t->Apply({43}, g, 10).ok());
  EXPECT_EQ(t->Stats().dropped_gradients, 1);
  EXPECT_FALSE(t->Contains(43));
}

TEST(EmbeddingTableTest, AdmissionByCount) {
  TableSpec spec = Spec(2);
  spec.admission.min_count = 3;
  auto t = Make(spec);
  const std::vector<float> zero(2, 0.0f);
  EXPECT_EQ(LookupOne(t.get(), 7, LookupMode::kTrain), zero);
  EXPECT_EQ(LookupOne(t.get(), 7, LookupMode::kTrain), zero);
  EXPECT_FALSE(t->Contains(7));
  ASSERT_TRUE(t->Apply({7}, {1.0f, 1.0f}, 0).ok());
  EXPECT_EQ(t->Stats().dropped_gradients, 1);
  // Serve lookups do not count as sightings.
  LookupOne(t.get(), 7, LookupMode::kServe);
  EXPECT_FALSE(t->Contains(7));
  EXPECT_NE(LookupOne(t.get(), 7, LookupMode::kTrain), zero);
  EXPECT_TRUE(t->Contains(7));
  const TableStats stats = t->Stats();
  EXPECT_EQ(stats.not_admitted, 2);
  EXPECT_EQ(stats.inserts, 1);
  EXPECT_EQ(stats.default_lookups, 3);
}

// 16-bit counters: the largest threshold, 65535, is reachable, and one short
// of it is not enough.
TEST(EmbeddingTableTest, AdmissionThresholdUpTo65535) {
  TableSpec spec = Spec(1);
  spec.admission.min_count = 65535;
  auto t = Make(spec);
  std::vector<uint64_t> keys(65534, 99);
  std::vector<float> out(keys.size());
  ASSERT_TRUE(t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  EXPECT_FALSE(t->Contains(99));
  LookupOne(t.get(), 99, LookupMode::kTrain);
  EXPECT_TRUE(t->Contains(99));
  EXPECT_EQ(t->Stats().not_admitted, 65534);
}

TEST(EmbeddingTableTest, AdmissionCountsDecayInEventTime) {
  TableSpec spec = Spec(1);
  spec.admission.min_count = 4;
  spec.admission.decay_half_life_s = 1.0;
  auto t = Make(spec);
  for (int i = 0; i < 3; ++i) LookupOne(t.get(), 5, LookupMode::kTrain, 0);
  // Ten half-lives later the three sightings are forgotten.
  LookupOne(t.get(), 5, LookupMode::kTrain, 10000);
  EXPECT_FALSE(t->Contains(5));
  for (int i = 0; i < 2; ++i) LookupOne(t.get(), 5, LookupMode::kTrain, 10000);
  EXPECT_FALSE(t->Contains(5));
  LookupOne(t.get(), 5, LookupMode::kTrain, 10000);
  EXPECT_TRUE(t->Contains(5));
}

TEST(EmbeddingTableTest, AdmissionByProbabilityIsSeededAndAboutRight) {
  TableSpec spec = Spec(1);
  spec.admission.probability = 0.25;
  auto a = Make(spec);
  auto b = Make(spec);
  std::vector<uint64_t> keys(20000);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = Mix64(i + 1);
  std::vector<float> out(keys.size());
  ASSERT_TRUE(a->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  ASSERT_TRUE(b->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  const double admitted = static_cast<double>(a->size()) / keys.size();
  EXPECT_GT(admitted, 0.22);
  EXPECT_LT(admitted, 0.28);
  EXPECT_EQ(a->size(), b->size());
  for (uint64_t k : keys) ASSERT_EQ(a->Contains(k), b->Contains(k));
}

TEST(EmbeddingTableTest, ExpiryByEventTimeIsIncremental) {
  TableSpec spec = Spec(2);
  spec.ttl_ms = 1000;
  EmbeddingTableOptions options;
  options.num_stripes = 4;
  auto t = Make(spec, options);
  std::vector<uint64_t> old_keys, fresh_keys;
  for (uint64_t k = 1; k <= 500; ++k) old_keys.push_back(k);
  for (uint64_t k = 1001; k <= 1500; ++k) fresh_keys.push_back(k);
  std::vector<float> out(1000);
  ASSERT_TRUE(
      t->Lookup(old_keys, absl::MakeSpan(out), LookupMode::kTrain, 0).ok());
  ASSERT_TRUE(
      t->Lookup(fresh_keys, absl::MakeSpan(out), LookupMode::kTrain, 0).ok());
  std::vector<float> grads(1000, 0.1f);
  ASSERT_TRUE(t->Apply(fresh_keys, grads, 1500).ok());
  DirtyBatch drain;
  t->CollectDirty(DirtyKind::kSync, &drain);
  // Rows stamped 0 expire at 1000 (untouched for the whole ttl), not before.
  EXPECT_EQ(t->ExpireStep(999, 1 << 20), 0);
  // Each step scans at most 100 rows.
  int64_t expired = 0;
  int steps = 0;
  while (expired < 500 && steps < 100) {
    const int64_t n = t->ExpireStep(2000, 100);
    EXPECT_LE(n, 100);
    expired += n;
    ++steps;
  }
  EXPECT_EQ(expired, 500);
  EXPECT_GE(steps, 5);
  EXPECT_EQ(t->size(), 500);
  for (uint64_t k : old_keys) ASSERT_FALSE(t->Contains(k));
  for (uint64_t k : fresh_keys) ASSERT_TRUE(t->Contains(k));
  EXPECT_EQ(t->Stats().expired, 500);
  DirtyBatch batch;
  EXPECT_EQ(t->CollectDirty(DirtyKind::kSync, &batch), 0u);
  std::sort(batch.deleted_keys.begin(), batch.deleted_keys.end());
  EXPECT_EQ(batch.deleted_keys, old_keys);
  // A table without ttl never expires.
  auto u = Make(Spec(2));
  LookupOne(u.get(), 1, LookupMode::kTrain, 0);
  EXPECT_EQ(u->ExpireStep(1LL << 40, 100), 0);
  EXPECT_TRUE(u->CheckInvariants().ok());
}

TEST(EmbeddingTableTest, RowsCreatedBeforeAnyEventTimeAreStampedZero) {
  TableSpec spec = Spec(2);
  spec.ttl_ms = 1000;
  auto t = Make(spec);
  LookupOne(t.get(), 1, LookupMode::kTrain);
  EXPECT_EQ(t->ExpireStep(999, 100), 0);
  ASSERT_TRUE(t->Apply({1}, {0.5f, 0.5f}, 500).ok());
  EXPECT_EQ(t->ExpireStep(1499, 100), 0);
  EXPECT_EQ(t->ExpireStep(1500, 100), 1);
}

TEST(EmbeddingTableTest, FreedRowsAreReusedAtOnce) {
  EmbeddingTableOptions options;
  options.num_stripes = 4;
  auto t = Make(Spec(16), options);
  std::vector<uint64_t> keys(20000);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = i + 1;
  std::vector<float> out(keys.size() * 16);
  ASSERT_TRUE(t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  const TableStats before = t->Stats();
  for (uint64_t k : keys) ASSERT_TRUE(t->Erase(k));
  EXPECT_EQ(t->size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = 1000000 + i;
  ASSERT_TRUE(t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  const TableStats after = t->Stats();
  EXPECT_EQ(after.rows, before.rows);
  EXPECT_EQ(after.arena_bytes, before.arena_bytes);
  EXPECT_TRUE(t->CheckInvariants().ok());
}

TEST(EmbeddingTableTest, EvictionKeepsMemoryUnderBudgetAndKeepsValuableRows) {
  TableSpec spec = Spec(16, "adagrad");
  spec.initializer.type = "zeros";
  spec.memory_budget_bytes = 2 << 20;
  spec.eviction.samples = 16;
  EmbeddingTableOptions options;
  options.num_stripes = 4;
  auto t = Make(spec, options);
  // 200 valuable keys, updated often with positive labels.
  std::vector<uint64_t> hot;
  for (uint64_t k = 1; k <= 200; ++k) hot.push_back(k);
  std::vector<float> hot_out(hot.size() * 16),
      hot_grads(hot.size() * 16, 0.01f);
  std::vector<float> labels(hot.size(), 1.0f);
  int64_t now = 0;
  for (int round = 0; round < 100; ++round) {
    now += 10;
    ASSERT_TRUE(
        t->Lookup(hot, absl::MakeSpan(hot_out), LookupMode::kTrain, now).ok());
    for (int rep = 0; rep < 3; ++rep) {
      ASSERT_TRUE(t->Apply(hot, hot_grads, now, labels).ok());
    }
    // A stream of one-off keys, each applied once with label 0.
    std::vector<uint64_t> cold(1000);
    for (size_t i = 0; i < cold.size(); ++i) {
      cold[i] = Mix64(round * 100000 + i + 7) | (1ull << 63);
    }
    std::vector<float> out(cold.size() * 16), grads(cold.size() * 16, 0.01f);
    ASSERT_TRUE(
        t->Lookup(cold, absl::MakeSpan(out), LookupMode::kTrain, now).ok());
    ASSERT_TRUE(t->Apply(cold, grads, now).ok());
    const TableStats stats = t->Stats();
    ASSERT_LE(stats.arena_bytes + stats.index_bytes, spec.memory_budget_bytes);
  }
  const TableStats stats = t->Stats();
  EXPECT_GT(stats.evicted, 50000);
  EXPECT_GT(stats.rows, 5000);  // the budget is used, not wasted
  int hot_alive = 0;
  for (uint64_t k : hot) hot_alive += t->Contains(k);
  EXPECT_GE(hot_alive, 190);
  EXPECT_TRUE(t->CheckInvariants().ok()) << t->CheckInvariants();
}

TEST(EmbeddingTableTest, DirtyTrackingTakesAndClears) {
  auto t = Make(Spec(2));
  std::vector<uint64_t> keys = {10, 20, 30};
  std::vector<float> out(6), grads(6, 1.0f);
  ASSERT_TRUE(t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  DirtyBatch batch;
  EXPECT_EQ(t->CollectDirty(DirtyKind::kSync, &batch), 3u);  // new rows
  batch.Clear();
  EXPECT_EQ(t->CollectDirty(DirtyKind::kSync, &batch), 0u);
  ASSERT_TRUE(t->Apply({20, 20}, {1.0f, 2.0f, 3.0f, 4.0f}, 5).ok());
  ASSERT_EQ(t->CollectDirty(DirtyKind::kSync, &batch), 1u);
  EXPECT_EQ(batch.keys, std::vector<uint64_t>{20});
  EXPECT_EQ(std::vector<float>(batch.weights.begin(), batch.weights.end()),
            LookupOne(t.get(), 20));
  EXPECT_TRUE(batch.state.empty());
  // Checkpoint bits are separate: all three rows are still checkpoint-dirty.
  DirtyBatch ckpt;
  EXPECT_EQ(t->CollectDirty(DirtyKind::kCheckpoint, &ckpt, true), 3u);
  EXPECT_EQ(ckpt.last_update_ms.size(), 3u);
  EXPECT_EQ(ckpt.scores.size(), 3u);
  // Deleted keys are logged; a key deleted while dirty is not in `keys`.
  ASSERT_TRUE(t->Apply({30}, {1.0f, 1.0f}, 6).ok());
  EXPECT_TRUE(t->Erase(30));
  batch.Clear();
  EXPECT_EQ(t->CollectDirty(DirtyKind::kSync, &batch), 0u);
  EXPECT_EQ(batch.deleted_keys, std::vector<uint64_t>{30});
  // Tracking can be switched off.
  EmbeddingTableOptions options;
  options.track_sync = false;
  auto u = Make(Spec(2), options);
  LookupOne(u.get(), 1, LookupMode::kTrain);
  EXPECT_EQ(u->CollectDirty(DirtyKind::kSync, &batch), 0u);
  EXPECT_EQ(u->CollectDirty(DirtyKind::kCheckpoint, &batch), 1u);
}

// A collector racing with writers never loses an update: replaying every
// collected batch in order reproduces the table exactly.
TEST(EmbeddingTableTest, DirtyTrackingDropsNothingUnderConcurrency) {
  EmbeddingTableOptions options;
  options.num_stripes = 8;
  auto t = Make(Spec(4), options);
  std::vector<uint64_t> keys(2000);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = Mix64(i + 3);
  std::vector<float> out(keys.size() * 4);
  ASSERT_TRUE(t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    std::vector<uint64_t> batch(64);
    std::vector<float> grads(64 * 4);
    for (int step = 0; step < 300; ++step) {
      for (size_t j = 0; j < batch.size(); ++j) {
        batch[j] = keys[Mix64(step * 64 + j) % keys.size()];
      }
      for (size_t j = 0; j < grads.size(); ++j) grads[j] = 0.001f * (j % 7);
      ASSERT_TRUE(t->Apply(batch, grads, step).ok());
      if (step % 50 == 0) t->Erase(keys[step]);
    }
    done = true;
  });
  std::map<uint64_t, std::vector<float>> replica;
  auto drain = [&] {
    DirtyBatch batch;
    t->CollectDirty(DirtyKind::kSync, &batch);
    for (uint64_t k : batch.deleted_keys) replica.erase(k);
    for (size_t i = 0; i < batch.keys.size(); ++i) {
      replica[batch.keys[i]].assign(batch.weights.begin() + 4 * i,
                                    batch.weights.begin() + 4 * i + 4);
    }
  };
  while (!done) drain();
  writer.join();
  drain();
  size_t rows = 0;
  t->ForEachRow([&](const RowView& row) {
    ++rows;
    auto it = replica.find(row.key);
    ASSERT_NE(it, replica.end());
    EXPECT_EQ(it->second,
              std::vector<float>(row.weights.begin(), row.weights.end()));
  });
  EXPECT_EQ(rows, replica.size());
}

TEST(EmbeddingTableTest, ForEachRowAndRestoreRoundTrip) {
  TableSpec spec = Spec(3, "adam");
  spec.optimizer.learning_rate = 0.01;
  auto a = Make(spec);
  std::vector<uint64_t> keys = {5, 6, 7, 8};
  std::vector<float> out(12), grads(12, 0.3f);
  ASSERT_TRUE(a->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  ASSERT_TRUE(a->Apply(keys, grads, 100, {1, 0, 1, 0}).ok());
  auto b = Make(spec);
  a->ForEachRow([&](const RowView& row) {
    ASSERT_TRUE(
        b->Restore(row.key,
                   std::vector<float>(row.weights.begin(), row.weights.end()),
                   std::vector<float>(row.state.begin(), row.state.end()),
                   row.last_update_ms, row.score)
            .ok());
  });
  // Same weights now, and the same after one more identical update.
  ASSERT_TRUE(a->Apply(keys, grads, 200).ok());
  ASSERT_TRUE(b->Apply(keys, grads, 200).ok());
  for (uint64_t k : keys)
    EXPECT_EQ(LookupOne(a.get(), k), LookupOne(b.get(), k));
  EXPECT_FALSE(b->Restore(1, {1.0f}, {}, 0, 0).ok());
}

TEST(EmbeddingTableTest, MemoryAccountingIsExact) {
  TableSpec spec = Spec(16, "adagrad");
  auto t = Make(spec);
  TableStats empty = t->Stats();
  EXPECT_EQ(empty.rows, 0);
  EXPECT_EQ(empty.row_bytes, 24 + 4 * 32);
  const int n = 300000;
  std::vector<uint64_t> keys(n);
  for (int i = 0; i < n; ++i) keys[i] = Mix64(i + 11);
  std::vector<float> out(static_cast<size_t>(n) * 16);
  ASSERT_TRUE(t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain).ok());
  const TableStats s = t->Stats();
  EXPECT_EQ(s.rows, n);
  EXPECT_GE(s.arena_slack_bytes, 0);
  EXPECT_EQ(s.arena_slack_bytes, s.arena_bytes - s.rows * s.row_bytes);
  EXPECT_EQ(s.index_bytes, s.index_slots * 8);
  EXPECT_GT(s.load_factor, 0.5);
  EXPECT_LE(s.load_factor, 0.8);
  EXPECT_LE(s.index_bytes_per_row, 16.0);
  EXPECT_EQ(s.total_bytes, s.arena_bytes + s.index_bytes + s.admission_bytes +
                               s.tracking_bytes);
  EXPECT_NEAR(s.bytes_per_row, static_cast<double>(s.total_bytes) / n, 1e-9);
}

// Threads mixing train and serve lookups, applies, expiry, eviction, erases
// and collection; afterwards the table's invariants hold and its counters
// add up.
TEST(EmbeddingTableTest, ConcurrencyStress) {
  TableSpec spec = Spec(8, "rowwise_adagrad");
  spec.optimizer.learning_rate = 0.05;
  spec.ttl_ms = 200;
  spec.memory_budget_bytes = 600 << 10;
  EmbeddingTableOptions options;
  options.num_stripes = 8;
  auto t = Make(spec, options);
  constexpr int kThreads = 4;
  constexpr int kSteps = 300;
  std::atomic<int64_t> erased{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      std::vector<uint64_t> keys(128);
      std::vector<float> out(keys.size() * 8), grads(keys.size() * 8, 0.01f);
      std::vector<float> labels(keys.size());
      DirtyBatch batch;
      for (int step = 0; step < kSteps; ++step) {
        const int64_t now = step * 2;
        for (size_t j = 0; j < keys.size(); ++j) {
          // Skewed ids: low ranks repeat across threads and steps.
          const uint64_t r = Mix64((th * kSteps + step) * 1000 + j);
          keys[j] = (r % 4 == 0) ? r % 50 : r % 20000;
          labels[j] = static_cast<float>(r % 2);
        }
        ASSERT_TRUE(
            t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain, now).ok());
        ASSERT_TRUE(t->Apply(keys, grads, now, labels).ok());
        ASSERT_TRUE(
            t->Lookup(keys, absl::MakeSpan(out), LookupMode::kServe).ok());
        for (float v : out) ASSERT_TRUE(std::isfinite(v));
        if (th == 0) t->ExpireStep(now, 500);
        if (th == 1 && step % 10 == 0) {
          batch.Clear();
          t->CollectDirty(DirtyKind::kSync, &batch);
        }
        if (th == 2 && t->Erase(keys[0])) ++erased;
        if (th == 3 && step % 50 == 0) {
          int64_t rows = 0;
          t->ForEachRow([&](const RowView&) { ++rows; });
          EXPECT_GE(rows, 0);
          t->Stats();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(t->CheckInvariants().ok()) << t->CheckInvariants();
  const TableStats s = t->Stats();
  EXPECT_EQ(s.rows, s.inserts - s.expired - s.evicted - erased.load());
  EXPECT_EQ(s.lookups, 2LL * kThreads * kSteps * 128);
  EXPECT_EQ(s.applied + s.dropped_gradients, 1LL * kThreads * kSteps * 128);
  EXPECT_GT(s.expired, 0);
  EXPECT_GT(s.evicted, 0);
  EXPECT_LE(s.arena_bytes + s.index_bytes, spec.memory_budget_bytes);
}

// One row as a snapshot or ForEachRow() sees it.
struct SnapRow {
  std::vector<float> weights, state;
  int64_t last_update_ms;
  float score;
  bool operator==(const SnapRow&) const = default;
};
using RowMap = std::map<uint64_t, SnapRow>;

RowMap AllRows(const EmbeddingTable& t) {
  RowMap rows;
  t.ForEachRow([&](const RowView& r) {
    rows[r.key] = {std::vector<float>(r.weights.begin(), r.weights.end()),
                   std::vector<float>(r.state.begin(), r.state.end()),
                   r.last_update_ms, r.score};
  });
  return rows;
}

// Adds the rows of `batch` to `rows`, failing on a key seen twice.
void AddSnapshotRows(const EmbeddingTable& t, const DirtyBatch& batch,
                     RowMap* rows) {
  const size_t dim = t.dim(), sf = t.state_floats();
  ASSERT_EQ(batch.weights.size(), batch.keys.size() * dim);
  ASSERT_EQ(batch.state.size(), batch.keys.size() * sf);
  for (size_t i = 0; i < batch.keys.size(); ++i) {
    SnapRow row{std::vector<float>(batch.weights.begin() + i * dim,
                                   batch.weights.begin() + (i + 1) * dim),
                std::vector<float>(batch.state.begin() + i * sf,
                                   batch.state.begin() + (i + 1) * sf),
                batch.last_update_ms[i], batch.scores[i]};
    ASSERT_TRUE(rows->emplace(batch.keys[i], std::move(row)).second)
        << "key " << batch.keys[i] << " returned twice";
  }
}

// Changes the table every way a row can change: updates, deletes (erase,
// expiry), creates and restores.
void Churn(EmbeddingTable* t, uint64_t round, int64_t now) {
  std::vector<uint64_t> keys;
  for (uint64_t k = 0; k < 40; ++k)
    keys.push_back(Mix64(round * 131 + k) % 3000);
  std::vector<float> out(keys.size() * t->dim());
  ASSERT_TRUE(
      t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain, now).ok());
  std::vector<float> grads(out.size(), 0.25f);
  ASSERT_TRUE(t->Apply(keys, grads, now).ok());
  t->Erase(Mix64(round) % 3000);
  std::vector<float> w(t->dim(), static_cast<float>(round));
  ASSERT_TRUE(t->Restore(Mix64(round + 7) % 3000, w, {}, now, 2.0f).ok());
}

TEST(EmbeddingTableTest, SnapshotHoldsTheCutWhileTheTableChanges) {
  TableSpec spec = Spec(4, "adagrad");
  spec.ttl_ms = 50;
  auto t = Make(spec, {.num_stripes = 8});
  for (uint64_t r = 0; r < 40; ++r) Churn(t.get(), r, static_cast<int64_t>(r));
  const RowMap cut = AllRows(*t);
  ASSERT_GT(cut.size(), 500u);
  ASSERT_TRUE(t->BeginSnapshot(SnapshotScope::kAll).ok());
  EXPECT_TRUE(t->snapshot_open());
  EXPECT_EQ(t->BeginSnapshot(SnapshotScope::kAll).code(),
            absl::StatusCode::kFailedPrecondition);
  RowMap got;
  DirtyBatch batch;
  uint64_t round = 40;
  bool more = true;
  int calls = 0;
  while (more) {
    batch.Clear();
    more = t->ReadSnapshot(&batch, 64);
    AddSnapshotRows(*t, batch, &got);
    EXPECT_TRUE(batch.deleted_keys.empty());
    // Between chunks, everything changes, expiry included.
    Churn(t.get(), round, static_cast<int64_t>(round));
    t->ExpireStep(static_cast<int64_t>(round), 200);
    ++round;
    ++calls;
  }
  EXPECT_GT(calls, 4);
  EXPECT_FALSE(t->snapshot_open());
  EXPECT_EQ(got, cut);
  EXPECT_NE(AllRows(*t), cut);
  EXPECT_TRUE(t->CheckInvariants().ok());
}

TEST(EmbeddingTableTest, ChangedSnapshotHoldsTheChangesBeforeTheCut) {
  auto t = Make(Spec(3, "adagrad"), {.num_stripes = 4});
  for (uint64_t r = 0; r < 20; ++r) Churn(t.get(), r, 1);
  ASSERT_TRUE(t->BeginSnapshot(SnapshotScope::kAll).ok());
  DirtyBatch batch;
  while (t->ReadSnapshot(&batch, 1000)) {
  }
  const RowMap before = AllRows(*t);
  // Changes between the two cuts.
  for (uint64_t r = 20; r < 25; ++r) Churn(t.get(), r, 2);
  const RowMap at_cut = AllRows(*t);
  ASSERT_TRUE(t->BeginSnapshot(SnapshotScope::kChanged).ok());
  RowMap changed;
  std::set<uint64_t> deleted;
  bool more = true;
  uint64_t round = 25;
  while (more) {
    batch.Clear();
    more = t->ReadSnapshot(&batch, 64);
    AddSnapshotRows(*t, batch, &changed);
    deleted.insert(batch.deleted_keys.begin(), batch.deleted_keys.end());
    Churn(t.get(), round++, 3);
  }
  // Replaying the changes on the first cut gives the second.
  RowMap replay = before;
  for (uint64_t key : deleted) replay.erase(key);
  for (const auto& [key, row] : changed) {
    EXPECT_EQ(at_cut.at(key), row);
    replay[key] = row;
  }
  EXPECT_EQ(replay, at_cut);
  EXPECT_LT(changed.size(), at_cut.size());
  // The changes made while reading are the next snapshot's.
  const RowMap now = AllRows(*t);
  ASSERT_TRUE(t->BeginSnapshot(SnapshotScope::kChanged).ok());
  RowMap next;
  deleted.clear();
  more = true;
  while (more) {
    batch.Clear();
    more = t->ReadSnapshot(&batch, 1 << 20);
    AddSnapshotRows(*t, batch, &next);
    deleted.insert(batch.deleted_keys.begin(), batch.deleted_keys.end());
  }
  replay = at_cut;
  for (uint64_t key : deleted) replay.erase(key);
  for (const auto& [key, row] : next) replay[key] = row;
  EXPECT_EQ(replay, now);
}

TEST(EmbeddingTableTest, SnapshotAbortAndPreconditions) {
  auto untracked = Make(Spec(2), {.track_checkpoint = false});
  EXPECT_EQ(untracked->BeginSnapshot(SnapshotScope::kChanged).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(untracked->BeginSnapshot(SnapshotScope::kAll).ok());
  untracked->AbortSnapshot();
  DirtyBatch batch;
  EXPECT_FALSE(untracked->ReadSnapshot(&batch, 10));
  EXPECT_TRUE(batch.keys.empty());
  auto t = Make(Spec(2));
  Churn(t.get(), 1, 1);
  ASSERT_TRUE(t->BeginSnapshot(SnapshotScope::kAll).ok());
  t->ReadSnapshot(&batch, 64);
  t->AbortSnapshot();
  EXPECT_FALSE(t->snapshot_open());
  Churn(t.get(), 2, 2);  // no copies kept after an abort
  ASSERT_TRUE(t->BeginSnapshot(SnapshotScope::kAll).ok());
  const RowMap cut = AllRows(*t);
  RowMap got;
  bool more = true;
  while (more) {
    batch.Clear();
    more = t->ReadSnapshot(&batch, 64);
    AddSnapshotRows(*t, batch, &got);
  }
  EXPECT_EQ(got, cut);
}

// A reader thread drains a snapshot while writer threads update the table
// (run under ThreadSanitizer by make test-tsan).
TEST(EmbeddingTableTest, SnapshotUnderConcurrentUpdates) {
  auto t = Make(Spec(8, "adagrad"), {.num_stripes = 16});
  std::vector<uint64_t> keys(20000);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = Mix64(i + 1);
  std::vector<float> out(keys.size() * 8);
  ASSERT_TRUE(t->Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain, 1).ok());
  const RowMap cut = AllRows(*t);
  ASSERT_TRUE(t->BeginSnapshot(SnapshotScope::kAll).ok());
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      std::vector<uint64_t> batch_keys(256);
      std::vector<float> grads(256 * 8, 0.01f);
      for (uint64_t round = 0; !done.load() && round < 100000; ++round) {
        for (size_t j = 0; j < batch_keys.size(); ++j) {
          batch_keys[j] =
              keys[Mix64(round * 977 + j + w * 1000003) % keys.size()];
        }
        ASSERT_TRUE(t->Apply(batch_keys, grads, 2).ok());
        t->Erase(keys[Mix64(round + w) % keys.size()]);
      }
    });
  }
  RowMap got;
  DirtyBatch batch;
  bool more = true;
  while (more) {
    batch.Clear();
    more = t->ReadSnapshot(&batch, 128);
    AddSnapshotRows(*t, batch, &got);
  }
  done.store(true);
  for (auto& w : writers) w.join();
  EXPECT_EQ(got, cut);
  EXPECT_TRUE(t->CheckInvariants().ok());
}

// The admission sketch travels with the policy state: ids seen but not yet
// admitted keep their sightings across a restore.
TEST(EmbeddingTableTest, PolicyStateRoundTripKeepsAdmissionCounts) {
  TableSpec spec = Spec(2);
  spec.admission.min_count = 3;
  auto t = Make(spec);
  for (int i = 0; i < 2; ++i) LookupOne(t.get(), 42, LookupMode::kTrain, 100);
  EXPECT_FALSE(t->Contains(42));
  ASSERT_TRUE(t->BeginSnapshot(SnapshotScope::kAll).ok());
  const std::string at_cut = t->TakeSnapshotPolicyState();
  EXPECT_TRUE(t->TakeSnapshotPolicyState().empty());
  t->AbortSnapshot();
  EXPECT_EQ(at_cut, t->PolicyState());

  auto restored = Make(spec);
  ASSERT_TRUE(restored->RestorePolicyState(at_cut).ok());
  LookupOne(restored.get(), 42, LookupMode::kTrain, 100);
  EXPECT_TRUE(restored->Contains(42));  // third sighting
  auto fresh = Make(spec);
  LookupOne(fresh.get(), 42, LookupMode::kTrain, 100);
  EXPECT_FALSE(fresh->Contains(42));

  // Bytes of another layout are refused and change nothing.
  auto other = Make(spec, {.num_stripes = 8});
  EXPECT_EQ(other->RestorePolicyState(at_cut).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      restored->RestorePolicyState(at_cut.substr(0, at_cut.size() - 1)).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(restored->RestorePolicyState("junk").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace freshet
