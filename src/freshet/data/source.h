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

// What a source noticed of its files being rotated under it (a followed
// file log; see file_log.h). Each one noticed is logged as a warning.
struct RotationCounters {
  // Rotations noticed: a file renamed, replaced, removed, truncated or
  // rewritten in place, a segment that appeared sorting before the one being
  // read, a resumed position in a segment that is gone or too short.
  int64_t rotations = 0;
  // Those after which records may be missing from the stream: a file
  // truncated or rewritten in place (what was written to it after the
  // source last looked and before it changed was never seen), a resumed
  // position in a segment that is gone or too short.
  int64_t gaps = 0;
  // Bytes the source had seen (a held-back partial line, the size of the
  // file before it shrank) but could not read: a lower bound of the loss.
  int64_t lost_bytes = 0;
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

  // Rotations noticed so far; zero for sources without files.
  virtual RotationCounters rotation_counters() const { return {}; }
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
