#include "freshet/data/stream_stats.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "freshet/base/clock.h"
#include "freshet/base/logging.h"

namespace freshet {

StreamStats::StreamStats(std::shared_ptr<const Schema> schema)
    : schema_(std::move(schema)),
      slots_(schema_->num_slots()),
      label_sum_(schema_->num_labels(), 0.0) {}

void StreamStats::Add(const Example& e) {
  for (int sl = 0; sl < e.num_slots(); ++sl) {
    auto ids = e.slot_ids(sl);
    if (ids.empty()) ++slots_[sl].empty;
    for (uint64_t id : ids) ++slots_[sl].counts[id];
    slots_[sl].values += ids.size();
  }
  for (size_t l = 0; l < e.labels.size() && l < label_sum_.size(); ++l) {
    label_sum_[l] += e.labels[l];
  }
  if (e.event_time_ms != 0) {
    min_time_ = std::min(min_time_, e.event_time_ms);
    max_time_ = std::max(max_time_, e.event_time_ms);
  }
  ++examples_;
}

nlohmann::json StreamStats::ToJson(const ReaderCounters& c, int top_n) const {
  const Schema& s = *schema_;
  nlohmann::json out;
  out["records"] = c.records;
  out["examples"] = c.parsed;
  out["errors"] = c.errors;
  nlohmann::json by_kind = nlohmann::json::object();
  for (int k = 0; k < kNumRecordErrorKinds; ++k) {
    if (c.errors_by_kind[k] == 0) continue;
    by_kind[std::string(RecordErrorKindName(static_cast<RecordErrorKind>(k)))] =
        c.errors_by_kind[k];
  }
  out["errors_by_kind"] = by_kind;
  out["side_table_misses"] = c.side_table_misses;
  out["rotations"] = c.rotations;
  out["rotation_gaps"] = c.rotation_gaps;
  out["rotation_lost_bytes"] = c.rotation_lost_bytes;
  nlohmann::json labels = nlohmann::json::object();
  for (int l = 0; l < s.num_labels(); ++l) {
    labels[s.label(l).name] = examples_ ? label_sum_[l] / examples_ : 0.0;
  }
  out["label_rate"] = labels;
  if (min_time_ <= max_time_) {
    out["event_time_ms"] = {{"min", min_time_}, {"max", max_time_}};
  }
  nlohmann::json slot_json = nlohmann::json::array();
  for (int sl = 0; sl < s.num_slots(); ++sl) {
    const SlotCounts& sc = slots_[sl];
    std::vector<std::pair<int64_t, uint64_t>> top;
    top.reserve(sc.counts.size());
    for (const auto& [id, n] : sc.counts) top.emplace_back(n, id);
    const size_t k = std::min<size_t>(top_n, top.size());
    std::partial_sort(top.begin(), top.begin() + k, top.end(),
                      [](const auto& a, const auto& b) {
                        return a.first != b.first ? a.first > b.first
                                                  : a.second < b.second;
                      });
    nlohmann::json tops = nlohmann::json::array();
    for (size_t i = 0; i < k; ++i) {
      tops.push_back({{"id", absl::StrFormat("%016x", top[i].second)},
                      {"count", top[i].first}});
    }
    slot_json.push_back({{"slot", s.slot(sl).name},
                         {"table", s.slot(sl).table},
                         {"distinct", sc.counts.size()},
                         {"values", sc.values},
                         {"empty", sc.empty},
                         {"top", tops}});
  }
  out["slots"] = slot_json;
  return out;
}

std::string StreamStats::ToText(const ReaderCounters& c, int top,
                                double seconds) const {
  const Schema& s = *schema_;
  const nlohmann::json out = ToJson(c, top);
  std::string text = absl::StrFormat(
      "records      %lld (%lld examples) in %.2f s: %.0f records/s\n",
      static_cast<long long>(c.records), static_cast<long long>(c.parsed),
      seconds, c.records / seconds);
  absl::StrAppendFormat(&text, "malformed    %lld",
                        static_cast<long long>(c.errors));
  if (c.errors > 0) absl::StrAppendFormat(&text, " (%s)", ErrorKindsText(c));
  text += "\n";
  for (int l = 0; l < s.num_labels(); ++l) {
    absl::StrAppendFormat(&text, "label rate   %s %.4f\n", s.label(l).name,
                          out["label_rate"][s.label(l).name].get<double>());
  }
  if (c.side_table_misses > 0) {
    absl::StrAppendFormat(&text, "side-table misses %lld\n",
                          static_cast<long long>(c.side_table_misses));
  }
  if (c.rotations > 0) {
    absl::StrAppendFormat(
        &text,
        "rotations    %lld (%lld with records possibly missing, %lld bytes "
        "seen but not read)\n",
        static_cast<long long>(c.rotations),
        static_cast<long long>(c.rotation_gaps),
        static_cast<long long>(c.rotation_lost_bytes));
  }
  if (s.num_slots() == 0) return text;
  absl::StrAppendFormat(&text, "\n%-14s %-12s %10s %12s %8s  %s\n", "slot",
                        "table", "distinct", "ids", "empty", "top ids (count)");
  for (const auto& sj : out["slots"]) {
    std::string tops;
    for (const auto& t : sj["top"]) {
      if (!tops.empty()) tops += "  ";
      tops += absl::StrFormat("%s (%d)", t["id"].get<std::string>(),
                              t["count"].get<int64_t>());
    }
    absl::StrAppendFormat(
        &text, "%-14s %-12s %10lld %12lld %8lld  %s\n",
        sj["slot"].get<std::string>(), sj["table"].get<std::string>(),
        static_cast<long long>(sj["distinct"].get<int64_t>()),
        static_cast<long long>(sj["values"].get<int64_t>()),
        static_cast<long long>(sj["empty"].get<int64_t>()), tops);
  }
  return text;
}

std::string ErrorKindsText(const ReaderCounters& c) {
  std::map<std::string, int64_t> by_name;
  for (int k = 0; k < kNumRecordErrorKinds; ++k) {
    if (c.errors_by_kind[k] == 0) continue;
    by_name[std::string(RecordErrorKindName(static_cast<RecordErrorKind>(k)))] =
        c.errors_by_kind[k];
  }
  std::string out;
  for (const auto& [name, n] : by_name) {
    absl::StrAppendFormat(&out, "%s%s %d", out.empty() ? "" : ", ", name, n);
  }
  return out;
}

std::string MalformedText(const ReaderCounters& c) {
  if (c.errors == 0) return "0 malformed";
  return absl::StrCat(c.errors, " malformed (", ErrorKindsText(c), ")");
}

absl::StatusOr<double> ScanStream(ExampleReader& reader, int64_t max_records,
                                  StreamStats* stats) {
  std::vector<Example> batch(1024);
  const double start = MonotonicSeconds();
  double last_report = start;
  while (max_records == 0 || stats->examples() < max_records) {
    size_t want = batch.size();
    if (max_records > 0) {
      want = std::min<int64_t>(want, max_records - stats->examples());
    }
    absl::StatusOr<size_t> n =
        reader.NextBatch(absl::MakeSpan(batch.data(), want));
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    for (size_t i = 0; i < *n; ++i) stats->Add(batch[i]);
    const double now = MonotonicSeconds();
    if (now - last_report >= 5.0) {
      FRESHET_LOG_INFO("stats: {} records, {:.0f} records/s",
                       reader.counters().records,
                       reader.counters().records / (now - start));
      last_report = now;
    }
  }
  return std::max(MonotonicSeconds() - start, 1e-9);
}

}  // namespace freshet
