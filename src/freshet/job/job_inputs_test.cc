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

TEST_F(JobInputsTest, MissingJobFileIsAnError) {
  inputs_.config = dir_.File("missing.yaml");
  inputs_.data = "x.csv";
  auto job = LoadJob(inputs_);
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("missing.yaml"));
}

}  // namespace
}  // namespace freshet
