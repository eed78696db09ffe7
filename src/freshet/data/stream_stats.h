// StreamStats: what is in a stream of Examples — per slot the distinct ids,
// the ids seen (with repeats), the examples without an id and the most
// frequent ids; per label the mean; the range of event times.
//
// `freshet stats` fills one from an ExampleReader with ScanStream(). Memory
// grows with the distinct ids (one hash-map entry each). Not thread-safe: one
// thread adds.
#ifndef FRESHET_DATA_STREAM_STATS_H_
#define FRESHET_DATA_STREAM_STATS_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "freshet/data/example.h"
#include "freshet/data/example_reader.h"
#include "freshet/data/schema.h"

namespace freshet {

class StreamStats {
 public:
  explicit StreamStats(std::shared_ptr<const Schema> schema);

  void Add(const Example& example);

  int64_t examples() const { return examples_; }

  // The counts as JSON, the reader's counters of the same stream included:
  // records, examples, errors, errors_by_kind, side_table_misses,
  // rotations, rotation_gaps, rotation_lost_bytes (see ReaderCounters),
  // label_rate (per label), event_time_ms {min, max} (when any record had
  // one), slots [{slot, table, distinct, values, empty, top [{id (16 hex
  // digits), count}]}] with the `top` most frequent ids of each slot (ties:
  // the smaller id first).
  nlohmann::json ToJson(const ReaderCounters& counters, int top) const;

  // The same as text, as `freshet stats` prints it: "records ..." (with
  // the rate over `seconds`), "malformed ..." (by kind when any), a "label
  // rate" line per label, "side-table misses ..." and "rotations ..." when
  // any, then a table of the slots (slot, table, distinct, ids, empty, top
  // ids with their counts) after an empty line when the schema has slots.
  // Every line ends in a newline.
  std::string ToText(const ReaderCounters& counters, int top,
                     double seconds) const;

 private:
  struct SlotCounts {
    absl::flat_hash_map<uint64_t, int64_t> counts;
    int64_t values = 0;  // ids seen, with repeats
    int64_t empty = 0;   // examples where the slot had no id
  };

  std::shared_ptr<const Schema> schema_;
  std::vector<SlotCounts> slots_;
  std::vector<double> label_sum_;
  int64_t examples_ = 0;
  int64_t min_time_ = INT64_MAX;
  int64_t max_time_ = INT64_MIN;
};

// The malformed records by kind, by kind name: "bad_number 1, column_count
// 2"; empty when there are none.
std::string ErrorKindsText(const ReaderCounters& counters);

// "0 malformed", or "3 malformed (bad_number 1, column_count 2)".
std::string MalformedText(const ReaderCounters& counters);

// Reads `reader` to the end of its stream, or until `stats` holds
// `max_records` examples (0: no limit), adding every example to `stats`;
// logs the records read and their rate every 5 s. Returns the seconds it
// took (at least 1e-9). Errors are the reader's, after the examples read
// before them were added.
absl::StatusOr<double> ScanStream(ExampleReader& reader, int64_t max_records,
                                  StreamStats* stats);

}  // namespace freshet

#endif  // FRESHET_DATA_STREAM_STATS_H_
