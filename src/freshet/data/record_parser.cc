// The record error kinds and MakeRecordParser(); the formats themselves are
// in delimited_parser.cc, jsonl_parser.cc and pair_parser.cc.
#include "freshet/data/record_parser.h"

#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/record_formats.h"
#include "freshet/data/text_scan.h"

namespace freshet {
namespace {

constexpr char kErrorKindUrl[] = "type.freshet/record_error_kind";

}  // namespace

std::string_view RecordErrorKindName(RecordErrorKind kind) {
  switch (kind) {
    case RecordErrorKind::kColumnCount:
      return "column_count";
    case RecordErrorKind::kBadNumber:
      return "bad_number";
    case RecordErrorKind::kInvalidUtf8:
      return "invalid_utf8";
    case RecordErrorKind::kLineTooLong:
      return "line_too_long";
    case RecordErrorKind::kUnknownField:
      return "unknown_field";
    case RecordErrorKind::kMissingField:
      return "missing_field";
    case RecordErrorKind::kBadSyntax:
      return "bad_syntax";
    case RecordErrorKind::kBadJson:
      return "bad_json";
  }
  return "unknown";
}

absl::Status MakeRecordError(RecordErrorKind kind, std::string_view message) {
  absl::Status status = absl::InvalidArgumentError(ToAbsl(message));
  status.SetPayload(kErrorKindUrl,
                    absl::Cord(std::string(1, static_cast<char>(kind))));
  return status;
}

std::optional<RecordErrorKind> GetRecordErrorKind(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorKindUrl);
  if (!payload.has_value() || payload->size() != 1) return std::nullopt;
  const int k = static_cast<unsigned char>((*payload)[0]);
  if (k >= kNumRecordErrorKinds) return std::nullopt;
  return static_cast<RecordErrorKind>(k);
}

namespace record_formats {

absl::Status CheckLength(std::string_view record, int64_t max_line_bytes) {
  if (static_cast<int64_t>(record.size()) > max_line_bytes) {
    return MakeRecordError(
        RecordErrorKind::kLineTooLong,
        Cat("record longer than max_line_bytes (", max_line_bytes, ")"));
  }
  return absl::OkStatus();
}

absl::Status InvalidUtf8Error() {
  return MakeRecordError(RecordErrorKind::kInvalidUtf8,
                         "record is not valid UTF-8");
}

}  // namespace record_formats

absl::Status RecordParser::CheckRecord(std::string_view record) const {
  RETURN_IF_ERROR(record_formats::CheckLength(record, max_line_bytes_));
  if (!IsValidUtf8(record)) return record_formats::InvalidUtf8Error();
  return absl::OkStatus();
}

bool FormatHasHeader(const SourceSpec& spec) {
  return (spec.format == "csv" || spec.format == "tsv") && spec.header;
}

const std::vector<std::string>& CriteoColumns() {
  static const std::vector<std::string>* columns = [] {
    auto* c = new std::vector<std::string>;
    c->push_back("label");
    for (int i = 1; i <= 13; ++i) c->push_back(Cat("I", i));
    for (int i = 1; i <= 26; ++i) c->push_back(Cat("C", i));
    return c;
  }();
  return *columns;
}

absl::StatusOr<std::unique_ptr<RecordParser>> MakeRecordParser(
    std::shared_ptr<const Schema> schema, const SourceSpec& spec,
    std::string_view header_line) {
  if (schema == nullptr) {
    return absl::InvalidArgumentError("MakeRecordParser: schema is null");
  }
  if (spec.max_line_bytes <= 0) {
    return absl::InvalidArgumentError(
        Cat("source.max_line_bytes: must be > 0, got ", spec.max_line_bytes));
  }
  // The format dispatch: one line per format.
  const std::string& format = spec.format;
  if (format == "criteo" || format == "csv" || format == "tsv") {
    return record_formats::MakeDelimitedParser(std::move(schema), spec,
                                               header_line);
  }
  if (format == "jsonl") {
    return record_formats::MakeJsonlParser(std::move(schema), spec);
  }
  if (format == "libsvm" || format == "libffm") {
    return record_formats::MakePairParser(std::move(schema), spec);
  }
  return absl::InvalidArgumentError(
      Cat("source.format: expected one of criteo, csv, tsv, jsonl, "
          "libsvm, libffm, got '",
          format, "'"));
}

absl::StatusOr<std::unique_ptr<RecordParser>> MakeRecordParser(
    const SchemaSpec& schema, const SourceSpec& spec,
    std::string_view header_line, const std::string& base_dir) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Schema> compiled,
                   Schema::Compile(schema, base_dir));
  return MakeRecordParser(std::move(compiled), spec, header_line);
}

}  // namespace freshet
