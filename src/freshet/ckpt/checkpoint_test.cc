#include "freshet/ckpt/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "freshet/base/log_capture.h"
#include "freshet/ckpt/ckpt_test_fixture.h"
#include "freshet/ckpt/crc32c.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/ckpt/shard_file.h"
#include "freshet/data/generator.h"
#include "freshet/data/schema.h"
#include "freshet/train/trainer.h"
#include "nlohmann/json.hpp"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  // RFC 3720 / iSCSI check value: the byte order of RocksDB's result is
  // decoded correctly.
  EXPECT_EQ(ComputeCrc32c("123456789"), 0xE3069283u);
  Crc32c split;
  split.Update("1234");
  split.Update("56789");
  EXPECT_EQ(split.Value(), 0xE3069283u);
  EXPECT_EQ(ComputeCrc32c(""), 0u);
  Crc32c portable(Crc32c::Impl::kPortable);
  portable.Update("123456789");
  EXPECT_EQ(portable.Value(), 0xE3069283u);
}

// The fast path equals RocksDB's generator at every length and alignment,
// whichever way the input is split.
TEST(Crc32cTest, FastPathMatchesThePortableOne) {
  std::string data(4096 + 64, '\0');
  uint64_t x = 7;
  for (char& c : data)
    c = static_cast<char>((x = x * 6364136223846793005ULL + 1) >> 56);
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t n : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096}) {
      const char* p = data.data() + offset;
      Crc32c fast, slow(Crc32c::Impl::kPortable);
      fast.Update(p, n / 3);
      fast.Update(p + n / 3, n - n / 3);
      slow.Update(p, n);
      EXPECT_EQ(fast.Value(), slow.Value()) << offset << " " << n;
    }
  }
}

using ckpt_testing::FlipByte;
using ShardFileTest = ckpt_testing::TempDirTest;

TEST_F(ShardFileTest, RoundTripsRowsAndDeletedKeysAcrossBlocks) {
  const std::string path = dir_ / "t.shard";
  ShardHeader h;
  h.name = "C1/wide";
  h.dim = 3;
  h.state_floats = 2;
  ShardWriterOptions opt;
  opt.block_bytes = 200;  // several rows per block, several blocks
  auto w = ShardWriter::Create(path, h, opt);
  ASSERT_TRUE(w.ok()) << w.status();
  for (uint64_t k = 0; k < 5; ++k)
    ASSERT_TRUE((*w)->AddDeletedKey(1000 + k).ok());
  for (uint64_t k = 0; k < 50; ++k) {
    const float f = static_cast<float>(k);
    std::vector<float> wts = {f, f + 0.5f, -f};
    std::vector<float> st = {f * 2, f * 3};
    ASSERT_TRUE(
        (*w)->AddRow(k * 7919, static_cast<int64_t>(k) - 3, f / 4, wts, st)
            .ok());
  }
  // A row of the wrong shape is refused.
  EXPECT_FALSE((*w)->AddRow(1, 0, 0, std::vector<float>(2), {}).ok());
  auto summary = (*w)->Finish();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows, 50u);
  EXPECT_EQ(summary->deleted_keys, 5u);
  EXPECT_EQ(summary->bytes, fs::file_size(path));

  auto r = ShardReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->header().name, "C1/wide");
  EXPECT_EQ((*r)->header().dim, 3u);
  EXPECT_EQ((*r)->header().state_floats, 2u);
  EXPECT_GT((*r)->blocks().size(), 3u);
  EXPECT_EQ((*r)->blocks().size(), summary->blocks);
  std::vector<uint64_t> deleted, keys;
  std::vector<float> values;
  absl::Status st =
      (*r)->ForEachBlock([&](int, BlockType type, std::string_view recs) {
        const size_t size = (*r)->RecordSize(type);
        for (size_t off = 0; off < recs.size(); off += size) {
          const char* p = recs.data() + off;
          if (type == BlockType::kDeletedKeys) {
            deleted.push_back(DecodeU64(p));
            continue;
          }
          keys.push_back(DecodeU64(p));
          values.push_back(static_cast<float>(DecodeI64(p + 8)));
          for (int i = 0; i < 6; ++i)
            values.push_back(DecodeF32(p + 16 + 4 * i));
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_EQ(deleted.size(), 5u);
  EXPECT_EQ(deleted[4], 1004u);
  ASSERT_EQ(keys.size(), 50u);
  EXPECT_EQ(keys[49], 49u * 7919);
  // Row 49: last update 46, score 12.25, weights 49 49.5 -49, state 98 147.
  std::vector<float> row49(values.end() - 7, values.end());
  EXPECT_THAT(row49,
              ::testing::ElementsAre(46, 12.25f, 49, 49.5f, -49, 98, 147));
}

// A deeply nested manifest used to overflow the stack of every command that
// read the folder (in the JSON serializer); it is damage like any other.
TEST(ManifestTest, DeeplyNestedManifestIsDataLossNotACrash) {
  const std::string deep = "{\"files\": " + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  absl::StatusOr<Manifest> m = DecodeManifest(deep, "ckpt-1/MANIFEST.json");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(m.status().message()),
              ::testing::HasSubstr("nested deeper than 8 levels"));
}

TEST(ManifestTest, AHugeManifestIsDataLossNotAnAllocation) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "huge_manifest";
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / kManifestFileName, std::ios::binary);
    const std::string block(1 << 20, ' ');
    for (size_t i = 0; i <= kMaxManifestBytes >> 20; ++i) out << block;
  }
  absl::StatusOr<Manifest> m = ReadManifest(dir.string());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(m.status().message()),
              ::testing::HasSubstr("larger than"));
  std::filesystem::remove_all(dir);
}

