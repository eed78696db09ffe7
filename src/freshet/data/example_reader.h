// ExampleReader: a Source, a RecordParser and a dead-letter Sink glued into a
// stream of Examples.
//
// Malformed records never stop the stream: each is counted by kind
// (RecordErrorKind), the first of each kind is logged with its stream
// position (FRESHET_LOG_WARN), and the raw record goes to the dead-letter
// sink, then reading goes on. A dead letter that cannot be written (a full
// disk) does not stop it either: it is counted (dead_letter_failures), the
// first failure is logged (FRESHET_LOG_ERROR), and reading goes on.
//
// Dead-letter format: one line per rejected record,
//
//   SEGMENT:OFFSET <TAB> KIND <TAB> MESSAGE <TAB> RECORD
//
// where SEGMENT:OFFSET is where the record starts (StreamPosition), KIND the
// error kind's name ("column_count", "bad_json", ...), MESSAGE the reason
// (tabs and newlines replaced by spaces) and RECORD the raw bytes of the
// record, unchanged (it may contain tabs; it never contains a newline). Lines
// are flushed as they are written.
//
// Header lines (csv/tsv with SourceSpec::header): the stream's first record
// names the columns; the parser is built from it. A later record equal to it
// (e.g. each segment of a folder starting with the header) is skipped and
// counted in `headers`. Seek() before the header was read takes effect once
// it has been.
//
// Not thread-safe: one thread drives a reader.
#ifndef FRESHET_DATA_EXAMPLE_READER_H_
#define FRESHET_DATA_EXAMPLE_READER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/base/config.h"
#include "freshet/base/file_system.h"
#include "freshet/data/example.h"
#include "freshet/data/record_parser.h"
#include "freshet/data/schema.h"
#include "freshet/data/source.h"

namespace freshet {

struct ReaderCounters {
  int64_t records = 0;  // data records read (header lines excluded)
  int64_t parsed = 0;   // records that became Examples
  int64_t errors = 0;   // malformed records, all kinds
  std::array<int64_t, kNumRecordErrorKinds> errors_by_kind{};
  int64_t headers = 0;               // header lines skipped
  int64_t side_table_misses = 0;     // see RecordParser::side_table_misses()
  int64_t dead_letter_failures = 0;  // dead letters that could not be written
  // The source's RotationCounters (a followed file log, see file_log.h):
  // rotations noticed, those after which records may be missing, and the
  // bytes seen but not read.
  int64_t rotations = 0;
  int64_t rotation_gaps = 0;
  int64_t rotation_lost_bytes = 0;

  int64_t errors_of(RecordErrorKind kind) const {
    return errors_by_kind[static_cast<int>(kind)];
  }
};

class ExampleReader {
 public:
  // `dead_letter` may be null: malformed records are then only counted and
  // logged. `header`, when given, is the header line of a source that does
  // not yield it as a record (a generator); otherwise, for formats with a
  // header, the first record is the header.
  static absl::StatusOr<std::unique_ptr<ExampleReader>> Create(
      std::unique_ptr<Source> source, std::shared_ptr<const Schema> schema,
      const SourceSpec& spec, std::unique_ptr<Sink> dead_letter,
      std::optional<std::string> header = std::nullopt);

  // MakeSource(spec) with a dead-letter file at spec.dead_letter, or
  // spec.path + ".dead" when that is empty (none when both are empty). The
  // file is created when the first malformed record arrives. A generator
  // source's header comes from GeneratorHeader(spec.generator_kind). The
  // source and the dead-letter file are on `fs` (null:
  // FileSystem::Default()).
  static absl::StatusOr<std::unique_ptr<ExampleReader>> Open(
      const SourceSpec& spec, std::shared_ptr<const Schema> schema,
      FileSystem* fs = nullptr);

  // Parses the next good record into `out` and returns true, or returns false
  // when none is available: the stream is at its end (AtEnd()) or, in follow
  // mode, nothing arrived within `timeout_ms`. Errors are I/O failures of
  // the source or a header the schema does not fit.
  absl::StatusOr<bool> Next(Example* out, int timeout_ms = 0);

  // Fills up to out.size() examples; returns how many. Only the first waits
  // up to `timeout_ms`. 0 means the same as Next() returning false.
  absl::StatusOr<size_t> NextBatch(absl::Span<Example> out, int timeout_ms = 0);

  // True once a finite stream is exhausted.
  bool AtEnd() const;

  // The position after the last record returned or rejected.
  StreamPosition Position() const;

  // Continues from `position` (as returned by Position()).
  absl::Status Seek(const StreamPosition& position);

  const ReaderCounters& counters() const { return counters_; }

  const Schema& schema() const { return *schema_; }
  const std::shared_ptr<const Schema>& shared_schema() const { return schema_; }

  // The parser; null until the header line (if any) has been read.
  const RecordParser* parser() const { return parser_.get(); }

 private:
  ExampleReader(std::unique_ptr<Source> source,
                std::shared_ptr<const Schema> schema, const SourceSpec& spec,
                std::unique_ptr<Sink> dead_letter);

  void Reject(const RecordBatch::Record& record, const absl::Status& status);
  // Copies the source's rotation counters into counters_.
  void CopyRotationCounters();

  std::unique_ptr<Source> source_;
  std::shared_ptr<const Schema> schema_;
  const SourceSpec spec_;
  std::unique_ptr<Sink> dead_letter_;
  std::unique_ptr<RecordParser> parser_;

  bool has_header_ = false;
  std::string header_;
  bool has_pending_seek_ = false;
  StreamPosition pending_seek_;

  RecordBatch batch_;
  size_t next_ = 0;  // next record of batch_ to hand out
  ReaderCounters counters_;
  std::string line_;  // dead-letter line being built
};

}  // namespace freshet

#endif  // FRESHET_DATA_EXAMPLE_READER_H_
