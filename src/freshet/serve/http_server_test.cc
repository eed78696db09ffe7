#include "freshet/serve/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/data/schema.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<JobConfig> job = ParseJobConfig(
        "schema:\n  label: label\n  slots: [user, item]\n"
        "  dense: [{name: age}]\n"
        "model: {type: deepfm, hidden: [8]}\nsource: {type: generator}\n",
        "http.yaml", "");
    ASSERT_TRUE(job.ok()) << job.status();
    auto schema = Schema::Compile(job->schema);
    ASSERT_TRUE(schema.ok()) << schema.status();
    auto replica = ServingReplica::Create(*job, *schema);
    ASSERT_TRUE(replica.ok()) << replica.status();
    replica_ = std::move(*replica);
    HttpServerOptions opt;
    opt.port = 0;  // any free port on 127.0.0.1
    opt.max_body_bytes = 2000;
    opt.predictor.max_candidates = 5;
    opt.threads = 2;
    auto server = HttpServer::Start(replica_.get(), opt);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_connection_timeout(5);
    client_->set_read_timeout(5);
  }

  // Posts `body` and returns (status, error reason or body).
  std::pair<int, std::string> Post(const std::string& body) {
    auto res = client_->Post("/v1/predict", body, "application/json");
    if (!res) return {-1, "no response"};
    return {res->status, res->body};
  }

  std::unique_ptr<ServingReplica> replica_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, PredictAnswersWithScoresVersionStalenessAndLevel) {
  auto [status, body] = Post(
      R"({"context": {"user": "u1", "age": 30},
          "candidates": [{"item": "i1"}, {"item": 7}]})");
  ASSERT_EQ(status, 200) << body;
  json j = json::parse(body);
  ASSERT_TRUE(j["scores"].is_array());
  EXPECT_EQ(j["scores"].size(), 2u);
  for (const json& s : j["scores"]) {
    EXPECT_GT(s.get<double>(), 0.0);
    EXPECT_LT(s.get<double>(), 1.0);
  }
  EXPECT_EQ(j["model_version"], 0);
  EXPECT_TRUE(j["staleness_ms"].is_number_integer());
  EXPECT_EQ(j["degradation"], "stale");  // no sync batch applied yet
}

TEST_F(HttpServerTest, BadRequestsGet4xxWithAReasonAndServingGoesOn) {
  struct Case {
    std::string body;
    int status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"{\"candidates\": [", 400, "not valid JSON"},
      {"[1, 2]", 400, "JSON object"},
      {R"({"candidates": [{"nope": 1}]})", 400, "unknown slot"},
      {R"({"context": {"user": "u"}})", 400, "non-empty list"},
      {R"({"candidates": [{}, {}, {}, {}, {}, {}]})", 400, "too many"},
      {R"({"candidates": [{"age": "old"}]})", 400, "expects a number"},
      {R"({"context": {"user": 1}, "candidates": [{"user": 2}]})", 400,
       "both the context"},
      {R"({"candidates": [{}], "extra": 1})", 400, "unknown field"},
      {"{\"candidates\": [{\"item\": \"" + std::string(3000, 'x') + "\"}]}",
       413, "exceeds the limit"},
  };
  for (const Case& c : cases) {
    auto [status, body] = Post(c.body);
    EXPECT_EQ(status, c.status) << c.body.substr(0, 80) << " → " << body;
    EXPECT_THAT(body, HasSubstr(c.reason)) << c.body.substr(0, 80);
    EXPECT_TRUE(json::accept(body)) << body;
    // The server still serves.
    auto [ok, answer] = Post(R"({"candidates": [{"item": "i1"}]})");
    EXPECT_EQ(ok, 200) << answer;
  }
  auto res = client_->Get("/no/such/path");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_THAT(res->body, HasSubstr("no such path"));
  EXPECT_GE(server_->errors(), static_cast<int64_t>(cases.size()));
}

TEST_F(HttpServerTest, BodiesNeedNoContentTypeAndMayBeCompressed) {
  // A body as large as the limit allows, sent without a Content-Type (as
  // curl -d does, form-encoded): the limit is serve.max_body_bytes, nothing
  // smaller.
  std::string padded = R"({"candidates": [{"item": "i1"}]})";
  padded.insert(padded.size() - 1, std::string(1900, ' '));
  auto plain =
      client_->Post("/v1/predict", padded, "application/x-www-form-urlencoded");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200) << plain->body;
  // gzip as sent by a client that compresses its requests.
  httplib::Client gz("127.0.0.1", server_->port());
  gz.set_compress(true);
  auto packed = gz.Post("/v1/predict", padded, "application/json");
  ASSERT_TRUE(packed);
  EXPECT_EQ(packed->status, 200) << packed->body;
  EXPECT_EQ(json::parse(packed->body)["scores"].size(), 1u);
}

TEST_F(HttpServerTest, WrongMethodsAndPathsSayWhatIsAllowed) {
  auto get = client_->Get("/v1/predict");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_THAT(get->body, HasSubstr("method GET not allowed on /v1/predict"));
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  auto post = client_->Post("/healthz", "", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  auto query = client_->Get("/healthz?verbose=1");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 200);
  auto admin = client_->Post("/admin/NOT-A-NAME", "", "text/plain");
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 404);
}

