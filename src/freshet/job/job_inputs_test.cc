#include "freshet/job/job_inputs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "freshet/data/data_test_util.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;

class JobInputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inputs_.config = dir_.File("job.yaml");
    testing_util::WriteFile(
        inputs_.config,
        "schema:\n  label: label\n  slots: [user, item]\n"
        "model: {type: lr}\n"
        "source: {type: file, path: events.csv, format: csv}\n");
  }

  testing_util::TempDir dir_;
  JobInputs inputs_;
};

TEST_F(JobInputsTest, TheJobAsWrittenWithoutInputs) {
  auto job = LoadJob(inputs_);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->source.path, dir_.File("events.csv"));  // the job's folder
  EXPECT_FALSE(job->source.follow);
  EXPECT_TRUE(job->checkpoint.dir.empty());
}

TEST_F(JobInputsTest, DataFollowAndCheckpointFolder) {
  inputs_.data = "elsewhere/part";
  inputs_.follow = true;
  inputs_.checkpoint_dir = "ckpt";
  inputs_.overrides = {"train.batch_size=16"};
  auto job = LoadJob(inputs_, {"sync.interval=250ms"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->source.type, "file");
  EXPECT_EQ(job->source.path, "elsewhere/part");  // as given
  EXPECT_TRUE(job->source.follow);
  EXPECT_EQ(job->checkpoint.dir,
            (std::filesystem::current_path() / "ckpt").string());
  EXPECT_EQ(job->train.batch_size, 16);
  EXPECT_EQ(job->sync.interval_ms, 250);
}

TEST_F(JobInputsTest, ExtraOverridesComeLastAndAreValidated) {
  inputs_.overrides = {"sync.interval=250ms"};
  auto job = LoadJob(inputs_, {"sync.interval=500ms"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->sync.interval_ms, 500);

  job = LoadJob(inputs_, {"serve.port=-3"});
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("serve.port"));
}

TEST_F(JobInputsTest, TheFrontEndLimitsAreReadAndBounded) {
  auto job = LoadJob(
      inputs_, {"serve.max_connections=100", "serve.max_header_bytes=8KiB",
                "serve.idle_timeout=5s", "serve.request_timeout=250ms"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->serve.max_connections, 100);
  EXPECT_EQ(job->serve.max_header_bytes, 8192);
  EXPECT_EQ(job->serve.idle_timeout_ms, 5000);
  EXPECT_EQ(job->serve.request_timeout_ms, 250);
  for (const char* bad :
       {"serve.max_connections=0", "serve.max_header_bytes=10",
        "serve.idle_timeout=0s", "serve.request_timeout=2h",
        "serve.max_body_bytes=8GiB"}) {
    job = LoadJob(inputs_, {bad});
    ASSERT_FALSE(job.ok()) << bad;
    const std::string key =
        std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_THAT(std::string(job.status().message()), HasSubstr(key)) << bad;
  }
}

TEST(ServeOverridesTest, OnlyTheShorthandsThatAreSetInStructOrder) {
  EXPECT_TRUE(ServeOverrides({}).empty());
  ServeShorthands flags;
  flags.http_threads = 3;
  flags.sync_interval_ms = 250;
  flags.bind = "0.0.0.0";
  flags.http_port = 0;
  flags.stale_after_ms = 4000;
  flags.max_candidates = 50;
  flags.max_body_bytes = 65536;
  EXPECT_THAT(ServeOverrides(flags),
              ::testing::ElementsAre(
                  "sync.interval=250ms", "serve.port=0", "serve.bind=0.0.0.0",
                  "serve.stale_after=4000ms", "serve.max_candidates=50",
                  "serve.max_body_bytes=65536", "serve.http_threads=3"));
}

TEST_F(JobInputsTest, ServeShorthandsSetTheJobsKeysAndAreValidated) {
  ServeShorthands flags;
  flags.sync_interval_ms = 250;
  flags.http_port = 0;
  flags.bind = "0.0.0.0";
  flags.stale_after_ms = 4000;
  flags.max_candidates = 50;
  flags.max_body_bytes = 65536;
  flags.http_threads = 3;
  auto job = LoadJob(inputs_, ServeOverrides(flags));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->sync.interval_ms, 250);
  EXPECT_EQ(job->serve.port, 0);
  EXPECT_EQ(job->serve.bind, "0.0.0.0");
  EXPECT_EQ(job->serve.stale_after_ms, 4000);
  EXPECT_EQ(job->serve.max_candidates, 50);
  EXPECT_EQ(job->serve.max_body_bytes, 65536);
  EXPECT_EQ(job->serve.http_threads, 3);

  flags = {};
  flags.http_threads = 0;
  job = LoadJob(inputs_, ServeOverrides(flags));
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("serve.http_threads"));
  flags = {};
  flags.sync_interval_ms = 1;  // below 10 ms
  job = LoadJob(inputs_, ServeOverrides(flags));
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("sync.interval"));
}

TEST_F(JobInputsTest, MissingJobFileIsAnError) {
  inputs_.config = dir_.File("missing.yaml");
  inputs_.data = "x.csv";
  auto job = LoadJob(inputs_);
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("missing.yaml"));
}

}  // namespace
}  // namespace freshet
