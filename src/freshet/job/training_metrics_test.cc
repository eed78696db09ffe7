// What `freshet train` prints: TrainingMetricsJson() (its --metrics-json
// object), TrainingProgressLine() and TrainingSummaryText().
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
  p.window_log_failures = 3;
  p.dead_letter_failures = 2;
  p.table_rows = 333;
  p.table_bytes = 4096;
  p.position = "criteo.tsv:1234";
  p.rotations = 3;
  p.rotation_gaps = 1;
  p.rotation_lost_bytes = 17;
  nlohmann::json j = TrainingMetricsJson(p, 0xabcULL, 1.25);
  EXPECT_EQ(j["examples"], 1200);
  EXPECT_EQ(j["records"], 1210);
  EXPECT_EQ(j["malformed"], 10);
  EXPECT_EQ(j["non_finite"], 8);
  EXPECT_EQ(j["rotations"], 3);
  EXPECT_EQ(j["rotation_gaps"], 1);
  EXPECT_EQ(j["rotation_lost_bytes"], 17);
  EXPECT_EQ(j["window_log_failures"], 3);
  EXPECT_EQ(j["dead_letter_failures"], 2);
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
  EXPECT_EQ(j.size(), 21u);
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

TrainerProgress SomeProgress() {
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
  p.table_rows = 333;
  p.table_bytes = 4096;
  return p;
}

TEST(TrainingProgressLineTest, CountersWindowCumulativeAndTables) {
  EXPECT_EQ(TrainingProgressLine(SomeProgress()),
            "1200 examples  480 ex/s  window auc 0.8000 logloss 0.4500  |  "
            "auc 0.7500 logloss 0.5000  |  333 rows 4.0 KiB");
}

TEST(TrainingSummaryTextTest, OneLineEachAndTheCheckpointWhenThereIsOne) {
  const std::string head =
      "trained deepfm on 1200 examples (1210 records, 10 malformed) in 2.50 "
      "s: 480 examples/s\n"
      "progressive  auc 0.7500  logloss 0.5000  calibration 1.010\n";
  const std::string tail =
      "tables       333 rows, 4.0 KiB\n"
      "digest       0000000000000abc\n";
  // The window holds at most window_examples of the examples.
  EXPECT_EQ(TrainingSummaryText("deepfm", SomeProgress(), 1000, 0xabc, ""),
            head +
                "last window  auc 0.8000  logloss 0.4500  (1000 examples)\n" +
                tail);
  EXPECT_EQ(
      TrainingSummaryText("deepfm", SomeProgress(), 5000, 0xabc,
                          "ckpt-0000000002 (full, 333 rows, 4.0 KiB) in /c"),
      head + "last window  auc 0.8000  logloss 0.4500  (1200 examples)\n" +
          tail +
          "checkpoint   ckpt-0000000002 (full, 333 rows, 4.0 KiB) in /c\n");
}

// Rotations of the source's files get a line of their own, when there were
// any.
TEST(TrainingSummaryTextTest, RotationsWhenThereWereAny) {
  TrainerProgress p = SomeProgress();
  p.rotations = 2;
  p.rotation_gaps = 1;
  p.rotation_lost_bytes = 40;
  EXPECT_EQ(TrainingSummaryText("deepfm", p, 1000, 0xabc, ""),
            "trained deepfm on 1200 examples (1210 records, 10 malformed) in "
            "2.50 s: 480 examples/s\n"
            "rotations    2 of the source's files (1 with records possibly "
            "missing, 40 bytes seen but not read)\n"
            "progressive  auc 0.7500  logloss 0.5000  calibration 1.010\n"
            "last window  auc 0.8000  logloss 0.4500  (1000 examples)\n"
            "tables       333 rows, 4.0 KiB\n"
            "digest       0000000000000abc\n");
}

// Side outputs that could not be written get a line of their own, and only
// then.
TEST(TrainingSummaryTextTest, SideWriteFailuresWhenThereAreAny) {
  TrainerProgress p = SomeProgress();
  EXPECT_EQ(SideWriteFailuresLine(p), "");
  p.window_log_failures = 3;
  const std::string line =
      "side writes  3 window-log lines, 0 dead letters not written; training "
      "went on\n";
  EXPECT_EQ(SideWriteFailuresLine(p), line);
  const std::string text = TrainingSummaryText("lr", p, 1000, 0xabc, "");
  EXPECT_EQ(text.substr(text.size() - line.size()), line);
  p.window_log_failures = 0;
  p.dead_letter_failures = 7;
  EXPECT_EQ(SideWriteFailuresLine(p),
            "side writes  0 window-log lines, 7 dead letters not written; "
            "training went on\n");
}

}  // namespace
}  // namespace freshet
