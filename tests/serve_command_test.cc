// End-to-end tests of `freshet serve --checkpoint DIR`: the newest good
// checkpoint of a model trained in the test, served over HTTP on 127.0.0.1
// with an ephemeral port, answers as the model itself does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "ckpt_test_util.h"
#include "freshet/data/schema.h"
#include "freshet/serve/predictor.h"
#include "freshet/serve/serving_replica.h"
#include "freshet/sync/sync_publisher.h"
// Last: it brings <resolv.h>, whose _res macro breaks Eigen.
#include <httplib.h>

namespace freshet {
namespace ckpt_test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class ServeCommandTest : public CheckpointedModelTest {
 protected:
  // Starts `freshet serve --config ... ARGS` in `child`, with stdout and
  // stderr to DIR/NAME.out and DIR/NAME.err, and waits for its port (0 if
  // it exited first).
  int Start(ChildProcess* child, const std::string& name,
            const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"serve", "--config", config_};
    for (const std::string& o : overrides_) {
      argv.push_back("--set");
      argv.push_back(o);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string port_file = dir_ / (name + ".port");
    argv.insert(argv.end(), {"--http-port", "0", "--port-file", port_file});
    child->Start(argv, {}, dir_ / (name + ".out"), dir_ / (name + ".err"));
    return child->WaitForPort(port_file, 60);
  }
  // Copies checkpoints 1 and 2 of the model into a new folder and serves
  // it with server_, looking for newer checkpoints every 0.1 s; the port.
  int ServeLiveFolder() {
    live_ = dir_ / "live";
    fs::create_directories(live_);
    for (uint64_t id : {1, 2}) {
      fs::copy(CkptPath(id), live_ / CheckpointDirName(id),
               fs::copy_options::recursive);
    }
    return Start(&server_, "live",
                 {"--checkpoint", live_.string(), "--reload-every", "0.1",
                  "--duration-s", "120"});
  }

  // A request built from the first records of the data: the context takes
  // C1..C13 and I1..I13 of record 0, each candidate C14..C26 of record k.
  std::string RequestFromData(int candidates) const {
    std::ifstream in(data_);
    std::string line;
    json req = {{"context", json::object()}, {"candidates", json::array()}};
    for (int k = 0; k < candidates && std::getline(in, line); ++k) {
      std::vector<std::string> cols = absl::StrSplit(line, '\t');
      EXPECT_EQ(cols.size(), 40u) << line;
      if (cols.size() != 40) break;
      if (k == 0) {
        for (int i = 1; i <= 13; ++i) {
          if (!cols[i].empty()) {
            req["context"]["I" + std::to_string(i)] = std::stod(cols[i]);
          }
        }
        for (int c = 1; c <= 13; ++c) {
          if (!cols[13 + c].empty()) {
            req["context"]["C" + std::to_string(c)] = cols[13 + c];
          }
        }
      }
      json cand = json::object();
      for (int c = 14; c <= 26; ++c) {
        if (!cols[13 + c].empty()) cand["C" + std::to_string(c)] = cols[13 + c];
      }
      req["candidates"].push_back(cand);
    }
    return req.dump();
  }

  // The model_version of the answer of the server on `port` to a request
  // of two candidates; -1 (and a test failure) when it did not answer 200.
  int64_t PredictedVersion(int port) const {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10);
    auto res =
        client.Post("/v1/predict", RequestFromData(2), "application/json");
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    if (!res || res->status != 200) return -1;
    return json::parse(res->body)["model_version"].get<int64_t>();
  }

  ChildProcess server_;
  fs::path live_;
};

