// The text and JSON `freshet run` prints of an EmbeddedJobReport.
#include "freshet/job/embedded_job_report.h"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

namespace freshet {
namespace {

EmbeddedJobReport SomeReport() {
  EmbeddedJobReport r;
  r.training.examples = 120000;
  r.training.seconds = 12.34;
  r.training.examples_per_sec = 9724.5;
  r.training.auc = 0.74567;
  r.training.logloss = 0.45678;
  r.training.window_auc = 0.7612;
  r.sync.batches = 13;
  r.sync.rows = 45678;
  r.sync.bytes = 3 * 1048576 + 524288;
  r.serving_version = 14;
  r.freshness_p50_ms = 41.4;
  r.freshness_p90_ms = 80.6;
  r.freshness_p99_ms = 99.5;
  r.freshness_max_ms = 150;
  r.freshness_batches = 12;
  r.requests = 321;
  r.errors = 2;
  r.latency_p50_ms = 0.514;
  r.latency_p99_ms = 3.2;
  return r;
}

TEST(EmbeddedJobReportTest, ProgressLine) {
  EXPECT_EQ(RunProgressLine(SomeReport()),
            "120000 examples  9724 ex/s  window auc 0.7612  |  serving v14  "
            "321 requests  freshness p50 41 ms p99 100 ms");
}

TEST(EmbeddedJobReportTest, SummaryIsFourLines) {
  EXPECT_EQ(RunSummaryText(SomeReport()),
            "trained      120000 examples in 12.3 s (9724 examples/s), "
            "progressive auc 0.7457 logloss 0.4568\n"
            "sync         13 batches, 45678 rows, 3.5 MiB, serving version "
            "14\n"
            "freshness    p50 41 ms  p90 81 ms  p99 100 ms  max 150 ms (12 "
            "batches with updates)\n"
            "serving      321 requests, 2 errors, latency p50 0.51 ms p99 "
            "3.20 ms\n");
}

// Before the first batch with updates the percentiles are what the
// histogram says of no samples; the text still has its four lines.
TEST(EmbeddedJobReportTest, SummaryOfAJobThatDidNothing) {
  EmbeddedJobReport r;
  r.training.auc = r.training.logloss =
      std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(RunSummaryText(r),
            "trained      0 examples in 0.0 s (0 examples/s), progressive "
            "auc nan logloss nan\n"
            "sync         0 batches, 0 rows, 0.0 MiB, serving version 0\n"
            "freshness    p50 0 ms  p90 0 ms  p99 0 ms  max 0 ms (0 batches "
            "with updates)\n"
            "serving      0 requests, 0 errors, latency p50 0.00 ms p99 0.00 "
            "ms\n");
}

TEST(EmbeddedJobReportTest, SummaryEndsWithTheSideWritesThatFailed) {
  EmbeddedJobReport r = SomeReport();
  r.training.window_log_failures = 4;
  r.training.dead_letter_failures = 1;
  const std::string text = RunSummaryText(r);
  EXPECT_EQ(text, RunSummaryText(SomeReport()) +
                      "side writes  4 window-log lines, 1 dead letters not "
                      "written; training went on\n");
}

TEST(EmbeddedJobReportTest, FreshnessJson) {
  nlohmann::json j = FreshnessJson(SomeReport());
  EXPECT_EQ(j["p50_ms"], 41.4);
  EXPECT_EQ(j["p90_ms"], 80.6);
  EXPECT_EQ(j["p99_ms"], 99.5);
  EXPECT_EQ(j["max_ms"], 150.0);
  EXPECT_EQ(j["batches"], 12);
  EXPECT_EQ(j["examples"], 120000);
  EXPECT_EQ(j["sync_rows"], 45678);
  EXPECT_EQ(j["sync_bytes"], 3 * 1048576 + 524288);
  EXPECT_EQ(j.size(), 8u);
  EXPECT_TRUE(j["batches"].is_number_integer());
  EXPECT_TRUE(j["sync_bytes"].is_number_integer());
}

}  // namespace
}  // namespace freshet