TEST(ManifestTest, RoundTripsAndDetectsEdits) {
  Manifest m;
  m.id = 12;
  m.kind = CheckpointKind::kIncremental;
  m.parent_id = 9;
  m.previous_id = 11;
  m.created_unix_ms = 1700000000123;
  m.metadata = {"cfg-abc", "seg-3:4096", 77};
  m.files.push_back({"table-000.shard", "C1", 1234, 10, 2, 0xdeadbeef});
  const std::string text = EncodeManifest(m);
  auto back = DecodeManifest(text, "M");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, 12u);
  EXPECT_EQ(back->kind, CheckpointKind::kIncremental);
  EXPECT_EQ(back->parent_id, 9u);
  EXPECT_EQ(back->previous_id, 11u);
  EXPECT_EQ(back->metadata.stream_position, "seg-3:4096");
  EXPECT_EQ(back->metadata.sync_version, 77u);
  ASSERT_EQ(back->files.size(), 1u);
  EXPECT_EQ(back->files[0].crc32c, 0xdeadbeefu);
  EXPECT_EQ(back->files[0].deleted_keys, 2u);

  std::string edited = text;
  edited.replace(edited.find("seg-3:4096"), 10, "seg-3:4097");
  auto bad = DecodeManifest(edited, "M");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bad.status().message(), HasSubstr("crc32c mismatch"));
  EXPECT_THAT(DecodeManifest("{not json", "M").status().message(),
              HasSubstr("bad manifest"));
}

