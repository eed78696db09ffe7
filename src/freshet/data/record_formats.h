// The per-format RecordParser constructors behind MakeRecordParser(), and the
// record checks they share. Internal to data/: callers use MakeRecordParser()
// (freshet/data/record_parser.h), which documents the formats.
//
//   delimited_parser.cc  criteo, csv, tsv
//   jsonl_parser.cc      jsonl
//   pair_parser.cc       libsvm, libffm
//
// Every constructor resolves the schema's columns against its format and
// returns the errors MakeRecordParser() documents. Functions are thread-safe;
// the parsers they return are not (one per thread).
#ifndef FRESHET_DATA_RECORD_FORMATS_H_
#define FRESHET_DATA_RECORD_FORMATS_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/data/record_parser.h"
#include "freshet/data/schema.h"

namespace freshet {
namespace record_formats {

// criteo, csv or tsv (spec.format); `header_line` as for MakeRecordParser().
absl::StatusOr<std::unique_ptr<RecordParser>> MakeDelimitedParser(
    std::shared_ptr<const Schema> schema, const SourceSpec& spec,
    std::string_view header_line);

absl::StatusOr<std::unique_ptr<RecordParser>> MakeJsonlParser(
    std::shared_ptr<const Schema> schema, const SourceSpec& spec);

// libsvm or libffm (spec.format).
absl::StatusOr<std::unique_ptr<RecordParser>> MakePairParser(
    std::shared_ptr<const Schema> schema, const SourceSpec& spec);

// Shows at most 64 bytes of a value in an error message.
inline std::string_view Excerpt(std::string_view s) { return s.substr(0, 64); }

inline std::string_view StripCr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

// The two checks of RecordParser::CheckRecord(), in its order.
absl::Status CheckLength(std::string_view record, int64_t max_line_bytes);
absl::Status InvalidUtf8Error();

}  // namespace record_formats
}  // namespace freshet

#endif  // FRESHET_DATA_RECORD_FORMATS_H_
