// RecordParser: turns one raw record (a text line) into an Example.
//
// Formats (SourceSpec::format):
//   criteo  Criteo TSV: no header, exactly 40 tab-separated columns named
//           label, I1..I13, C1..C26. Empty values are allowed anywhere but in
//           the label: an empty categorical gives an empty slot, an empty
//           integer the dense feature's `missing` value.
//   csv     Delimited text (default ",") with RFC 4180 quoting on one line:
//   tsv     "a, b" is one field, "" inside quotes is one quote. tsv (default
//           "\t") does not treat quotes specially. Columns are named by the
//           header line (SourceSpec::header) or by SourceSpec::columns.
//           Every record must have as many fields as there are columns. A
//           trailing '\r' is dropped.
//   jsonl   One JSON object per line; keys are column names. A value may be a
//           string, a number, true/false (read as "1"/"0"), null (= absent)
//           or an array of those (items of a multi-valued slot). Keys that no
//           column of the schema uses are ignored, whatever their value. A
//           slot or dense column absent from an object gives an empty slot or
//           the `missing` value; an absent label column is an error
//           (missing_field), since a guessed label would train the model on
//           a wrong target. Nested objects, or arrays inside arrays, under a
//           used key are bad_json.
//   libsvm  "label idx:val idx:val ...": every pair goes to each slot whose
//           column is "features", as id FeatureId(seed, idx) with weight val.
//   libffm  "label field:idx:val ...": the pair goes to the slot whose column
//           is the field number written in decimal ("0", "1", ...). A field
//           that no slot names is an error (unknown_field): a libffm file's
//           fields are a fixed numbering, so an unmapped one means the schema
//           and the data disagree.
//           For both: tokens are separated by spaces or tabs; the leading
//           token is the record's only label, whatever the label's column
//           (thresholds apply: "-1"/"+1" labels need threshold 0.5); the
//           formats carry no dense, weight, timestamp or request-id columns,
//           and Example::id_weights is always filled.
//
// Side-table columns ("NAME.COLUMN", see freshet/data/side_table.h) work with
// csv, tsv, criteo and jsonl: the record's join column selects the row; a key
// the table lacks leaves the value absent and is counted in
// side_table_misses().
//
// Malformed records return InvalidArgument with a RecordErrorKind attached
// (GetRecordErrorKind()); the kinds are listed below. Resolving the schema's
// columns against the format happens once, in MakeRecordParser(), whose errors
// name the schema field, e.g. "schema.slots[3] 'C4': column 'C44' not in the
// header".
//
// Every format hands its records' raw column values to the one
// FeatureEncoder (freshet/data/feature_encoder.h), which hashes, splits lists,
// joins side tables and normalises dense values for training and serving
// alike.
//
// A parser keeps scratch buffers and counters: not thread-safe, one per
// thread. Parse() does not allocate once the Example and the scratch buffers
// have grown to the largest record seen (error messages aside).
#ifndef FRESHET_DATA_RECORD_PARSER_H_
#define FRESHET_DATA_RECORD_PARSER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/data/example.h"
#include "freshet/data/schema.h"

namespace freshet {

// Why a record was rejected. Each kind is counted separately by readers.
enum class RecordErrorKind : int {
  kColumnCount = 0,  // delimited record with the wrong number of fields
  kBadNumber,        // label, dense, weight, timestamp or pair value not a
                     // number (or an empty label)
  kInvalidUtf8,      // bytes that are not UTF-8
  kLineTooLong,      // longer than SourceSpec::max_line_bytes
  kUnknownField,     // libffm field with no slot
  kMissingField,     // jsonl object without a label column
  kBadSyntax,        // unterminated CSV quote, libsvm/libffm token shape
  kBadJson,          // not a JSON object, or an unsupported nested value
};
inline constexpr int kNumRecordErrorKinds = 8;

// Stable lower-case name of a kind: "column_count", "bad_number",
// "invalid_utf8", "line_too_long", "unknown_field", "missing_field",
// "bad_syntax", "bad_json".
std::string_view RecordErrorKindName(RecordErrorKind kind);

// An InvalidArgument status carrying `kind`.
absl::Status MakeRecordError(RecordErrorKind kind, std::string_view message);

// The kind attached by MakeRecordError(), or nullopt.
std::optional<RecordErrorKind> GetRecordErrorKind(const absl::Status& status);

class RecordParser {
 public:
  virtual ~RecordParser() = default;

  // Parses `record` (one line, without its newline) into `out`, which is
  // cleared first. On error `out` holds unspecified partial content.
  virtual absl::Status Parse(std::string_view record, Example* out) = 0;

  // Records whose join key a side table did not hold (one per record and
  // side table).
  virtual int64_t side_table_misses() const { return 0; }

  const Schema& schema() const { return *schema_; }

 protected:
  RecordParser(std::shared_ptr<const Schema> schema, int64_t max_line_bytes)
      : schema_(std::move(schema)), max_line_bytes_(max_line_bytes) {}

  // Checks the length limit and UTF-8.
  absl::Status CheckRecord(std::string_view record) const;

  std::shared_ptr<const Schema> schema_;
  int64_t max_line_bytes_;
};

// True when `spec`'s format starts with a header line (csv/tsv with
// spec.header set).
bool FormatHasHeader(const SourceSpec& spec);

// The fixed column names of the criteo format: label, I1..I13, C1..C26.
const std::vector<std::string>& CriteoColumns();

// Builds the parser for spec.format and resolves every column the schema
// uses. `header_line` is the stream's first line when FormatHasHeader(spec)
// (a UTF-8 byte-order mark and a trailing '\r' are dropped).
absl::StatusOr<std::unique_ptr<RecordParser>> MakeRecordParser(
    std::shared_ptr<const Schema> schema, const SourceSpec& spec,
    std::string_view header_line = {});

// Same, compiling `schema` first (side-table paths resolve against
// `base_dir`).
absl::StatusOr<std::unique_ptr<RecordParser>> MakeRecordParser(
    const SchemaSpec& schema, const SourceSpec& spec,
    std::string_view header_line = {}, const std::string& base_dir = "");

}  // namespace freshet

#endif  // FRESHET_DATA_RECORD_PARSER_H_