// Found by fuzz/manifest_fuzzer.cc: a number field holding a float beyond
// the integer's range (format_version 2.2e25) was converted by the JSON
// library, which is undefined behaviour; floats, negative counts and values
// past a field's range are DataLoss naming the field, checksum or not.
TEST(ManifestTest, NumberFieldsMustBeIntegersInRange) {
  Manifest m;
  m.id = 3;
  m.files.push_back({"table-000.shard", "C1", 1234, 10, 2, 0xdeadbeef});
  const std::string good = EncodeManifest(m);
  ASSERT_TRUE(DecodeManifest(good, "M").ok());
  // Each edit, with the manifest's checksum made right again, so that the
  // field check and not the checksum refuses it.
  const auto with_field = [&](const std::string& key, nlohmann::json value,
                              bool in_file) {
    nlohmann::json j = nlohmann::json::parse(good);
    j.erase("manifest_crc32c");
    (in_file ? j["files"][0] : j)[key] = std::move(value);
    j["manifest_crc32c"] = ComputeCrc32c(j.dump());
    return DecodeManifest(j.dump(), "M").status();
  };
  struct Case {
    std::string key;
    nlohmann::json value;
    bool in_file;
  };
  const std::vector<Case> cases = {
      {"format_version", 2.2e25, false},
      {"format_version", 1.0, false},
      {"id", -1, false},
      {"id", 3.5, false},
      {"created_unix_ms", 1e300, false},
      {"created_unix_ms", 18446744073709551615u, false},
      {"sync_version", "7", false},
      {"examples", 1e20, false},
      {"bytes", -5, true},
      {"crc32c", 4294967296u, true},
      {"rows", nullptr, true},
  };
  for (const Case& c : cases) {
    const absl::Status st = with_field(c.key, c.value, c.in_file);
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss)
        << c.key << " " << c.value;
    EXPECT_THAT(st.message(), HasSubstr(c.key)) << c.value;
  }
  EXPECT_TRUE(with_field("created_unix_ms", -5, false).ok());
  // A stored checksum that is not a uint32 is damage too.
  std::string edited = good;
  const size_t at = edited.find("\"manifest_crc32c\": ") + 19;
  edited.replace(at, edited.find_first_of(",\n", at) - at, "1e30");
  EXPECT_THAT(DecodeManifest(edited, "M").status().message(),
              HasSubstr("manifest_crc32c: expected an integer"));
  // files must be a list of objects.
  EXPECT_EQ(with_field("files", "x", false).code(),
            absl::StatusCode::kDataLoss);
}

class CheckpointTest : public ckpt_testing::TrainedModelTest {
 protected:
  // An untrained model of the same job, with another dense seed.
  std::unique_ptr<LocalStore> Fresh(const JobConfig& job) {
    auto schema = Schema::Compile(job.schema);
    EXPECT_TRUE(schema.ok()) << schema.status();
    auto model = LocalStore::Create(job, *schema, /*seed=*/999);
    EXPECT_TRUE(model.ok()) << model.status();
    return *std::move(model);
  }
  std::unique_ptr<LocalStore> Fresh() { return Fresh(job_); }

  // What ModelDigest leaves out: each row's last update and value score, and
  // the dense optimizer's step count.
  static std::map<std::pair<std::string, uint64_t>, std::pair<int64_t, float>>
  RowMeta(const LocalStore& m) {
    std::map<std::pair<std::string, uint64_t>, std::pair<int64_t, float>> out;
    for (int t = 0; t < m.num_tables(); ++t) {
      m.table(t).ForEachRow([&](const RowView& r) {
        out[{m.table(t).spec().name, r.key}] = {r.last_update_ms, r.score};
      });
    }
    out[{"steps", 0}] = {m.dense_optimizer().steps(), 0.f};
    return out;
  }

  static int LargestTable(const LocalStore& m) {
    int best = 0;
    for (int t = 1; t < m.num_tables(); ++t) {
      if (m.table(t).size() > m.table(best).size()) best = t;
    }
    return best;
  }

  Manifest WriteFull(LocalStore& m, const std::string& position,
                     size_t block_bytes = 1 << 20) {
    CheckpointWriteOptions opt;
    opt.shard.block_bytes = block_bytes;
    auto man = WriteFullCheckpoint(ckpt_, m, {"cfg-1", position, 5}, opt);
    EXPECT_TRUE(man.ok()) << man.status();
    return man.ok() ? *man : Manifest{};
  }
  Manifest WriteIncremental(LocalStore& m, const std::string& position) {
    auto man = WriteIncrementalCheckpoint(ckpt_, m, {"cfg-1", position, 6});
    EXPECT_TRUE(man.ok()) << man.status();
    return man.ok() ? *man : Manifest{};
  }
};

