// libsvm and libffm: a label, then "index:value" (libsvm) or
// "field:index:value" (libffm) pairs separated by spaces or tabs. A pair's id
// is FeatureEncoder::Id() of its index text in the slot the pair goes to, its
// weight the value; the Example is grouped by slot with a stable counting
// sort, so ids keep their order within a slot.
#include <algorithm>
#include <cmath>
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

class PairParser final : public RecordParser {
 public:
  PairParser(std::shared_ptr<const Schema> schema, int64_t max_line_bytes,
             bool ffm)
      : RecordParser(std::move(schema), max_line_bytes), ffm_(ffm) {}

  absl::Status Init(std::string_view format) {
    const Schema& s = *schema_;
    auto unsupported = [&](std::string_view field,
                           const Schema::ColumnRef& c) -> absl::Status {
      if (c.text.empty()) return absl::OkStatus();
      return absl::InvalidArgumentError(
          Cat(field, ": column '", c.text, "': format ", format,
              " carries only a label and ",
              ffm_ ? "field:index:value" : "index:value", " pairs"));
    };
    for (int i = 0; i < s.num_dense(); ++i) {
      RETURN_IF_ERROR(
          unsupported(Cat("schema.dense[", i, "] '", s.dense(i).name, "'"),
                      s.dense(i).column));
    }
    RETURN_IF_ERROR(
        unsupported("schema.timestamp_column", s.timestamp_column()));
    RETURN_IF_ERROR(
        unsupported("schema.request_id_column", s.request_id_column()));
    RETURN_IF_ERROR(unsupported("schema.weight_column", s.weight_column()));
    if (s.num_labels() > 1) {
      return absl::InvalidArgumentError(
          Cat("schema.labels: format ", format,
              " carries one label, the schema declares ", s.num_labels()));
    }
    for (int i = 0; i < s.num_slots(); ++i) {
      const Schema::Slot& slot = s.slot(i);
      const std::string field = Cat("schema.slots[", i, "] '", slot.name, "'");
      if (slot.column.side_table >= 0) {
        return absl::InvalidArgumentError(
            Cat(field, ": column '", slot.column.text, "': format ", format,
                " cannot join side tables"));
      }
      if (!ffm_) {
        if (slot.column.text != "features") {
          return absl::InvalidArgumentError(
              Cat(field, ": column '", slot.column.text,
                  "': format libsvm has ", "only the column 'features'"));
        }
        feature_slots_.push_back(i);
        continue;
      }
      const std::string& text = slot.column.text;
      int number = 0;
      bool ok = !text.empty() && text.size() <= 6;
      for (char c : text) {
        ok = ok && c >= '0' && c <= '9';
        if (ok) number = number * 10 + (c - '0');
      }
      if (!ok) {
        return absl::InvalidArgumentError(
            Cat(field, ": column '", text,
                "': libffm columns are field numbers (\"0\", \"1\", ...)"));
      }
      if (number >= static_cast<int>(field_slots_.size())) {
        field_slots_.resize(number + 1, -1);
      }
      if (field_slots_[number] >= 0) {
        return absl::InvalidArgumentError(
            Cat(field, ": field ", number, " is already read by slot '",
                s.slot(field_slots_[number]).name, "'"));
      }
      field_slots_[number] = i;
    }
    if (!ffm_ && feature_slots_.empty()) {
      return absl::InvalidArgumentError(
          "schema.slots: format libsvm needs a slot with column 'features'");
    }
    counts_.assign(s.num_slots() + 1, 0);
    return absl::OkStatus();
  }