TEST_F(HttpServerTest, ConnectionCountsAreInTheMetrics) {
  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* name :
       {"freshet_http_connections_open 1", "freshet_http_connections_max",
        "freshet_http_connections_refused_total 0",
        "freshet_http_accept_errors_total 0",
        "freshet_http_timeouts_total 0"}) {
    EXPECT_THAT(metrics->body, HasSubstr(name));
  }
}

TEST_F(HttpServerTest, HealthStatusAndMetrics) {
  Post(R"({"candidates": [{"item": "i1"}]})");
  auto health = client_->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto status = client_->Get("/statusz");
  ASSERT_TRUE(status);
  ASSERT_EQ(status->status, 200);
  json st = json::parse(status->body);
  EXPECT_EQ(st["model_version"], 0);
  EXPECT_TRUE(st["sync"].contains("lag_ms"));
  ASSERT_TRUE(st["tables"].is_array());
  EXPECT_EQ(st["tables"].size(), 4u);  // user, user/wide, item, item/wide
  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  ASSERT_EQ(metrics->status, 200);
  for (const char* name :
       {"freshet_serving_model_version", "freshet_serving_sync_lag_seconds",
        "freshet_sync_freshness_seconds_bucket",
        "freshet_serving_sync_rows_total", "freshet_serving_sync_bytes_total",
        "freshet_serving_table_bytes{table=\"item\"}",
        "freshet_predict_latency_seconds_bucket{le=\"+Inf\"} 1"}) {
    EXPECT_THAT(metrics->body, HasSubstr(name));
  }
}

// A version gap shows on every endpoint while it is open, and a full batch
// clears it.
TEST_F(HttpServerTest, AnOpenGapIsStaleInPredictStatusAndMetrics) {
  auto batch = [this](uint64_t base, uint64_t version, bool full) {
    DeltaBatch b;
    b.epoch = 5;
    b.base_version = base;
    b.version = version;
    b.full = full;
    b.created_unix_us = SystemClock::Default()->NowMicros();
    replica_->Read([&](const ServingReplica::View& v) {
      for (int i = 0; i < replica_->num_tables(); ++i) {
        DeltaTable t;
        t.name = replica_->table_name(i);
        t.dim = v.table(i).dim();
        b.tables.push_back(std::move(t));
      }
    });
    return b;
  };
  auto look = [this](bool want_gap) {
    const std::string level = want_gap ? "stale" : "fresh";
    auto [status, body] = Post(R"({"candidates": [{"item": "i1"}]})");
    ASSERT_EQ(status, 200) << body;
    EXPECT_EQ(json::parse(body)["degradation"], level);
    auto st = client_->Get("/statusz");
    ASSERT_TRUE(st);
    json j = json::parse(st->body);
    EXPECT_EQ(j["degradation"], level);
    EXPECT_EQ(j["sync"]["gap_open"], want_gap);
    EXPECT_EQ(j["sync"]["version_gaps"], 1);
    auto metrics = client_->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_THAT(metrics->body,
                HasSubstr(absl::StrCat("\nfreshet_serving_sync_gap_open ",
                                       want_gap ? 1 : 0, "\n")));
    EXPECT_THAT(metrics->body,
                HasSubstr(absl::StrCat("\nfreshet_serving_stale ",
                                       want_gap ? 1 : 0, "\n")));
    EXPECT_THAT(metrics->body,
                HasSubstr("\nfreshet_serving_sync_gaps_total 1\n"));
  };
  ASSERT_TRUE(replica_->Apply(batch(0, 1, true)).ok());
  EXPECT_FALSE(replica_->Apply(batch(2, 3, false)).ok());  // 2 never came
  look(/*want_gap=*/true);
  ASSERT_TRUE(replica_->Apply(batch(2, 4, true)).ok());
  look(/*want_gap=*/false);
}

TEST_F(HttpServerTest, AdminCallsNeedTheToken) {
  // Off without a token: 403 with the reason.
  auto off = client_->Post("/admin/checkpoint", "", "application/json");
  ASSERT_TRUE(off);
  EXPECT_EQ(off->status, 403);
  EXPECT_NE(off->body.find("admin_token"), std::string::npos);

  server_.reset();
  HttpServerOptions opt;
  opt.port = 0;
  opt.admin_token = "s3cret";
  int calls = 0;
  opt.admin["checkpoint"] = [&calls](const std::string&) {
    ++calls;
    return AdminReply{200, {{"checkpoint_id", 7}}};
  };
  auto server = HttpServer::Start(replica_.get(), opt);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client c("127.0.0.1", (*server)->port());
  c.set_connection_timeout(5);
  c.set_read_timeout(5);
  auto none = c.Post("/admin/checkpoint", "", "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  httplib::Headers wrong = {{"Authorization", "Bearer s3cres"}};
  auto bad = c.Post("/admin/checkpoint", wrong, "", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  httplib::Headers longer = {{"Authorization", "Bearer s3cret1"}};
  auto bad2 = c.Post("/admin/checkpoint", longer, "", "application/json");
  ASSERT_TRUE(bad2);
  EXPECT_EQ(bad2->status, 401);
  EXPECT_EQ(calls, 0);
  httplib::Headers right = {{"Authorization", "Bearer s3cret"}};
  auto ok = c.Post("/admin/checkpoint", right, "", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(nlohmann::json::parse(ok->body)["checkpoint_id"], 7);
  EXPECT_EQ(calls, 1);
  auto unknown = c.Post("/admin/reload", right, "", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  // Serving goes on.
  auto health = c.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace freshet