TEST_F(CheckpointTest, FullRoundTripRestoresTheTrainedModel) {
  std::unique_ptr<Trainer> trainer = Train(400);
  LocalStore& live = trainer->model();
  ASSERT_GT(live.Stats().rows, 100);
  Manifest m = WriteFull(live, "criteo.tsv:12345");
  EXPECT_EQ(m.id, 1u);
  EXPECT_EQ(m.kind, CheckpointKind::kFull);
  EXPECT_EQ(m.files.size(), static_cast<size_t>(live.num_tables() + 1));
  EXPECT_TRUE(fs::exists(fs::path(CkptPath(1)) / "MANIFEST.json"));
  EXPECT_FALSE(fs::exists(CkptPath(1) + ".tmp"));
  ASSERT_TRUE(VerifyCheckpoint(CkptPath(1)).ok());

  std::unique_ptr<LocalStore> fresh = Fresh();
  ASSERT_NE(ModelDigest(*fresh), ModelDigest(live));
  auto restored = RestoreCheckpoint(ckpt_, fresh.get());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id, 1u);
  EXPECT_EQ(restored->metadata.stream_position, "criteo.tsv:12345");
  EXPECT_EQ(restored->metadata.model_config_hash, "cfg-1");
  EXPECT_EQ(restored->metadata.sync_version, 5u);
  EXPECT_EQ(ModelDigest(*fresh), ModelDigest(live));
  EXPECT_EQ(RowMeta(*fresh), RowMeta(live));
  for (int t = 0; t < live.num_tables(); ++t) {
    EXPECT_TRUE(fresh->table(t).CheckInvariants().ok());
  }
}

TEST_F(CheckpointTest, FullPlusTwoIncrementalsEqualsTheLiveModel) {
  int written = 0;
  std::unique_ptr<Trainer> trainer =
      Train(500, [&](LocalStore& model, int64_t examples, double) {
        if (written == 0 && examples >= 160) {
          WriteFull(model, "at-160");
          ++written;
        } else if (written == 1 && examples >= 320) {
          WriteIncremental(model, "at-320");
          ++written;
        }
      });
  ASSERT_EQ(written, 2);
  LocalStore& live = trainer->model();
  const int t = LargestTable(live);
  std::vector<uint64_t> erased = EraseSome(live, t, 7);
  Manifest last = WriteIncremental(live, "at-500");
  EXPECT_EQ(last.id, 3u);
  EXPECT_EQ(last.kind, CheckpointKind::kIncremental);
  EXPECT_EQ(last.parent_id, 1u);
  EXPECT_EQ(last.previous_id, 2u);
  EXPECT_EQ(last.files[t].deleted_keys, 7u);

  auto list = ListCheckpoints(ckpt_);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  // The incrementals are deltas: fewer rows than the model holds.
  uint64_t inc_rows = 0;
  for (const ManifestFile& f : (*list)[1].manifest.files) {
    if (!f.table.empty()) inc_rows += f.rows;
  }
  EXPECT_GT(inc_rows, 0u);
  EXPECT_LT(inc_rows, static_cast<uint64_t>(live.Stats().rows));

  // Restore into a model that already holds rows: they are replaced.
  std::unique_ptr<Trainer> other = Train(100);
  LocalStore& target = other->model();
  auto restored = RestoreCheckpoint(ckpt_, &target);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id, 3u);
  EXPECT_EQ(restored->metadata.stream_position, "at-500");
  EXPECT_EQ(ModelDigest(target), ModelDigest(live));
  EXPECT_EQ(RowMeta(target), RowMeta(live));
  for (uint64_t k : erased) EXPECT_FALSE(target.table(t).Contains(k));

  // Restoring clears the checkpoint dirty bits: an incremental written right
  // after holds no rows.
  Manifest after = WriteIncremental(target, "again");
  for (const ManifestFile& f : after.files) {
    if (!f.table.empty()) {
      EXPECT_EQ(f.rows, 0u) << f.name;
    }
  }
}