  absl::Status Parse(std::string_view record, Example* out) override {
    RETURN_IF_ERROR(CheckRecord(record));
    const Schema& s = *schema_;
    record = StripCr(record);
    out->Clear();
    entries_.clear();
    const char* p = record.data();
    const char* end = p + record.size();
    auto next_token = [&](std::string_view* tok) {
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      const char* start = p;
      while (p < end && *p != ' ' && *p != '\t') ++p;
      *tok = std::string_view(start, p - start);
      return !tok->empty();
    };
    std::string_view tok;
    if (!next_token(&tok)) {
      return MakeRecordError(RecordErrorKind::kBadSyntax, "empty record");
    }
    double label;
    if (!ParseDouble(tok, &label)) {
      return MakeRecordError(
          RecordErrorKind::kBadNumber,
          Cat("label: expected a number, got '", Excerpt(tok), "'"));
    }
    if (s.num_labels() == 1) {
      // As FeatureEncoder's labels: a value beyond the float range (without
      // a threshold) would train on an infinite target.
      const float y = s.label(0).Apply(label);
      if (!std::isfinite(y)) {
        return MakeRecordError(
            RecordErrorKind::kBadNumber,
            Cat("label: expected a finite number, got '", Excerpt(tok), "'"));
      }
      out->labels.push_back(y);
    }
    while (next_token(&tok)) {
      const size_t last = tok.rfind(':');
      std::string_view index, value, field;
      if (last != std::string_view::npos) {
        value = tok.substr(last + 1);
        index = tok.substr(0, last);
        if (ffm_) {
          const size_t first = index.find(':');
          if (first == std::string_view::npos) {
            index = {};
          } else {
            field = index.substr(0, first);
            index = index.substr(first + 1);
          }
        }
      }
      if (index.empty() || (ffm_ && field.empty())) {
        return MakeRecordError(
            RecordErrorKind::kBadSyntax,
            Cat("expected ", ffm_ ? "field:index:value" : "index:value",
                ", got '", Excerpt(tok), "'"));
      }
      float w;
      if (!ParseFloat(value, &w)) {
        return MakeRecordError(
            RecordErrorKind::kBadNumber,
            Cat("value of '", Excerpt(tok), "' is not a number"));
      }
      if (!ffm_) {
        for (int slot : feature_slots_) {
          entries_.push_back(
              {slot, FeatureEncoder::Id(s.slot(slot), index), w});
        }
        continue;
      }
      int number = 0;
      bool ok = field.size() <= 6;
      for (char c : field) {
        ok = ok && c >= '0' && c <= '9';
        if (ok) number = number * 10 + (c - '0');
      }
      if (!ok) {
        return MakeRecordError(
            RecordErrorKind::kBadSyntax,
            Cat("field of '", Excerpt(tok), "' is not a number"));
      }
      if (number >= static_cast<int>(field_slots_.size()) ||
          field_slots_[number] < 0) {
        return MakeRecordError(RecordErrorKind::kUnknownField,
                               Cat("field ", number, " has no slot"));
      }
      const int slot = field_slots_[number];
      entries_.push_back({slot, FeatureEncoder::Id(s.slot(slot), index), w});
    }

    // Group by slot (counting sort, stable).
    std::fill(counts_.begin(), counts_.end(), 0);
    for (const Entry& e : entries_) ++counts_[e.slot + 1];
    for (size_t i = 1; i < counts_.size(); ++i) counts_[i] += counts_[i - 1];
    out->slot_offsets.assign(counts_.begin(), counts_.end());
    out->ids.resize(entries_.size());
    out->id_weights.resize(entries_.size());
    for (const Entry& e : entries_) {
      const uint32_t at = counts_[e.slot]++;
      out->ids[at] = e.id;
      out->id_weights[at] = e.weight;
    }
    return absl::OkStatus();
  }

 private:
  struct Entry {
    int slot;
    uint64_t id;
    float weight;
  };
  const bool ffm_;
  std::vector<int> feature_slots_;  // libsvm: slots fed by every pair
  std::vector<int> field_slots_;    // libffm: field number -> slot or -1
  std::vector<Entry> entries_;
  std::vector<uint32_t> counts_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RecordParser>> MakePairParser(
    std::shared_ptr<const Schema> schema, const SourceSpec& spec) {
  auto parser = std::make_unique<PairParser>(
      std::move(schema), spec.max_line_bytes, spec.format == "libffm");
  RETURN_IF_ERROR(parser->Init(spec.format));
  return parser;
}

}  // namespace record_formats
}  // namespace freshet