TEST_F(ServeCommandTest, ServesTheCheckpointWithTheModelsOwnScores) {
  const int port =
      Start(&server_, "serve", {"--duration-s", "120", "--checkpoint", ckpt_});
  ASSERT_GT(port, 0) << ReadFile(dir_ / "serve.err");
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);

  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  // What the trained model itself predicts: a replica in this process, fed
  // the whole model by one sync batch, and a Predictor over it.
  auto schema = Schema::Compile(job_.schema);
  ASSERT_TRUE(schema.ok()) << schema.status();
  auto replica = ServingReplica::Create(job_, *schema);
  ASSERT_TRUE(replica.ok()) << replica.status();
  ReplicaSink sink(replica->get());
  SyncPublisher publisher(&model(), &sink, {});
  ASSERT_TRUE(publisher.PublishNow().ok());
  Predictor predictor(replica->get(), {});

  const std::string body = RequestFromData(5);
  auto parsed = ParsePredictRequest(body, (*replica)->schema(), 1000);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  PredictResult expected;
  ASSERT_TRUE(predictor.Predict(*parsed, &expected).ok());

  auto res = client.Post("/v1/predict", body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["model_version"], 3);
  EXPECT_EQ(j["degradation"], "fresh");
  ASSERT_EQ(j["scores"].size(), expected.scores.size());
  for (size_t i = 0; i < expected.scores.size(); ++i) {
    const float got = static_cast<float>(j["scores"][i].get<double>());
    EXPECT_TRUE(std::isfinite(got));
    EXPECT_EQ(got, expected.scores[i]) << "candidate " << i;
  }
  // The candidates differ, and so do their scores: the comparison above is
  // not between constants.
  EXPECT_NE(expected.scores[0], expected.scores[1]);

  auto status = client.Get("/statusz");
  ASSERT_TRUE(status);
  json st = json::parse(status->body);
  EXPECT_EQ(st["model_version"], 3);
  EXPECT_EQ(st["checkpoint"]["id"], 3);
  EXPECT_EQ(st["checkpoint"]["stream_position"], "at-500");
  EXPECT_EQ(st["checkpoint"]["chain"], json::array({1, 2, 3}));
  EXPECT_EQ(st["checkpoint"]["rows"].get<int64_t>(), model().Stats().rows);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("freshet_checkpoint_id 3\n"));
  EXPECT_THAT(metrics->body, HasSubstr("freshet_predict_latency_seconds"));

  auto bad = client.Post("/v1/predict", R"({"candidates": [{"C99": 1}]})",
                         "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);

  EXPECT_EQ(server_.Stop(SIGTERM, 20), 0) << ReadFile(dir_ / "serve.err");
  EXPECT_THAT(ReadFile(dir_ / "serve.out"),
              HasSubstr("ckpt-0000000003: 2 requests"));
}

TEST_F(ServeCommandTest, ServesThePreviousCheckpointWhenTheNewestIsDamaged) {
  DamageLargestTable(3);
  const int port =
      Start(&server_, "serve", {"--checkpoint", ckpt_, "--duration-s", "60"});
  ASSERT_GT(port, 0) << ReadFile(dir_ / "serve.err");
  EXPECT_EQ(PredictedVersion(port), 2);
  EXPECT_EQ(server_.Stop(SIGINT, 20), 0);
  EXPECT_THAT(ReadFile(dir_ / "serve.err"),
              HasSubstr(CkptPath(3) + " skipped"));
}