TEST_F(CheckpointTest, FirstCheckpointMustBeFull) {
  std::unique_ptr<Trainer> trainer = Train(64);
  auto m = WriteIncrementalCheckpoint(ckpt_, trainer->model(), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RestoreCheckpoint(ckpt_, Fresh().get()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, FlippedByteIsNamedAndRestoreFallsBack) {
  std::unique_ptr<Trainer> trainer = Train(400);
  LocalStore& live = trainer->model();
  WriteFull(live, "first");
  const uint64_t first = ModelDigest(live);
  const int t = LargestTable(live);
  EraseSome(live, t, 10);
  WriteFull(live, "second", /*block_bytes=*/512);
  ASSERT_NE(ModelDigest(live), first);

  const std::string shard =
      (fs::path(CkptPath(2)) / absl::StrFormat("table-%03d.shard", t)).string();
  auto reader = ShardReader::Open(shard);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_GE((*reader)->blocks().size(), 3u);
  const BlockInfo block = (*reader)->blocks()[1];
  reader->reset();
  FlipByte(shard, block.offset + block.compressed_size / 2);

  absl::Status st = VerifyCheckpoint(CkptPath(2));
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(st.message(),
              HasSubstr(absl::StrFormat("table-%03d.shard: block 1 (offset %d)",
                                        t, block.offset)));
  EXPECT_THAT(st.message(), HasSubstr("crc32c mismatch"));
  EXPECT_TRUE(VerifyCheckpoint(CkptPath(1)).ok());

  std::unique_ptr<LocalStore> fresh = Fresh();
  LogCapture log;
  auto restored = RestoreCheckpoint(ckpt_, fresh.get());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id, 1u);
  EXPECT_EQ(restored->metadata.stream_position, "first");
  EXPECT_EQ(ModelDigest(*fresh), first);
  EXPECT_THAT(log.text(), HasSubstr(CkptPath(2) + " skipped"));
  EXPECT_THAT(log.text(), HasSubstr("block 1"));
}

TEST_F(CheckpointTest, DamagedIncrementalRestoresTheChainBeforeIt) {
  std::unique_ptr<Trainer> trainer = Train(300);
  LocalStore& live = trainer->model();
  WriteFull(live, "full");
  EraseSome(live, LargestTable(live), 3);
  WriteIncremental(live, "inc-1");
  const uint64_t at_inc1 = ModelDigest(live);
  EraseSome(live, LargestTable(live), 3);
  WriteIncremental(live, "inc-2");
  // Damage the newest incremental's dense file, inside its first block.
  const std::string dense = (fs::path(CkptPath(3)) / "dense.shard").string();
  auto reader = ShardReader::Open(dense);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const uint64_t offset = (*reader)->blocks()[0].offset + 4;
  reader->reset();
  FlipByte(dense, offset);
  EXPECT_THAT(VerifyCheckpoint(CkptPath(3)).message(),
              HasSubstr("dense.shard: block 0"));

  std::unique_ptr<LocalStore> fresh = Fresh();
  LogCapture log;
  auto restored = RestoreCheckpoint(ckpt_, fresh.get());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id, 2u);
  EXPECT_EQ(ModelDigest(*fresh), at_inc1);
  EXPECT_THAT(log.text(), HasSubstr(CkptPath(3) + " skipped"));
}

