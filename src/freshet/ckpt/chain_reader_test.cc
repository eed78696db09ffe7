#include "freshet/ckpt/chain_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "freshet/base/log_capture.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/ckpt_test_fixture.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/ckpt/shard_file.h"
#include "freshet/data/generator.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ChainTableTest, UpsertEraseAndReuse) {
  ChainTable t("C1", 2, 1);
  const float a[] = {1, 2}, sa[] = {3};
  const float b[] = {4, 5}, sb[] = {6};
  t.Upsert(7, a, sa, 100, 0.5f);
  t.Upsert(3, b, sb, 200, 1.5f);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_THAT(std::vector<float>(t.Find(7), t.Find(7) + 3),
              ElementsAre(1, 2, 3));
  t.Upsert(7, b, sb, 300, 2.5f);  // replaces
  EXPECT_THAT(std::vector<float>(t.Find(7), t.Find(7) + 3),
              ElementsAre(4, 5, 6));
  EXPECT_TRUE(t.Erase(3));
  EXPECT_FALSE(t.Erase(3));
  EXPECT_EQ(t.Find(3), nullptr);
  t.Upsert(9, a, sa, 400, 3.5f);  // takes the erased row's slot
  EXPECT_THAT(t.SortedKeys(), ElementsAre(7, 9));
  EXPECT_THAT(std::vector<float>(t.Find(9), t.Find(9) + 3),
              ElementsAre(1, 2, 3));
  int rows = 0;
  t.ForEachRow([&](uint64_t key, absl::Span<const float> w,
                   absl::Span<const float> s, int64_t last, float score) {
    ++rows;
    EXPECT_EQ(w.size(), 2u);
    EXPECT_EQ(s.size(), 1u);
    if (key == 9) {
      EXPECT_EQ(last, 400);
      EXPECT_EQ(score, 3.5f);
    } else {
      EXPECT_EQ(key, 7u);
      EXPECT_EQ(last, 300);
    }
  });
  EXPECT_EQ(rows, 2);
}

class ChainReaderTest : public ckpt_testing::TrainedModelTest {
 protected:
  ChainReaderTest() { data_seed_ = 5; }

  // Erases `n` rows of each of the model's first four tables; returns how
  // many.
  static int EraseSome(LocalStore& m, size_t n) {
    int erased = 0;
    for (int t = 0; t < m.num_tables() && t < 4; ++t) {
      erased += static_cast<int>(TrainedModelTest::EraseSome(m, t, n).size());
    }
    return erased;
  }
};

TEST_F(ChainReaderTest, DigestOfFullPlusIncrementalsEqualsModelDigest) {
  int written = 0;
  std::unique_ptr<Trainer> trainer = Train(500, [&](LocalStore& model,
                                                    int64_t examples, double) {
    if (written == 0 && examples >= 150) {
      ASSERT_TRUE(WriteFullCheckpoint(ckpt_, model, {"cfg", "150", 1}).ok());
      ++written;
    } else if (written == 1 && examples >= 300) {
      ASSERT_GT(EraseSome(model, 3), 0);
      ASSERT_TRUE(
          WriteIncrementalCheckpoint(ckpt_, model, {"cfg", "300", 2}).ok());
      ++written;
    }
  });
  ASSERT_EQ(written, 2);
  LocalStore& live = trainer->model();
  ASSERT_GT(EraseSome(live, 5), 0);
  auto m3 = WriteIncrementalCheckpoint(ckpt_, live, {"cfg", "500", 3});
  ASSERT_TRUE(m3.ok()) << m3.status();
  ASSERT_EQ(m3->id, 3u);
  uint64_t deleted = 0;
  for (const ManifestFile& f : m3->files) deleted += f.deleted_keys;
  ASSERT_GT(deleted, 0u);

  Manifest last;
  auto digest = CheckpointDigest(ckpt_, &last);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, ModelDigest(live));
  EXPECT_EQ(last.id, 3u);
  EXPECT_EQ(last.metadata.stream_position, "500");

  auto chain = ReadCheckpointChain(ckpt_);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_THAT(chain->ids, ElementsAre(1, 2, 3));
  // Tables in the model's order, with the model's rows.
  ASSERT_EQ(chain->tables.size(), static_cast<size_t>(live.num_tables()));
  for (int t = 0; t < live.num_tables(); ++t) {
    const ChainTable& ct = chain->tables[t];
    EXPECT_EQ(ct.name(), live.table(t).spec().name);
    EXPECT_EQ(ct.size(), live.table(t).size()) << ct.name();
    live.table(t).ForEachRow([&](const RowView& r) {
      const float* row = ct.Find(r.key);
      ASSERT_NE(row, nullptr);
      EXPECT_EQ(std::vector<float>(row, row + r.weights.size()),
                std::vector<float>(r.weights.begin(), r.weights.end()));
    });
  }
  EXPECT_EQ(chain->dense_steps, live.dense_optimizer().steps());

  // One weight changed: the digests differ.
  int t = 0;
  while (live.table(t).size() == 0) ++t;
  uint64_t key = 0;
  std::vector<float> weights, state;
  live.table(t).ForEachRow([&](const RowView& r) {
    if (weights.empty()) {
      key = r.key;
      weights.assign(r.weights.begin(), r.weights.end());
      state.assign(r.state.begin(), r.state.end());
    }
  });
  weights[0] += 0.25f;
  ASSERT_TRUE(live.table(t).Restore(key, weights, state, 0, 0).ok());
  EXPECT_NE(*digest, ModelDigest(live));
  // And a changed dense parameter too.
  CheckpointChain edited = *std::move(chain);
  const uint64_t before = ChainDigest(edited);
  EXPECT_EQ(before, *digest);
  edited.dense_params[0] += 1.0f;
  EXPECT_NE(ChainDigest(edited), before);
}

