#include "freshet/ckpt/inventory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "freshet/base/human_bytes.h"
#include "freshet/ckpt/chain_reader.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/ckpt_test_fixture.h"
#include "freshet/ckpt/inventory_text.h"
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

// inventory_text.h: what `freshet ckpt ls`, `verify` and `digest` print.

TEST_F(InventoryTest, FolderTextIsATableOrSaysThereIsNothing) {
  EXPECT_EQ(FolderText(dir_.string(), {}),
            dir_.string() + ": no checkpoints\n");
  const std::string one = (dir_ / "ckpt-0000000004").string();
  EXPECT_EQ(FolderText(one, {}),
            one +
                ": no checkpoints (it is one checkpoint directory: list its "
                "folder)\n");

  WriteTwo();
  fs::create_directories(fs::path(ckpt_) / "ckpt-0000000003.tmp");
  auto entries = ListCheckpointFolder(ckpt_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  const Manifest& inc = (*entries)[1].info.manifest;
  EXPECT_THAT(FolderRow((*entries)[1]),
              ElementsAre("2", "incremental", "1", "1",
                          UtcTimeText(inc.created_unix_ms), "at-200", "200",
                          absl::StrCat((*entries)[1].rows),
                          absl::StrCat((*entries)[1].deleted_keys),
                          HumanBytes((*entries)[1].bytes), "ok"));
  EXPECT_THAT(FolderRow((*entries)[0]),
              ElementsAre("1", "full", "-", "-", ::testing::_, "at-100", "100",
                          ::testing::_, ::testing::_, ::testing::_, "ok"));
  EXPECT_THAT(
      FolderRow((*entries)[2]),
      ElementsAre("3", "(.tmp)", "-", "-", "-", "-", "-", "-", "-", "0 B",
                  "unpublished: a write in progress or one that died"));

  const std::string text = FolderText(ckpt_, *entries);
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ASSERT_EQ(lines.size(), 5u);  // header, three rows, after the last newline
  EXPECT_EQ(lines[4], "");
  EXPECT_THAT(lines[0], ::testing::StartsWith("ID  KIND         PARENT  "));
  EXPECT_THAT(lines[0], ::testing::EndsWith("  STATUS"));
  // The columns line up: each row's status under the header's.
  EXPECT_EQ(lines[1].rfind("  ok") + 2, lines[0].rfind("STATUS"));
  EXPECT_EQ(lines[3].find("  unpublished") + 2, lines[0].rfind("STATUS"));
  EXPECT_THAT(lines[1], ::testing::StartsWith("1   full         -       "));
  EXPECT_THAT(lines[2], ::testing::StartsWith("2   incremental  1       "));
  EXPECT_THAT(lines[3], ::testing::StartsWith("3   (.tmp)       -       "));
  EXPECT_THAT(lines[3], ::testing::EndsWith(
                            "  unpublished: a write in progress or one that "
                            "died"));

  // A manifest that cannot be read: question marks and its error.
  std::ofstream(fs::path(CkptPath(2)) / kManifestFileName) << "{}";
  entries = ListCheckpointFolder(ckpt_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> bad = FolderRow((*entries)[1]);
  ASSERT_EQ(bad.size(), 11u);
  EXPECT_EQ(bad[0], "2");
  for (int i = 1; i <= 8; ++i) EXPECT_EQ(bad[i], "?") << i;
  EXPECT_THAT(bad[10], HasSubstr("bad manifest"));
}

TEST_F(InventoryTest, VerifyFolderTextStreamsVerdictsThenTheChain) {
  EXPECT_EQ(VerdictLine("ckpt-0000000001", absl::OkStatus()),
            "ckpt-0000000001 ok\n");
  EXPECT_EQ(VerdictLine("ckpt-0000000001", absl::DataLossError("crc")),
            "ckpt-0000000001 DAMAGED: crc\n");

  std::vector<std::string> lines;
  auto print = [&](const std::string& line) { lines.push_back(line); };
  fs::create_directories(fs::path(ckpt_) / "ckpt-0000000007.tmp");
  FolderVerification v =
      VerifyFolderText(ckpt_, *ListCheckpointFolder(ckpt_), print);
  EXPECT_TRUE(v.verdicts.empty());
  EXPECT_THAT(lines,
              ElementsAre("ckpt-0000000007.tmp ignored: unpublished (a write "
                          "in progress or one that died)\n",
                          ckpt_ + ": no checkpoints to verify\n"));
  fs::remove_all(fs::path(ckpt_) / "ckpt-0000000007.tmp");

  WriteTwo();
  lines.clear();
  v = VerifyFolderText(ckpt_, *ListCheckpointFolder(ckpt_), print);
  EXPECT_EQ(v.damaged, 0);
  EXPECT_THAT(lines, ElementsAre("ckpt-0000000001 ok\n", "ckpt-0000000002 ok\n",
                                 "restore would use ckpt-0000000002 (chain 1, "
                                 "2; stream position \"at-200\")\n"));

  // The incremental damaged and a good one after it.
  fs::remove(fs::path(CkptPath(2)) / "dense.shard");
  ASSERT_TRUE(WriteIncrementalCheckpoint(ckpt_, trainer_->model(),
                                         {"cfg", "at-250", 5, 250})
                  .ok());
  lines.clear();
  v = VerifyFolderText(ckpt_, *ListCheckpointFolder(ckpt_), print);
  EXPECT_EQ(v.damaged, 1);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "ckpt-0000000001 ok\n");
  EXPECT_THAT(lines[1], ::testing::StartsWith("ckpt-0000000002 DAMAGED: "));
  EXPECT_EQ(lines[2], "ckpt-0000000003 ok\n");
  EXPECT_THAT(lines[3],
              ::testing::StartsWith("ckpt-0000000003 not used by restore: "));
  EXPECT_EQ(lines[4],
            "restore would use ckpt-0000000001 (chain 1; stream position "
            "\"at-100\")\n");
  EXPECT_EQ(lines[5], "1 of 3 checkpoints damaged\n");

  // No good full checkpoint.
  fs::remove(fs::path(CkptPath(1)) / "dense.shard");
  lines.clear();
  v = VerifyFolderText(ckpt_, *ListCheckpointFolder(ckpt_), print);
  EXPECT_EQ(v.damaged, 2);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[lines.size() - 2],
            "restore would fail: no good full checkpoint\n");
  EXPECT_EQ(lines.back(), "2 of 3 checkpoints damaged\n");
}

TEST_F(InventoryTest, ChainDigestTextIsTheDigestAndWhatItIsOf) {
  WriteTwo();
  auto chain = ReadCheckpointChain(ckpt_);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(ChainDigestText(*chain),
            absl::StrFormat("digest       %016x\n", ChainDigest(*chain)) +
                "as of        ckpt-0000000002 (chain 1, 2), created " +
                UtcTimeText(chain->last.created_unix_ms) +
                ", stream position \"at-200\"\n");
}

}  // namespace
}  // namespace freshet