TEST_F(CheckpointTest, NoGoodCheckpointIsDataLoss) {
  std::unique_ptr<Trainer> trainer = Train(200);
  WriteFull(trainer->model(), "only");
  const std::string dense = (fs::path(CkptPath(1)) / "dense.shard").string();
  FlipByte(dense, fs::file_size(dense) - 40);  // in the last block's trailer
  std::unique_ptr<LocalStore> fresh = Fresh();
  const uint64_t before = ModelDigest(*fresh);
  LogCapture log;
  auto restored = RestoreCheckpoint(ckpt_, fresh.get());
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ModelDigest(*fresh), before);
  EXPECT_THAT(log.text(), HasSubstr(CkptPath(1) + " skipped"));
  EXPECT_THAT(log.text(), HasSubstr("dense.shard"));
}

TEST_F(CheckpointTest, TruncatedFileIsDetected) {
  std::unique_ptr<Trainer> trainer = Train(300);
  LocalStore& live = trainer->model();
  WriteFull(live, "first");
  const uint64_t first = ModelDigest(live);
  EraseSome(live, LargestTable(live), 5);
  WriteFull(live, "second");
  const std::string shard =
      (fs::path(CkptPath(2)) / "table-000.shard").string();
  const uintmax_t size = fs::file_size(shard);
  fs::resize_file(shard, size - 10);

  absl::Status st = VerifyCheckpoint(CkptPath(2));
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(st.message(), HasSubstr("table-000.shard: truncated"));
  // The reader alone (without the manifest's size) sees a damaged footer.
  auto reader = ShardReader::Open(shard);
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(reader.status().message(), HasSubstr("footer"));

  std::unique_ptr<LocalStore> fresh = Fresh();
  LogCapture log;
  auto restored = RestoreCheckpoint(ckpt_, fresh.get());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id, 1u);
  EXPECT_EQ(ModelDigest(*fresh), first);
  EXPECT_THAT(log.text(), HasSubstr("truncated"));
}

// Leftover directories with huge ids: one beyond 18 digits is not a
// checkpoint name and is ignored (it used to overflow the id parser); one at
// the largest id stops new checkpoints with an error that says what to do,
// and the good chain still restores.
TEST_F(CheckpointTest, HugeLeftoverIdsNeitherOverflowNorHideTheChain) {
  std::unique_ptr<Trainer> trainer = Train(200);
  LocalStore& live = trainer->model();
  WriteFull(live, "first");
  fs::create_directories(fs::path(ckpt_) / "ckpt-99999999999999999999");
  fs::create_directories(fs::path(ckpt_) / "ckpt-18446744073709551616.tmp");
  auto second = WriteFullCheckpoint(ckpt_, live, {"cfg", "second", 2});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->id, 2u);

  fs::create_directories(fs::path(ckpt_) / CheckpointDirName(kMaxCheckpointId));
  auto full = WriteFullCheckpoint(ckpt_, live, {"cfg", "third", 3});
  EXPECT_EQ(full.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(full.status().message(), HasSubstr("checkpoint ids are used up"));
  EXPECT_THAT(full.status().message(), HasSubstr("move that directory away"));
  std::unique_ptr<LocalStore> restored = Fresh();
  auto m = RestoreCheckpoint(ckpt_, restored.get());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, 2u);
  EXPECT_EQ(ModelDigest(*restored), ModelDigest(live));
}

TEST_F(CheckpointTest, MissingManifestOrFileIsDetected) {
  std::unique_ptr<Trainer> trainer = Train(300);
  LocalStore& live = trainer->model();
  WriteFull(live, "first");
  const uint64_t first = ModelDigest(live);
  WriteFull(live, "second");
  WriteFull(live, "third");
  fs::remove(fs::path(CkptPath(3)) / "MANIFEST.json");
  fs::remove(fs::path(CkptPath(2)) / "dense.shard");

  absl::Status st = VerifyCheckpoint(CkptPath(3));
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("MANIFEST.json: missing"));
  st = VerifyCheckpoint(CkptPath(2));
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("dense.shard: missing file"));

  auto list = ListCheckpoints(ckpt_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_FALSE((*list)[2].manifest_status.ok());

  // An incremental cannot follow an unreadable checkpoint.
  EXPECT_EQ(WriteIncrementalCheckpoint(ckpt_, live, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);

  std::unique_ptr<LocalStore> fresh = Fresh();
  LogCapture log;
  auto restored = RestoreCheckpoint(ckpt_, fresh.get());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id, 1u);
  EXPECT_EQ(ModelDigest(*fresh), first);
  EXPECT_THAT(log.text(), HasSubstr(CkptPath(2) + " skipped"));
  EXPECT_THAT(log.text(), HasSubstr(CkptPath(3) + " skipped"));
}