TEST_F(ChainReaderTest, SkipsADamagedIncrementalAndNamesIt) {
  std::unique_ptr<Trainer> trainer = Train(300);
  LocalStore& live = trainer->model();
  ASSERT_TRUE(WriteFullCheckpoint(ckpt_, live, {"cfg", "a", 1}).ok());
  const uint64_t at_full = ModelDigest(live);
  EraseSome(live, 2);
  ASSERT_TRUE(WriteIncrementalCheckpoint(ckpt_, live, {"cfg", "b", 2}).ok());
  // Damage the incremental's dense file in its last byte (the footer CRC).
  const std::string dense = (fs::path(CkptPath(2)) / "dense.shard").string();
  {
    std::fstream f(dense, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  LogCapture log;
  Manifest last;
  auto digest = CheckpointDigest(ckpt_, &last);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, at_full);
  EXPECT_EQ(last.id, 1u);
  EXPECT_THAT(log.text(), HasSubstr(CkptPath(2) + " skipped"));
  EXPECT_THAT(log.text(), HasSubstr("dense.shard"));
}

TEST_F(ChainReaderTest, NoCheckpointAndNoGoodOne) {
  EXPECT_EQ(ReadCheckpointChain(ckpt_).status().code(),
            absl::StatusCode::kNotFound);
  std::unique_ptr<Trainer> trainer = Train(100);
  ASSERT_TRUE(WriteFullCheckpoint(ckpt_, trainer->model(), {}).ok());
  fs::remove(fs::path(CkptPath(1)) / "dense.shard");
  LogCapture log;
  auto chain = ReadCheckpointChain(ckpt_);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.text(), HasSubstr("missing file"));
}

// Hand-written checkpoints of one table "t" (dim 2, one state float): the
// merge rules on known rows.
class HandWrittenChainTest : public ckpt_testing::TempDirTest {
 protected:
  struct Row {
    uint64_t key;
    float w0, w1, s;
  };
  void SetUp() override {
    TempDirTest::SetUp();
    base_ = dir_;
  }

