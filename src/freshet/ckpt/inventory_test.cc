#include "freshet/ckpt/inventory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/ckpt_test_fixture.h"
#include "freshet/ckpt/manifest.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(InventoryNamesTest, BaseNameCheckpointDirAndTime) {
  EXPECT_EQ(PathBaseName("/x/ckpt-0000000003/"), "ckpt-0000000003");
  EXPECT_EQ(PathBaseName("/x/ckpt"), "ckpt");
  EXPECT_EQ(PathBaseName("/"), "");
  EXPECT_TRUE(IsCheckpointDir("/nowhere/ckpt-0000000042/"));
  EXPECT_TRUE(IsCheckpointDir("/nowhere/ckpt-7"));
  EXPECT_FALSE(IsCheckpointDir("/nowhere/ckpt-"));
  EXPECT_FALSE(IsCheckpointDir("/nowhere/ckpt-7.tmp"));
  EXPECT_FALSE(IsCheckpointDir("/nowhere/checkpoints"));
  EXPECT_EQ(UtcTimeText(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(UtcTimeText(1795203090123), "2026-11-20T19:31:30.123Z");
}

class InventoryTest : public ckpt_testing::TrainedModelTest {
 protected:
  // A full checkpoint at 100 examples and an incremental at 200.
  void WriteTwo() {
    int written = 0;
    trainer_ = Train(250, [&](LocalStore& model, int64_t examples, double) {
      if (written == 0 && examples >= 100) {
        ASSERT_TRUE(
            WriteFullCheckpoint(ckpt_, model, {"cfg", "at-100", 3, 100}).ok());
        ++written;
      } else if (written == 1 && examples >= 200) {
        ASSERT_TRUE(
            WriteIncrementalCheckpoint(ckpt_, model, {"cfg", "at-200", 4, 200})
                .ok());
        ++written;
      }
    });
    ASSERT_EQ(written, 2);
  }

  std::unique_ptr<Trainer> trainer_;
};

TEST_F(InventoryTest, FolderErrors) {
  absl::Status st = CheckCheckpointFolder((dir_ / "missing").string());
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("missing: no such folder"));
  const std::string file = (dir_ / "file").string();
  std::ofstream(file) << "x";
  st = CheckCheckpointFolder(file);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("file: not a folder"));
  EXPECT_EQ(ListCheckpointFolder(file).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ListCheckpointFolder((dir_ / "missing").string()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(CheckCheckpointFolder(dir_.string()).ok());
  auto empty = ListCheckpointFolder(dir_.string());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_THAT(*empty, IsEmpty());
}

TEST_F(InventoryTest, ListsCheckpointsAndLeftoverTmpByIdWithManifestFields) {
  WriteTwo();
  const fs::path tmp = fs::path(ckpt_) / "ckpt-0000000003.tmp";
  fs::create_directories(tmp);
  std::ofstream(tmp / "table-000.shard") << "partial";
  fs::create_directories(fs::path(ckpt_) / "ckpt-x.tmp");  // not an id

  auto entries = ListCheckpointFolder(ckpt_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  auto list = ListCheckpoints(ckpt_);
  ASSERT_TRUE(list.ok());
  for (size_t i = 0; i < 2; ++i) {
    const FolderEntry& e = (*entries)[i];
    EXPECT_TRUE(e.published);
    EXPECT_EQ(e.info.id, i + 1);
    EXPECT_EQ(e.name, CheckpointDirName(i + 1));
    EXPECT_EQ(e.info.path, CkptPath(i + 1));
    ASSERT_TRUE(e.info.manifest_status.ok());
    uint64_t rows = 0, deleted = 0, bytes = 0;
    for (const ManifestFile& f : (*list)[i].manifest.files) {
      if (!f.table.empty()) {
        rows += f.rows;
        deleted += f.deleted_keys;
      }
      bytes += f.bytes;
    }
    EXPECT_GT(rows, 0u);
    EXPECT_EQ(e.rows, rows);
    EXPECT_EQ(e.deleted_keys, deleted);
    EXPECT_GT(e.bytes, bytes);  // the shard files plus MANIFEST.json
  }
  EXPECT_EQ((*entries)[1].info.manifest.metadata.stream_position, "at-200");
  const FolderEntry& t = (*entries)[2];
  EXPECT_FALSE(t.published);
  EXPECT_EQ(t.info.id, 3u);
  EXPECT_EQ(t.name, "ckpt-0000000003.tmp");
  EXPECT_EQ(t.bytes, 7u);

  nlohmann::json j = FolderJson(ckpt_, *entries);
  EXPECT_EQ(j["dir"], ckpt_);
  ASSERT_EQ(j["checkpoints"].size(), 3u);
  const nlohmann::json& full = j["checkpoints"][0];
  EXPECT_EQ(full["kind"], "full");
  EXPECT_EQ(full["status"], "ok");
  EXPECT_EQ(full["stream_position"], "at-100");
  EXPECT_EQ(full["examples"], 100);
  EXPECT_EQ(full["sync_version"], 3);
  EXPECT_EQ(full["model_config_hash"], "cfg");
  EXPECT_EQ(full["rows"], (*entries)[0].rows);
  EXPECT_EQ(full["created"],
            UtcTimeText((*entries)[0].info.manifest.created_unix_ms));
  EXPECT_FALSE(full.contains("parent_id"));
  const nlohmann::json& inc = j["checkpoints"][1];
  EXPECT_EQ(inc["kind"], "incremental");
  EXPECT_EQ(inc["parent_id"], 1);
  EXPECT_EQ(inc["previous_id"], 1);
  EXPECT_EQ(j["checkpoints"][2]["kind"], "unpublished");
  EXPECT_EQ(j["checkpoints"][2]["status"], "unpublished");
  EXPECT_EQ(j["checkpoints"][2]["bytes"], 7);

  // A damaged manifest: the entry carries its error and no counts.
  std::ofstream(fs::path(CkptPath(2)) / kManifestFileName) << "{}";
  entries = ListCheckpointFolder(ckpt_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  const FolderEntry& bad = (*entries)[1];
  EXPECT_TRUE(bad.published);
  EXPECT_FALSE(bad.info.manifest_status.ok());
  EXPECT_EQ(bad.rows, 0u);
  j = FolderJson(ckpt_, *entries);
  EXPECT_THAT(j["checkpoints"][1]["status"].get<std::string>(),
              HasSubstr("bad manifest"));
  EXPECT_FALSE(j["checkpoints"][1].contains("kind"));
}

TEST_F(InventoryTest, VerifiesEveryCheckpointAndChoosesTheRestoreChain) {
  WriteTwo();
  auto entries = ListCheckpointFolder(ckpt_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<uint64_t> seen;
  FolderVerification v = VerifyCheckpointFolder(
      *entries, [&](const CheckpointVerdict& c) { seen.push_back(c.id); });
  EXPECT_THAT(seen, ElementsAre(1, 2));
  ASSERT_EQ(v.verdicts.size(), 2u);
  EXPECT_TRUE(v.verdicts[0].status.ok() && v.verdicts[1].status.ok());
  EXPECT_EQ(v.damaged, 0);
  EXPECT_THAT(v.chain, ElementsAre(1, 2));
  EXPECT_EQ(v.chain_last.id, 2u);
  EXPECT_EQ(v.chain_last.metadata.stream_position, "at-200");
  EXPECT_THAT(v.unused, IsEmpty());

  // The incremental damaged, a good one written after it: restore stops at
  // the full, and the good one after the damage is not used.
  fs::remove(fs::path(CkptPath(2)) / "dense.shard");
  ASSERT_TRUE(WriteIncrementalCheckpoint(ckpt_, trainer_->model(),
                                         {"cfg", "at-250", 5, 250})
                  .ok());
  fs::create_directories(fs::path(ckpt_) / "ckpt-0000000009.tmp");
  entries = ListCheckpointFolder(ckpt_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  v = VerifyCheckpointFolder(*entries);
  ASSERT_EQ(v.verdicts.size(), 3u);
  EXPECT_EQ(v.verdicts[1].status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(v.verdicts[1].status.message(), HasSubstr("dense.shard"));
  EXPECT_TRUE(v.verdicts[2].status.ok());
  EXPECT_EQ(v.damaged, 1);
  EXPECT_THAT(v.chain, ElementsAre(1));
  EXPECT_EQ(v.chain_last.id, 1u);
  ASSERT_EQ(v.unused.size(), 1u);
  EXPECT_EQ(v.unused[0].first, 3u);
  EXPECT_FALSE(v.unused[0].second.empty());

  // No good full checkpoint: no chain.
  fs::remove(fs::path(CkptPath(1)) / "dense.shard");
  v = VerifyCheckpointFolder(*ListCheckpointFolder(ckpt_));
  EXPECT_EQ(v.damaged, 2);
  EXPECT_THAT(v.chain, IsEmpty());
}

TEST_F(InventoryTest, AnUnreadableManifestIsItsVerdict) {
  WriteTwo();
  std::ofstream(fs::path(CkptPath(2)) / kManifestFileName) << "not json";
  auto entries = ListCheckpointFolder(ckpt_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  FolderVerification v = VerifyCheckpointFolder(*entries);
  ASSERT_EQ(v.verdicts.size(), 2u);
  EXPECT_EQ(v.verdicts[1].status, (*entries)[1].info.manifest_status);
  EXPECT_EQ(v.damaged, 1);
  EXPECT_THAT(v.chain, ElementsAre(1));
}

}  // namespace
}  // namespace freshet
