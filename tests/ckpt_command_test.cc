// End-to-end tests of `freshet ckpt ls|verify|digest|now` on checkpoints of
// a model trained in the test.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "ckpt_test_util.h"
// Last: it brings <resolv.h>, whose _res macro breaks Eigen.
#include <httplib.h>

namespace freshet {
namespace ckpt_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

using CkptCommandTest = CheckpointedModelTest;

TEST_F(CkptCommandTest, LsListsCheckpointsAndLeftoverTmp) {
  fs::create_directories(fs::path(ckpt_) / "ckpt-0000000004.tmp");
  Result r = RunFreshet("ckpt ls " + ckpt_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("at-150"));
  EXPECT_THAT(r.output, HasSubstr("at-500"));
  EXPECT_THAT(r.output, HasSubstr("unpublished"));
  EXPECT_THAT(r.output, HasSubstr("incremental"));

  r = RunFreshet("ckpt ls --json " + ckpt_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json j = json::parse(r.output);
  auto list = ListCheckpoints(ckpt_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(j["checkpoints"].size(), 4u) << r.output;
  for (size_t i = 0; i < 3; ++i) {
    const json& c = j["checkpoints"][i];
    const Manifest& m = (*list)[i].manifest;
    EXPECT_EQ(c["id"], i + 1);
    EXPECT_EQ(c["kind"], i == 0 ? "full" : "incremental");
    EXPECT_EQ(c["status"], "ok");
    EXPECT_EQ(c["created_unix_ms"], m.created_unix_ms);
    EXPECT_EQ(c["stream_position"], m.metadata.stream_position);
    uint64_t rows = 0, bytes = 0;
    for (const ManifestFile& f : m.files) {
      if (!f.table.empty()) rows += f.rows;
      bytes += f.bytes;
    }
    EXPECT_EQ(c["rows"], rows);
    // The shard files plus MANIFEST.json.
    EXPECT_GT(c["bytes"].get<uint64_t>(), bytes);
    if (i > 0) {
      EXPECT_EQ(c["parent_id"], 1);
      EXPECT_EQ(c["previous_id"], i);
    }
  }
  // The full holds every row at 150 examples; the incrementals fewer rows
  // than the model.
  EXPECT_LT(j["checkpoints"][2]["rows"].get<int64_t>(), model().Stats().rows);
  EXPECT_EQ(j["checkpoints"][3]["kind"], "unpublished");
  EXPECT_EQ(j["checkpoints"][3]["id"], 4);

  // A damaged manifest shows as its error.
  { std::ofstream(fs::path(CkptPath(2)) / "MANIFEST.json") << "{}"; }
  r = RunFreshet("ckpt ls " + ckpt_);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("bad manifest"));

  const std::string empty = (dir_ / "empty").string();
  fs::create_directories(empty);
  r = RunFreshet("ckpt ls " + empty);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no checkpoints"));
  r = RunFreshet("ckpt ls " + (dir_ / "missing").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no such folder"));
}

TEST_F(CkptCommandTest, VerifyFindsAFlippedByteAndNamesTheFileAndBlock) {
  Result r = RunFreshet("ckpt verify " + ckpt_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ckpt-0000000001 ok\n"));
  EXPECT_THAT(r.output, HasSubstr("ckpt-0000000002 ok\n"));
  EXPECT_THAT(r.output, HasSubstr("ckpt-0000000003 ok\n"));
  EXPECT_THAT(r.output, HasSubstr("restore would use ckpt-0000000003"));

  const std::string where = DamageLargestTable(3);
  r = RunFreshet("ckpt verify " + ckpt_);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ckpt-0000000002 ok\n"));
  EXPECT_THAT(r.output, HasSubstr("ckpt-0000000003 DAMAGED: "));
  EXPECT_THAT(r.output, HasSubstr(where));
  EXPECT_THAT(r.output, HasSubstr("crc32c mismatch"));
  EXPECT_THAT(r.output, HasSubstr("restore would use ckpt-0000000002"));

  // One checkpoint directory at a time.
  r = RunFreshet("ckpt verify " + CkptPath(3));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(where));
  r = RunFreshet("ckpt verify " + CkptPath(1));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ckpt-0000000001 ok"));

  r = RunFreshet("ckpt verify " + (dir_ / "missing").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = RunFreshet("ckpt verify");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST_F(CkptCommandTest, DigestEqualsTheModelDigest) {
  Result r = RunFreshet("ckpt digest " + ckpt_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("digest       " + Hex(ModelDigest(model()))));
  EXPECT_THAT(r.output, HasSubstr("ckpt-0000000003 (chain 1, 2, 3)"));

  // The newest checkpoint damaged: the digest of the chain up to 2, which
  // is the model as it was then.
  DamageLargestTable(3);
  r = RunFreshet("ckpt digest " + ckpt_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("digest       " + Hex(digest_at_2_)));
  EXPECT_THAT(r.output, Not(HasSubstr(Hex(ModelDigest(model())))));
  EXPECT_THAT(r.output, HasSubstr(CkptPath(3) + " skipped"));

  // No good full checkpoint.
  fs::remove(fs::path(CkptPath(1)) / "dense.shard");
  r = RunFreshet("ckpt digest " + ckpt_);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no good full checkpoint"));
}

// `freshet train --checkpoint-dir` prints the digest of the model it
// trained; its checkpoints have that digest.
TEST_F(CkptCommandTest, DigestOfTrainsCheckpointsIsTheDigestTrainPrints) {
  const std::string dir = (dir_ / "train_ckpt").string();
  Result train = RunFreshet("train " + ConfigArgs() +
                            " --deterministic --set "
                            "checkpoint.every_examples=100 --checkpoint-dir " +
                            dir);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const size_t at = train.output.find("digest       ");
  ASSERT_NE(at, std::string::npos) << train.output;
  const std::string line = train.output.substr(at, 13 + 16);
  Result r = RunFreshet("ckpt digest " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(line + "\n"));
  r = RunFreshet("ckpt verify " + dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("restore would use"));
}

// Against a real `freshet run`: the admin call writes a checkpoint that
// verifies; a wrong token is refused with the server's reason.
TEST_F(CkptCommandTest, NowAsksARunningJobForACheckpoint) {
  const std::string dir = (dir_ / "run_ckpt").string();
  const std::string port_file = (dir_ / "port").string();
  ChildProcess run;
  run.Start({"run", "--config",
             std::string(FRESHET_SOURCE_DIR) + "/examples/synthetic.yaml",
             "--set", "source.rows=5000000", "--set", "train.threads=1",
             "--http-port", "0", "--port-file", port_file, "--checkpoint-dir",
             dir, "--duration-s", "120"},
            {"FRESHET_ADMIN_TOKEN=tok-123"}, dir_ / "run.out",
            dir_ / "run.err");
  const int port = run.WaitForPort(port_file, 60);
  ASSERT_GT(port, 0) << ReadFile(dir_ / "run.err");
  const std::string addr = "127.0.0.1:" + std::to_string(port);

  Result r =
      RunFreshet("ckpt now --addr " + addr, "env FRESHET_ADMIN_TOKEN=tok-123");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json j = json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  const uint64_t id = j["checkpoint_id"].get<uint64_t>();
  EXPECT_GE(id, 1u);
  EXPECT_TRUE(fs::exists(fs::path(dir) / CheckpointDirName(id)));

  r = RunFreshet("ckpt now --addr " + addr + " --token wrong");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("HTTP 401"));

  r = RunFreshet("ckpt verify " + dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(CheckpointDirName(id) + " ok"));
  EXPECT_EQ(run.Stop(SIGTERM, 60), 0) << ReadFile(dir_ / "run.err");
}

// A port on 127.0.0.1 with a socket bound to it that does not listen:
// connecting to it is refused.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
      socklen_t len = sizeof(a);
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    }
  }
  ~RefusingPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(CkptNowTest, ConnectionRefusedAndMissingToken) {
  RefusingPort refusing;
  ASSERT_GT(refusing.port(), 0);
  const std::string addr = "127.0.0.1:" + std::to_string(refusing.port());
  Result r = RunFreshet("ckpt now --addr " + addr + " --token t");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot connect"));
  EXPECT_THAT(r.output, HasSubstr(addr));

  r = RunFreshet("ckpt now --addr " + addr, "env -u FRESHET_ADMIN_TOKEN");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FRESHET_ADMIN_TOKEN"));

  r = RunFreshet("ckpt now --addr nocolon --token t");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

// Against a stand-in for the admin endpoint of `freshet run`: the token goes
// in the Authorization header; 200 prints the reply, 401 the reason.
TEST(CkptNowTest, SendsTheTokenAndReportsTheReply) {
  httplib::Server server;
  server.Post("/admin/checkpoint", [](const httplib::Request& req,
                                      httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer s3cret") {
      res.status = 401;
      res.set_content(R"({"error": "bad admin token"})", "application/json");
      return;
    }
    res.set_content(R"({"checkpoint_id": 7, "kind": "full", "path": "/x"})",
                    "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  const std::string addr = "127.0.0.1:" + std::to_string(port);

  Result r =
      RunFreshet("ckpt now --addr " + addr, "env FRESHET_ADMIN_TOKEN=s3cret");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  json j = json::parse(r.output, nullptr, false);
  EXPECT_EQ(j["checkpoint_id"], 7) << r.output;

  r = RunFreshet("ckpt now --addr " + addr + " --token wrong",
                 "env FRESHET_ADMIN_TOKEN=s3cret");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("HTTP 401"));
  EXPECT_THAT(r.output, HasSubstr("bad admin token"));

  server.stop();
  thread.join();
}

}  // namespace
}  // namespace ckpt_test
}  // namespace freshet