  // Writes checkpoint `id` into base_. With `deletes_first` false, the deleted
  // keys are written after the rows (which the format forbids).
  void Write(uint64_t id, CheckpointKind kind, const std::vector<Row>& rows,
             const std::vector<uint64_t>& deleted, float dense,
             bool deletes_first = true) {
    const fs::path d = base_ / CheckpointDirName(id);
    fs::create_directories(d);
    Manifest m;
    m.id = id;
    m.kind = kind;
    if (kind == CheckpointKind::kIncremental) {
      m.parent_id = 1;
      m.previous_id = id - 1;
    }
    ShardHeader h;
    h.name = "t";
    h.dim = 2;
    h.state_floats = 1;
    auto w = ShardWriter::Create((d / "table-000.shard").string(), h);
    ASSERT_TRUE(w.ok()) << w.status();
    auto add_deleted = [&] {
      for (uint64_t k : deleted) ASSERT_TRUE((*w)->AddDeletedKey(k).ok());
    };
    if (deletes_first) add_deleted();
    for (const Row& r : rows) {
      const float wts[] = {r.w0, r.w1};
      const float st[] = {r.s};
      ASSERT_TRUE((*w)->AddRow(r.key, 0, 0, wts, st).ok());
    }
    if (!deletes_first) add_deleted();
    auto s = (*w)->Finish();
    ASSERT_TRUE(s.ok()) << s.status();
    m.files.push_back({"table-000.shard", "t", s->bytes, s->rows,
                       s->deleted_keys, s->crc32c});
    ShardHeader dh;
    dh.type = ShardFileType::kDense;
    dh.name = "dense";
    dh.num_params = 1;
    dh.num_state = 1;
    dh.steps = static_cast<int64_t>(id);
    auto dw = ShardWriter::Create((d / "dense.shard").string(), dh);
    ASSERT_TRUE(dw.ok()) << dw.status();
    const float p[] = {dense}, ps[] = {-dense};
    ASSERT_TRUE((*dw)->AddDenseParams(p).ok());
    ASSERT_TRUE((*dw)->AddDenseState(ps).ok());
    auto ds = (*dw)->Finish();
    ASSERT_TRUE(ds.ok()) << ds.status();
    m.files.push_back({"dense.shard", "", ds->bytes, ds->rows, 0, ds->crc32c});
    std::ofstream(d / kManifestFileName) << EncodeManifest(m);
  }

  fs::path base_;  // where Write() writes
};

