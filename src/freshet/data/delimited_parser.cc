// criteo, csv and tsv: a record is a line of delimited fields, named by the
// format's fixed columns (criteo), the stream's header line or
// SourceSpec::columns. Splitting is text_scan's SplitFields(); the values go
// to the FeatureEncoder by field index.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/base/status_macros.h"
#include "freshet/data/feature_encoder.h"
#include "freshet/data/record_formats.h"
#include "freshet/data/text_scan.h"

namespace freshet {
namespace record_formats {
namespace {

class DelimitedParser final : public RecordParser {
 public:
  DelimitedParser(std::shared_ptr<const Schema> schema, int64_t max_line_bytes,
                  char delim, bool quotes, std::vector<std::string> columns)
      : RecordParser(std::move(schema), max_line_bytes),
        delim_(delim),
        quotes_(quotes),
        columns_(std::move(columns)) {}

  absl::Status Init(std::string_view where) {
    fields_.assign(columns_.size(), RawValue());
    for (RawValue& f : fields_) f.present = true;
    ASSIGN_OR_RETURN(encoder_, FeatureEncoder::Make(
                                   schema_,
                                   [this](std::string_view name) {
                                     for (size_t i = 0; i < columns_.size();
                                          ++i) {
                                       if (columns_[i] == name) {
                                         return static_cast<int>(i);
                                       }
                                     }
                                     return -1;
                                   },
                                   where));
    return absl::OkStatus();
  }

  absl::Status Parse(std::string_view record, Example* out) override {
    RETURN_IF_ERROR(CheckRecord(record));
    record = StripCr(record);
    if (!SplitFields(record, delim_, quotes_, &views_, &scratch_)) {
      return MakeRecordError(RecordErrorKind::kBadSyntax,
                             "unterminated or misplaced quote");
    }
    if (views_.size() != columns_.size()) {
      return MakeRecordError(
          RecordErrorKind::kColumnCount,
          Cat("expected ", columns_.size(), " columns, got ", views_.size()));
    }
    for (size_t i = 0; i < views_.size(); ++i) fields_[i].text = views_[i];
    return encoder_->Encode(RawRecord{fields_, {}}, out);
  }

  int64_t side_table_misses() const override {
    return encoder_->side_table_misses();
  }

 private:
  const char delim_;
  const bool quotes_;
  const std::vector<std::string> columns_;
  std::unique_ptr<FeatureEncoder> encoder_;
  std::vector<RawValue> fields_;  // one per column, always present
  std::vector<std::string_view> views_;
  std::string scratch_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RecordParser>> MakeDelimitedParser(
    std::shared_ptr<const Schema> schema, const SourceSpec& spec,
    std::string_view header_line) {
  const std::string& format = spec.format;
  if (format == "criteo") {
    auto parser = std::make_unique<DelimitedParser>(
        std::move(schema), spec.max_line_bytes, '\t', /*quotes=*/false,
        CriteoColumns());
    RETURN_IF_ERROR(
        parser->Init("is not a criteo column (label, I1..I13, C1..C26)"));
    return parser;
  }
  char delim;
  const std::string& d =
      spec.delimiter.empty() ? (format == "csv" ? "," : "\t") : spec.delimiter;
  if (!ParseDelimiter(d, &delim)) {
    return absl::InvalidArgumentError(
        Cat("source.delimiter: must be one character, got '", d, "'"));
  }
  const bool quotes = format == "csv";
  std::vector<std::string> columns;
  std::string where;
  if (spec.header) {
    std::string_view line = StripCr(header_line);
    if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    if (line.empty()) {
      return absl::InvalidArgumentError(
          "source.header: the stream has no header line");
    }
    std::vector<std::string_view> views;
    std::string scratch;
    if (!SplitFields(line, delim, quotes, &views, &scratch)) {
      return absl::InvalidArgumentError(
          "source.header: unterminated or misplaced quote in the header");
    }
    for (std::string_view v : views) columns.emplace_back(TrimSpaces(v));
    where = "not in the header";
  } else {
    if (spec.columns.empty()) {
      return absl::InvalidArgumentError(
          "source.columns: must name the columns when source.header is "
          "false");
    }
    columns = spec.columns;
    where = "not in source.columns";
  }
  auto parser =
      std::make_unique<DelimitedParser>(std::move(schema), spec.max_line_bytes,
                                        delim, quotes, std::move(columns));
  RETURN_IF_ERROR(parser->Init(where));
  return parser;
}

}  // namespace record_formats
}  // namespace freshet
