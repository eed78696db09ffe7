// Source and Sink: the stream interfaces.
//
// A Source yields raw records (one text line each, without its newline) in
// stream order, each with the position just after it, so that a consumer can
// checkpoint "everything up to here was applied" and resume with Seek().
// Implementations: FileLogSource (append-only files, byte offsets, follow
// mode), GeneratorSource (synthetic, seeded); Kafka later.
//
// A Sink appends raw records: FileLogSink.
//
// Sources and sinks are not thread-safe; one thread drives each.
#ifndef FRESHET_DATA_SOURCE_H_
#define FRESHET_DATA_SOURCE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace freshet {

// Where a stream stands: which segment (file of a folder log, or partition)
// and the byte offset (or record offset) inside it. Serialised into
// checkpoints as "segment:offset".
struct StreamPosition {
  std::string segment;
  int64_t offset = 0;

  std::string ToString() const;
  static absl::StatusOr<StreamPosition> Parse(std::string_view text);
  bool operator==(const StreamPosition& o) const {
    return segment == o.segment && offset == o.offset;
  }
};

// A batch of records. `data` views into storage owned by the batch and stays
// valid until the batch is refilled or destroyed.
struct RecordBatch {
  struct Record {
    std::string_view data;
    StreamPosition position;  // where this record starts
  };
  std::vector<Record> records;
  std::string storage;  // owns the bytes the records view
  StreamPosition end;   // position after the last record

  void Clear() {
    records.clear();
    storage.clear();
  }
};

class Source {
 public:
  virtual ~Source() = default;

  // Fills `batch` with up to `max_records` records. Returns OK with an empty
  // batch at the end of a finite stream; in follow mode waits up to
  // `timeout_ms` for new data and may then return an empty batch while the
  // stream goes on (check AtEnd()).
  virtual absl::Status Poll(size_t max_records, int timeout_ms,
                            RecordBatch* batch) = 0;

  // True once a finite stream is exhausted; never true in follow mode.
  virtual bool AtEnd() const = 0;

  // The position after the last record returned.
  virtual StreamPosition Position() const = 0;

  // Continues from `position` (as returned by Position() or a record's).
  virtual absl::Status Seek(const StreamPosition& position) = 0;

  // Records that everything up to `position` has been applied. File logs keep
  // no consumer state and accept it as a no-op; Kafka commits offsets.
  virtual absl::Status Commit(const StreamPosition& position) {
    return absl::OkStatus();
  }
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Appends one record (a newline is added).
  virtual absl::Status Append(std::string_view record) = 0;
  // Makes appended records visible to readers (and durable where the sink can).
  virtual absl::Status Flush() = 0;
};

}  // namespace freshet

#endif  // FRESHET_DATA_SOURCE_H_
