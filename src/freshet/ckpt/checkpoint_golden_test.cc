// The checkpoint format pinned by bytes: a fixed small model (fm: two
// embedding tables, their wide tables, a dense part with optimizer state),
// written as a full checkpoint and an incremental one, must give exactly the
// files in tests/golden/ckpt/, and those files must restore to the model.
//
// A change of these bytes is a change of the format: bump
// kCheckpointFormatVersion or the shard file version, update
// docs/checkpoint_format.md and regenerate with
//   FRESHET_UPDATE_GOLDEN=1 build/freshet_ckpt_test --gtest_filter='*Golden*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "freshet/base/config.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/data/data_test_util.h"
#include "freshet/data/schema.h"
#include "freshet/store/local_store.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

constexpr char kJob[] = R"(
schema:
  label: {name: y, column: y}
  slots:
    - {name: user, column: user}
    - {name: item, column: item}
table_defaults:
  dim: 3
  optimizer: {type: adagrad}
model: {type: fm}
source: {type: file, path: golden.csv, format: csv, header: true}
)";

std::unique_ptr<LocalStore> NewStore() {
  auto job = ParseJobConfig(kJob, "golden.yaml", "/nonexistent");
  EXPECT_TRUE(job.ok()) << job.status();
  if (!job.ok()) return nullptr;
  auto schema = Schema::Compile(job->schema);
  EXPECT_TRUE(schema.ok()) << schema.status();
  EmbeddingTableOptions options;
  options.track_checkpoint = true;
  auto store = LocalStore::Create(*job, *schema, 5, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Fixed rows and dense values, none of them drawn at random.
void FillFixed(LocalStore& store) {
  for (int t = 0; t < store.num_tables(); ++t) {
    EmbeddingTable& table = store.table(t);
    const uint64_t keys[] = {1, 2, 3, 1000, 0xfedcba9876543210};
    for (uint64_t k : keys) {
      std::vector<float> w(table.dim()), s(table.state_floats());
      for (size_t i = 0; i < w.size(); ++i) {
        w[i] = 0.125f * static_cast<float>(t + 1) -
               0.0625f * static_cast<float>(i) +
               static_cast<float>(k % 7) / 64.0f;
      }
      for (size_t i = 0; i < s.size(); ++i) {
        s[i] = 0.5f + static_cast<float>(i + k % 5);
      }
      ASSERT_TRUE(table
                      .Restore(k, w, s, static_cast<int64_t>(1000 * (k % 9)),
                               0.25f * static_cast<float>(k % 4))
                      .ok());
    }
  }
  absl::Span<float> params = store.dense().params();
  for (size_t i = 0; i < params.size(); ++i) {
    params[i] = static_cast<float>(static_cast<int>(i % 11) - 5) / 32.0f;
  }
  std::vector<float> state(store.dense_optimizer().state().size());
  for (size_t i = 0; i < state.size(); ++i) {
    state[i] = 1.0f + static_cast<float>(i % 3);
  }
  ASSERT_TRUE(store.dense_optimizer().Restore(state, 17).ok());
}

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The manifest without its creation time, which is the clock's.
std::string ManifestWithoutTime(const fs::path& dir) {
  absl::StatusOr<Manifest> m = ReadManifest(dir.string());
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return "";
  m->created_unix_ms = 0;
  return EncodeManifest(*m);
}

TEST(CheckpointGoldenTest, FullAndIncrementalBytesEqualTheGoldenFiles) {
  testing_util::TempDir temp;
  const fs::path dir = fs::path(temp.path()) / "ckpt";
  std::unique_ptr<LocalStore> store = NewStore();
  ASSERT_NE(store, nullptr);
  ASSERT_NO_FATAL_FAILURE(FillFixed(*store));
  ASSERT_TRUE(WriteFullCheckpoint(dir.string(), *store,
                                  {"golden-config", "golden.csv:0:96", 7, 100})
                  .ok());
  // One row changed, one erased, one added: the incremental.
  EmbeddingTable& user = store->table(0);
  const std::vector<float> w(user.dim(), -0.75f);
  const std::vector<float> s(user.state_floats(), 2.5f);
  ASSERT_TRUE(user.Restore(2, w, s, 9000, 1.5f).ok());
  ASSERT_TRUE(user.Erase(3));
  ASSERT_TRUE(user.Restore(77, w, s, 9500, 0.5f).ok());
  ASSERT_TRUE(
      WriteIncrementalCheckpoint(dir.string(), *store,
                                 {"golden-config", "golden.csv:0:192", 9, 200})
          .ok());
  const uint64_t digest = ModelDigest(*store);

  const fs::path golden =
      fs::path(FRESHET_SOURCE_DIR) / "tests" / "golden" / "ckpt";
  const char* update = std::getenv("FRESHET_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    fs::remove_all(golden);
    fs::create_directories(golden);
    for (const char* name : {"ckpt-0000000001", "ckpt-0000000002"}) {
      fs::copy(dir / name, golden / name, fs::copy_options::recursive);
    }
  }

  for (const char* name : {"ckpt-0000000001", "ckpt-0000000002"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fs::is_directory(golden / name)) << golden / name;
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(golden / name)) {
      files.push_back(e.path().filename().string());
    }
    std::vector<std::string> written;
    for (const auto& e : fs::directory_iterator(dir / name)) {
      written.push_back(e.path().filename().string());
    }
    std::sort(files.begin(), files.end());
    std::sort(written.begin(), written.end());
    ASSERT_EQ(written, files);
    for (const std::string& f : files) {
      SCOPED_TRACE(f);
      if (f == kManifestFileName) {
        EXPECT_EQ(ManifestWithoutTime(dir / name),
                  ManifestWithoutTime(golden / name));
        continue;
      }
      const std::string got = ReadBytes(dir / name / f);
      const std::string want = ReadBytes(golden / name / f);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i], want[i]) << "first difference at byte " << i;
      }
    }
  }

  // The golden chain restores to the model that wrote it.
  const fs::path copy = fs::path(temp.path()) / "golden";
  fs::copy(golden, copy, fs::copy_options::recursive);
  std::unique_ptr<LocalStore> restored = NewStore();
  ASSERT_NE(restored, nullptr);
  absl::StatusOr<Manifest> m = RestoreCheckpoint(copy.string(), restored.get());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, 2u);
  EXPECT_EQ(m->metadata.stream_position, "golden.csv:0:192");
  EXPECT_EQ(m->metadata.examples, 200);
  EXPECT_EQ(ModelDigest(*restored), digest);
}

}  // namespace
}  // namespace freshet
