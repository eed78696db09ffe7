#include "freshet/serve/admin_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "freshet/base/config.h"
#include "freshet/data/schema.h"
#include "freshet/serve/http_server.h"
#include "freshet/serve/serving_replica.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;

TEST(AdminClientTest, ParsesHostAndPort) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(ParseHostPort("127.0.0.1:8080", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8080);
  EXPECT_TRUE(ParseHostPort("http://example.org:81/", &host, &port));
  EXPECT_EQ(host, "example.org");
  EXPECT_EQ(port, 81);
  EXPECT_TRUE(ParseHostPort("[::1]:9", &host, &port));
  EXPECT_EQ(host, "::1");
  for (const char* bad : {"localhost", ":80", "h:", "h:0", "h:65536", "h:8x"}) {
    EXPECT_FALSE(ParseHostPort(bad, &host, &port)) << bad;
  }
}

TEST(AdminClientTest, CallsTheServerAndSaysWhyNot) {
  auto job = ParseJobConfig(
      "schema:\n  label: label\n  slots: [user]\n"
      "model: {type: lr}\nsource: {type: generator}\n",
      "admin.yaml", "");
  ASSERT_TRUE(job.ok()) << job.status();
  auto schema = Schema::Compile(job->schema);
  ASSERT_TRUE(schema.ok()) << schema.status();
  auto replica = ServingReplica::Create(*job, *schema);
  ASSERT_TRUE(replica.ok()) << replica.status();
  HttpServerOptions opt;
  opt.port = 0;
  opt.threads = 1;
  opt.admin_token = "s3cret";
  opt.admin["checkpoint"] = [](const std::string&) {
    return AdminReply{200, {{"checkpoint_id", 7}}};
  };
  auto server = HttpServer::Start(replica->get(), opt);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string addr = "127.0.0.1:" + std::to_string((*server)->port());

  absl::StatusOr<std::string> ok = CallAdmin(addr, "s3cret", "checkpoint", 5);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_THAT(*ok, HasSubstr("\"checkpoint_id\":7"));

  absl::StatusOr<std::string> bad = CallAdmin(addr, "wrong", "checkpoint", 5);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(bad.status().message(), HasSubstr(addr + ": HTTP 401"));

  absl::StatusOr<std::string> unknown = CallAdmin(addr, "s3cret", "reload", 5);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(CallAdmin("nohost", "t", "checkpoint", 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  (*server)->Stop();
  absl::StatusOr<std::string> gone = CallAdmin(addr, "s3cret", "checkpoint", 5);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(gone.status().message(), HasSubstr("cannot connect"));
}

}  // namespace
}  // namespace freshet