// A checkpoint published into the folder while it is served replaces the
// one served: the replica then answers, row for row, as a server started on
// the whole folder, and the rows erased between the two are gone.
TEST_F(ServeCommandTest, FollowsTheFolderToANewerCheckpoint) {
  const int port = ServeLiveFolder();
  ASSERT_GT(port, 0) << ReadFile(dir_ / "live.err");
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10);
  auto status_of = [](httplib::Client& c) {
    auto res = c.Get("/statusz");
    return res && res->status == 200 ? json::parse(res->body) : json();
  };
  EXPECT_EQ(status_of(client)["checkpoint"]["id"], 2);
  const std::string body = RequestFromData(5);
  auto before = client.Post("/v1/predict", body, "application/json");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200) << before->body;

  // Published as the checkpointer does: a .tmp directory renamed into place.
  const fs::path tmp = live_ / (CheckpointDirName(3) + ".tmp");
  fs::copy(CkptPath(3), tmp, fs::copy_options::recursive);
  fs::rename(tmp, live_ / CheckpointDirName(3));
  ASSERT_TRUE(test::WaitUntil(
      [&] { return status_of(client)["checkpoint"]["id"] == 3; }, 30))
      << ReadFile(dir_ / "live.err");
  const json reloaded = status_of(client);
  EXPECT_EQ(reloaded["model_version"], 3);
  EXPECT_EQ(reloaded["checkpoint"]["chain"], json::array({1, 2, 3}));
  EXPECT_EQ(reloaded["checkpoint"]["rows"].get<int64_t>(),
            model().Stats().rows);
  EXPECT_GT(reloaded["sync"]["deletes_applied"].get<int64_t>(), 0);
  EXPECT_THAT(
      ReadFile(dir_ / "live.err"),
      HasSubstr("now serving " + (live_ / CheckpointDirName(3)).string()));

  // A server started on the folder the checkpoints came from.
  ChildProcess whole;
  const int whole_port =
      Start(&whole, "whole", {"--checkpoint", ckpt_, "--duration-s", "120"});
  ASSERT_GT(whole_port, 0) << ReadFile(dir_ / "whole.err");
  httplib::Client whole_client("127.0.0.1", whole_port);
  whole_client.set_read_timeout(10);
  // Rows per table (not bytes: the reloaded tables held more rows once).
  auto rows_of = [](const json& status) {
    json rows = json::object();
    for (const json& t : status["tables"]) rows[t["name"]] = t["rows"];
    return rows;
  };
  EXPECT_EQ(rows_of(reloaded), rows_of(status_of(whole_client)));
  auto after = client.Post("/v1/predict", body, "application/json");
  auto expected = whole_client.Post("/v1/predict", body, "application/json");
  ASSERT_TRUE(after && expected);
  ASSERT_EQ(after->status, 200) << after->body;
  EXPECT_EQ(json::parse(after->body)["scores"],
            json::parse(expected->body)["scores"]);
  // The scores moved with the reload: the comparison is not between
  // answers that never change.
  EXPECT_NE(json::parse(before->body)["scores"],
            json::parse(after->body)["scores"]);

  EXPECT_EQ(whole.Stop(SIGTERM, 20), 0) << ReadFile(dir_ / "whole.err");
  EXPECT_EQ(server_.Stop(SIGTERM, 20), 0) << ReadFile(dir_ / "live.err");
  EXPECT_THAT(ReadFile(dir_ / "live.out"), HasSubstr("ckpt-0000000003: "));
}

// A newer checkpoint that is damaged is passed over with a warning; the one
// served stays.
TEST_F(ServeCommandTest, KeepsServingWhenTheNewerCheckpointIsDamaged) {
  DamageLargestTable(3);
  const int port = ServeLiveFolder();
  ASSERT_GT(port, 0) << ReadFile(dir_ / "live.err");
  fs::copy(CkptPath(3), live_ / CheckpointDirName(3),
           fs::copy_options::recursive);
  ASSERT_TRUE(test::WaitUntil(
      [&] {
        return ReadFile(dir_ / "live.err")
                   .find("keeps serving ckpt-0000000002") != std::string::npos;
      },
      30))
      << ReadFile(dir_ / "live.err");
  EXPECT_EQ(PredictedVersion(port), 2);
  // Passed over once, not re-read at every look.
  test::SleepS(0.5);
  const std::string err = ReadFile(dir_ / "live.err");
  size_t warnings = 0;
  for (size_t at = err.find("keeps serving"); at != std::string::npos;
       at = err.find("keeps serving", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << err;
  EXPECT_EQ(server_.Stop(SIGTERM, 20), 0) << err;
}

TEST_F(ServeCommandTest, RefusesACheckpointThatDoesNotMatchTheConfig) {
  // Another embedding dim.
  Result r = RunFreshet("serve " + ConfigArgs() +
                        " --set table_defaults.dim=16 --checkpoint " + ckpt_ +
                        " --http-port 0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("does not match"));
  EXPECT_THAT(r.output, HasSubstr("dim 8, the config's model (deepfm) has 16"));

  // Another model: lr has only the wide tables.
  r = RunFreshet("serve " + ConfigArgs() + " --set model.type=lr" +
                 " --checkpoint " + ckpt_ + " --http-port 0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("is not in the config's model"));

  // No checkpoint there.
  r = RunFreshet("serve " + ConfigArgs() + " --checkpoint " +
                 (dir_ / "missing").string() + " --http-port 0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no such folder"));
  const std::string empty = (dir_ / "empty").string();
  fs::create_directories(empty);
  r = RunFreshet("serve " + ConfigArgs() + " --checkpoint " + empty +
                 " --http-port 0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no checkpoint"));
}

}  // namespace
}  // namespace ckpt_test
}  // namespace freshet
