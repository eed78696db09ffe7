// End-to-end test of `freshet run`: the embedded pipeline started as a user
// starts it, driven over HTTP on 127.0.0.1 with an ephemeral port.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"

// Last: it brings <resolv.h>, whose _res macro breaks other headers.
#include <httplib.h>

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

class RunE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_run_e2e_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    run_.Kill();
    fs::remove_all(dir_);
  }

  // Starts `freshet run ARGS` with stdout and stderr to files.
  void Start(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {FRESHET_BINARY, "run"};
    argv.insert(argv.end(), args.begin(), args.end());
    run_.Start(argv, dir_ / "stdout", dir_ / "stderr");
  }

  std::string Read(const std::string& name) {
    return test::ReadFile(dir_ / name);
  }

  fs::path dir_;
  test::ChildProcess run_;
};

TEST_F(RunE2eTest, TrainsSyncsAndServesOverHttp) {
  const std::string port_file = dir_ / "port";
  Start({"--config",
         std::string(FRESHET_SOURCE_DIR) + "/examples/synthetic.yaml", "--set",
         "source.rows=5000000", "--set", "train.threads=1", "--http-port", "0",
         "--port-file", port_file, "--sync-interval-ms", "100", "--duration-s",
         "60"});
  const int port = run_.WaitForPort(port_file, 30);
  ASSERT_GT(port, 0) << Read("stderr");
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);

  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  const std::string request =
      R"({"context": {"C1": "68fd1e64", "I1": 3, "I2": 1},
          "candidates": [{"C3": "a"}, {"C3": "b"}, {"C4": "c"}]})";
  // The served version advances as training runs and sync applies batches.
  uint64_t first_version = 0, version = 0;
  for (int i = 0; i < 100; ++i) {
    auto res = client.Post("/v1/predict", request, "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    json j = json::parse(res->body);
    ASSERT_EQ(j["scores"].size(), 3u);
    EXPECT_TRUE(j.contains("staleness_ms"));
    version = j["model_version"].get<uint64_t>();
    if (i == 0) first_version = version;
    if (version >= first_version + 3) {
      EXPECT_EQ(j["degradation"], "fresh") << res->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(version, first_version + 3);

  auto bad = client.Post("/v1/predict", R"({"candidates": [{"C99": 1}]})",
                         "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("C99"));

  json st;
  for (int i = 0; i < 100; ++i) {  // progress is published every 250 ms
    auto status = client.Get("/statusz");
    ASSERT_TRUE(status);
    st = json::parse(status->body);
    if (st["training"]["examples"].get<int64_t>() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(st["training"]["examples"].get<int64_t>(), 0);
  EXPECT_GT(st["sync"]["rows_applied"].get<int64_t>(), 0);

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* name :
       {"freshet_train_examples_per_second", "freshet_train_progressive_auc",
        "freshet_sync_freshness_seconds_count",
        "freshet_sync_published_bytes_total",
        "freshet_predict_latency_seconds_bucket",
        "freshet_serving_table_bytes"}) {
    EXPECT_THAT(metrics->body, HasSubstr(name));
  }

  EXPECT_EQ(run_.Terminate(20), 0) << Read("stderr");
  const std::string out = Read("stdout");
  EXPECT_THAT(out, HasSubstr("freshness    p50"));
  EXPECT_THAT(out, HasSubstr("serving      "));
}

TEST_F(RunE2eTest, BadConfigFailsWithAMessage) {
  const std::string config = dir_ / "bad.yaml";
  std::ofstream(config)
      << "schema:\n  slots: [a]\nmodel: {type: nosuchmodel}\n";
  Start({"--config", config, "--http-port", "0"});
  ASSERT_TRUE(run_.Wait(60));
  EXPECT_EQ(run_.exit_code(), 2);
  EXPECT_THAT(Read("stderr"), HasSubstr("freshet run:"));
}

}  // namespace
}  // namespace freshet
