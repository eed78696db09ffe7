// TrainingMetricsJson(): the --metrics-json object of `freshet train`.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "freshet/job/training_job.h"

namespace freshet {
namespace {

TEST(TrainingMetricsJsonTest, CountersMetricsDigestAndGflops) {
  TrainerProgress p;
  p.examples = 1200;
  p.records = 1210;
  p.malformed = 10;
  p.seconds = 2.5;
  p.examples_per_sec = 480;
  p.logloss = 0.5;
  p.auc = 0.75;
  p.calibration = 1.01;
  p.window_logloss = 0.45;
  p.window_auc = 0.8;
  p.non_finite = 8;
  p.table_rows = 333;
  p.table_bytes = 4096;
  p.position = "criteo.tsv:1234";
  nlohmann::json j = TrainingMetricsJson(p, 0xabcULL, 1.25);
  EXPECT_EQ(j["examples"], 1200);
  EXPECT_EQ(j["records"], 1210);
  EXPECT_EQ(j["malformed"], 10);
  EXPECT_EQ(j["non_finite"], 8);
  EXPECT_EQ(j["seconds"], 2.5);
  EXPECT_EQ(j["examples_per_sec"], 480);
  EXPECT_EQ(j["logloss"], 0.5);
  EXPECT_EQ(j["auc"], 0.75);
  EXPECT_EQ(j["calibration"], 1.01);
  EXPECT_EQ(j["window_logloss"], 0.45);
  EXPECT_EQ(j["window_auc"], 0.8);
  EXPECT_EQ(j["table_rows"], 333);
  EXPECT_EQ(j["table_bytes"], 4096);
  EXPECT_EQ(j["position"], "criteo.tsv:1234");
  EXPECT_EQ(j["digest"], "0000000000000abc");
  EXPECT_EQ(j["dense_gflops"], 1.25);
  EXPECT_EQ(j.size(), 16u);
}

// Before any example the metrics are not numbers: null, not NaN (which is
// not JSON).
TEST(TrainingMetricsJsonTest, MetricsThatAreNotFiniteAreNull) {
  TrainerProgress p;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  p.logloss = p.auc = p.calibration = p.window_logloss = p.window_auc = nan;
  p.examples_per_sec = std::numeric_limits<double>::infinity();
  nlohmann::json j = TrainingMetricsJson(p, ~0ULL, nan);
  for (const char* key : {"logloss", "auc", "calibration", "window_logloss",
                          "window_auc", "examples_per_sec", "dense_gflops"}) {
    EXPECT_TRUE(j[key].is_null()) << key;
  }
  EXPECT_EQ(j["digest"], "ffffffffffffffff");
  EXPECT_EQ(j["examples"], 0);
  EXPECT_NO_THROW(nlohmann::json::parse(j.dump()));
}

}  // namespace
}  // namespace freshet