TEST_F(HandWrittenChainTest, DeletionsBeforeRowsAndLaterRowsWin) {
  using K = CheckpointKind;
  Write(1, K::kFull, {{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}}, {}, 10);
  // Deletes 1 and 2, re-creates 2, updates 3, adds 4.
  Write(2, K::kIncremental, {{2, 20, 20, 20}, {3, 30, 30, 30}, {4, 4, 4, 4}},
        {1, 2}, 20);
  // Deletes 4, a key never seen (99) and updates 2 again.
  Write(3, K::kIncremental, {{2, 200, 200, 200}}, {4, 99}, 30);
  auto chain = ReadCheckpointChain(dir_.string());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_THAT(chain->ids, ElementsAre(1, 2, 3));
  ASSERT_EQ(chain->tables.size(), 1u);
  const ChainTable& t = chain->tables[0];
  EXPECT_THAT(t.SortedKeys(), ElementsAre(2, 3));
  EXPECT_THAT(std::vector<float>(t.Find(2), t.Find(2) + 3),
              ElementsAre(200, 200, 200));
  EXPECT_THAT(std::vector<float>(t.Find(3), t.Find(3) + 3),
              ElementsAre(30, 30, 30));
  EXPECT_THAT(chain->dense_params, ElementsAre(30));
  EXPECT_THAT(chain->dense_state, ElementsAre(-30));
  EXPECT_EQ(chain->dense_steps, 3);
  EXPECT_EQ(chain->last.id, 3u);

  // The same final state written as one full checkpoint digests equally.
  const fs::path other = dir_ / "other";
  base_ = other;
  Write(1, K::kFull, {{3, 30, 30, 30}, {2, 200, 200, 200}}, {}, 30);
  auto a = CheckpointDigest(dir_.string());
  auto b = CheckpointDigest(other.string());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

// With a VerifiedCheckpoints, a checkpoint is verified once: damage done
// after that is found by the merge (an error) rather than by verification
// (a skip). A checkpoint written again under the same id is verified anew,
// and entries of checkpoints gone from the folder are dropped.
TEST_F(HandWrittenChainTest, VerifiedCheckpointsAreNotVerifiedAgain) {
  using K = CheckpointKind;
  Write(1, K::kFull, {{1, 1, 1, 1}}, {}, 1);
  Write(2, K::kIncremental, {{2, 2, 2, 2}}, {}, 2);
  VerifiedCheckpoints verified;
  auto chain = ReadCheckpointChain(dir_.string(), &verified);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_THAT(chain->ids, ElementsAre(1, 2));
  EXPECT_EQ(verified.size(), 2u);

  const std::string table =
      (dir_ / CheckpointDirName(2) / "table-000.shard").string();
  {
    auto reader = ShardReader::Open(table);
    ASSERT_TRUE(reader.ok()) << reader.status();
    const auto& block = (*reader)->blocks()[0];
    const uint64_t offset = block.offset + block.compressed_size / 2;
    reader->reset();
    ckpt_testing::FlipByte(table, offset);
  }
  // Verified before the damage: the merge meets it.
  chain = ReadCheckpointChain(dir_.string(), &verified);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(chain.status().message(), HasSubstr("crc32c mismatch"));
  // Without the cache, verification skips it.
  chain = ReadCheckpointChain(dir_.string());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_THAT(chain->ids, ElementsAre(1));

  // Written again, with other rows: verified anew and read.
  fs::remove_all(dir_ / CheckpointDirName(2));
  Write(2, K::kIncremental, {{3, 3, 3, 3}}, {}, 3);
  chain = ReadCheckpointChain(dir_.string(), &verified);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_THAT(chain->ids, ElementsAre(1, 2));
  EXPECT_THAT(chain->tables[0].SortedKeys(), ElementsAre(1, 3));
  EXPECT_EQ(verified.size(), 2u);

  fs::remove_all(dir_ / CheckpointDirName(2));
  chain = ReadCheckpointChain(dir_.string(), &verified);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(verified.size(), 1u);
}

TEST_F(HandWrittenChainTest, DeletedKeysAfterRowsAreRefused) {
  using K = CheckpointKind;
  Write(1, K::kFull, {{1, 1, 1, 1}}, {}, 1);
  Write(2, K::kIncremental, {{1, 5, 5, 5}}, {1}, 2, /*deletes_first=*/false);
  auto chain = ReadCheckpointChain(dir_.string());
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(chain.status().message(), HasSubstr("deleted keys after rows"));
}

// The choice alone, on made-up listings: which checkpoints are used and why
// the others are not.
CheckpointInfo Info(uint64_t id, CheckpointKind kind, uint64_t parent = 0,
                    uint64_t previous = 0) {
  CheckpointInfo c;
  c.id = id;
  c.path = absl::StrFormat("d/ckpt-%d", id);
  c.manifest.id = id;
  c.manifest.kind = kind;
  c.manifest.parent_id = parent;
  c.manifest.previous_id = previous;
  return c;
}

TEST(ChooseChainTest, FollowsTheRestoreRule) {
  using K = CheckpointKind;
  std::vector<CheckpointInfo> list = {Info(1, K::kFull),
                                      Info(2, K::kIncremental, 1, 1),
                                      Info(3, K::kIncremental, 1, 2),
                                      Info(4, K::kFull),
                                      Info(5, K::kIncremental, 4, 4),
                                      Info(6, K::kIncremental, 4, 4)};
  auto all_good = [](const CheckpointInfo&) { return absl::OkStatus(); };
  ChainChoice c = ChooseNewestGoodChain(list, all_good);
  EXPECT_THAT(c.chain, ElementsAre(3, 4));
  ASSERT_EQ(c.skipped.size(), 1u);  // 6 does not follow 5
  EXPECT_EQ(c.skipped[0].first, 5u);
  EXPECT_THAT(c.skipped[0].second, HasSubstr("does not follow checkpoint 5"));

  // Full 4 damaged: back to 1's chain; 4, 5, 6 skipped, 4 with its reason.
  std::vector<uint64_t> verified;
  c = ChooseNewestGoodChain(list, [&](const CheckpointInfo& x) {
    verified.push_back(x.id);
    return x.id == 4 ? absl::DataLossError("block 2 bad") : absl::OkStatus();
  });
  EXPECT_THAT(c.chain, ElementsAre(0, 1, 2));
  ASSERT_EQ(c.skipped.size(), 3u);
  EXPECT_EQ(c.skipped[0].second, "block 2 bad");
  EXPECT_THAT(c.skipped[1].second, HasSubstr("full checkpoint 4"));
  EXPECT_THAT(verified, ElementsAre(4, 1, 2, 3));

  // A bad manifest in the middle of a chain ends it.
  list[2].manifest_status = absl::DataLossError("bad manifest: crc32c");
  c = ChooseNewestGoodChain(list, [](const CheckpointInfo& x) {
    return x.id == 4 ? absl::DataLossError("x") : absl::OkStatus();
  });
  EXPECT_THAT(c.chain, ElementsAre(0, 1));
  EXPECT_EQ(c.skipped[0].second, "bad manifest: crc32c");

  // Nothing good: every checkpoint skipped.
  c = ChooseNewestGoodChain(
      list, [](const CheckpointInfo&) { return absl::DataLossError("x"); });
  EXPECT_TRUE(c.chain.empty());
  EXPECT_EQ(c.skipped.size(), list.size());
}

}  // namespace
}  // namespace freshet
