#include "freshet/job/embedded_job_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/job/training_job.h"

namespace freshet {

std::string RunProgressLine(const EmbeddedJobReport& r) {
  const TrainerProgress& p = r.training;
  return absl::StrFormat(
      "%lld examples  %.0f ex/s  window auc %.4f  |  serving "
      "v%llu  %lld requests  freshness p50 %.0f ms p99 %.0f ms",
      static_cast<long long>(p.examples), p.examples_per_sec, p.window_auc,
      static_cast<unsigned long long>(r.serving_version),
      static_cast<long long>(r.requests), r.freshness_p50_ms,
      r.freshness_p99_ms);
}

std::string RunSummaryText(const EmbeddedJobReport& r) {
  const TrainerProgress& p = r.training;
  const SyncStats& s = r.sync;
  return absl::StrCat(
      absl::StrFormat("trained      %lld examples in %.1f s (%.0f "
                      "examples/s), progressive auc %.4f logloss %.4f\n",
                      static_cast<long long>(p.examples), p.seconds,
                      p.examples_per_sec, p.auc, p.logloss),
      absl::StrFormat("sync         %lld batches, %lld rows, %.1f MiB, serving "
                      "version %llu\n",
                      static_cast<long long>(s.batches),
                      static_cast<long long>(s.rows), s.bytes / 1048576.0,
                      static_cast<unsigned long long>(r.serving_version)),
      absl::StrFormat("freshness    p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  "
                      "max %.0f ms (%lld batches with updates)\n",
                      r.freshness_p50_ms, r.freshness_p90_ms,
                      r.freshness_p99_ms, r.freshness_max_ms,
                      static_cast<long long>(r.freshness_batches)),
      absl::StrFormat("serving      %lld requests, %lld errors, latency p50 "
                      "%.2f ms p99 %.2f ms\n",
                      static_cast<long long>(r.requests),
                      static_cast<long long>(r.errors), r.latency_p50_ms,
                      r.latency_p99_ms),
      SideWriteFailuresLine(p));
}

nlohmann::json FreshnessJson(const EmbeddedJobReport& r) {
  return nlohmann::json{
      {"p50_ms", r.freshness_p50_ms},   {"p90_ms", r.freshness_p90_ms},
      {"p99_ms", r.freshness_p99_ms},   {"max_ms", r.freshness_max_ms},
      {"batches", r.freshness_batches}, {"examples", r.training.examples},
      {"sync_rows", r.sync.rows},       {"sync_bytes", r.sync.bytes}};
}

}  // namespace freshet
