// EmbeddedJobReport: a snapshot of what an EmbeddedJob has done — training
// progress, sync, the freshness and the requests of serving — and the text
// and JSON that `freshet run` prints of it: the progress line, the summary at
// exit and --freshness-json.
//
// EmbeddedJob::Report() takes one; the functions below only format it, so
// they are plain functions of values. Thread safety: plain values.
#ifndef FRESHET_JOB_EMBEDDED_JOB_REPORT_H_
#define FRESHET_JOB_EMBEDDED_JOB_REPORT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "freshet/sync/sync_publisher.h"
#include "freshet/train/trainer.h"

namespace freshet {

struct EmbeddedJobReport {
  TrainerProgress training;
  SyncStats sync;
  uint64_t serving_version = 0;  // the version the replica serves
  // Freshness of the served model (the age of a batch's updates when
  // serving applied it), in ms, over `freshness_batches` batches with
  // updates.
  double freshness_p50_ms = 0;
  double freshness_p90_ms = 0;
  double freshness_p99_ms = 0;
  double freshness_max_ms = 0;
  int64_t freshness_batches = 0;
  // The HTTP front end.
  int64_t requests = 0;
  int64_t errors = 0;
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
};

// The progress line of a running job, without a newline: "123 examples
// 4567 ex/s  window auc 0.7123  |  serving v12  3 requests  freshness p50
// 40 ms p99 90 ms".
std::string RunProgressLine(const EmbeddedJobReport& r);

// The summary at exit, four lines ending in a newline: "trained ...",
// "sync ...", "freshness ...", "serving ...", and SideWriteFailuresLine()
// when a side output could not be written.
std::string RunSummaryText(const EmbeddedJobReport& r);

// The freshness as one JSON object: p50_ms, p90_ms, p99_ms, max_ms,
// batches, examples, sync_rows, sync_bytes.
nlohmann::json FreshnessJson(const EmbeddedJobReport& r);

}  // namespace freshet

#endif  // FRESHET_JOB_EMBEDDED_JOB_REPORT_H_