TEST_F(CheckpointTest, LeftoverTmpDirectoryIsIgnored) {
  std::unique_ptr<Trainer> trainer = Train(200);
  LocalStore& live = trainer->model();
  WriteFull(live, "first");
  // A write that died before its rename.
  const std::string tmp = CkptPath(2) + ".tmp";
  fs::create_directories(tmp);
  std::ofstream(fs::path(tmp) / "table-000.shard") << "partial";

  auto list = ListCheckpoints(ckpt_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, 1u);
  std::unique_ptr<LocalStore> fresh = Fresh();
  auto restored = RestoreCheckpoint(ckpt_, fresh.get());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id, 1u);
  EXPECT_EQ(ModelDigest(*fresh), ModelDigest(live));

  // The next id is past the leftover; retention then removes it.
  Manifest next = WriteIncremental(live, "second");
  EXPECT_EQ(next.id, 3u);
  auto removed = ApplyRetention(ckpt_, 1);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_TRUE(fs::exists(CkptPath(1)));
  EXPECT_TRUE(fs::exists(CkptPath(3)));
}

TEST_F(CheckpointTest, RetentionKeepsTheLastFullsAndTheirIncrementals) {
  std::unique_ptr<Trainer> trainer = Train(200);
  LocalStore& live = trainer->model();
  const int t = LargestTable(live);
  WriteFull(live, "1");
  EraseSome(live, t, 1);
  WriteIncremental(live, "2");
  WriteFull(live, "3");
  EraseSome(live, t, 1);
  WriteIncremental(live, "4");
  EraseSome(live, t, 1);
  WriteIncremental(live, "5");
  WriteFull(live, "6");
  EraseSome(live, t, 1);
  WriteIncremental(live, "7");

  auto ids = [&] {
    std::vector<uint64_t> out;
    auto list = ListCheckpoints(ckpt_);
    EXPECT_TRUE(list.ok());
    for (const CheckpointInfo& c : *list) out.push_back(c.id);
    return out;
  };
  auto removed = ApplyRetention(ckpt_, 2);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2);
  EXPECT_THAT(ids(), ::testing::ElementsAre(3, 4, 5, 6, 7));
  removed = ApplyRetention(ckpt_, 2);
  EXPECT_EQ(*removed, 0);

  std::unique_ptr<LocalStore> fresh = Fresh();
  auto restored = RestoreCheckpoint(ckpt_, fresh.get());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id, 7u);
  EXPECT_EQ(ModelDigest(*fresh), ModelDigest(live));

  removed = ApplyRetention(ckpt_, 1);
  EXPECT_EQ(*removed, 3);
  EXPECT_THAT(ids(), ::testing::ElementsAre(6, 7));
}

TEST_F(CheckpointTest, ModelOfAnotherShapeIsRefusedUntouched) {
  std::unique_ptr<Trainer> trainer = Train(200);
  WriteFull(trainer->model(), "p");
  auto job =
      LoadJobConfig(std::string(FRESHET_SOURCE_DIR) + "/examples/criteo.yaml",
                    {"source.path=" + data_, "model.type=lr"});
  ASSERT_TRUE(job.ok());
  std::unique_ptr<LocalStore> other = Fresh(*job);
  const uint64_t before = ModelDigest(*other);
  auto restored = RestoreCheckpoint(ckpt_, other.get());
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ModelDigest(*other), before);
}

}  // namespace
}  // namespace freshet
