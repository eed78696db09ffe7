#include "freshet/data/record_parser.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "freshet/base/hash.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/text_scan.h"
#include "simdjson.h"

namespace freshet {
namespace {

constexpr char kErrorKindUrl[] = "type.freshet/record_error_kind";

// Shows at most 64 bytes of a value in an error message.
std::string_view Excerpt(std::string_view s) { return s.substr(0, 64); }

std::string_view StripCr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

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

namespace {

// The two checks of RecordParser::CheckRecord(), in its order.
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

}  // namespace

absl::Status RecordParser::CheckRecord(std::string_view record) const {
  RETURN_IF_ERROR(CheckLength(record, max_line_bytes_));
  if (!IsValidUtf8(record)) return InvalidUtf8Error();
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

namespace {

// One column's value in the current record.
struct FieldValue {
  std::string_view text;
  uint32_t items_begin = 0;  // list items in ColumnarParser::items_
  uint32_t items_end = 0;
  bool is_list = false;
  bool present = false;
};

// A schema column resolved against the format: a record field or a cell of
// a side table.
struct Ref {
  int field = -1;
  int side_table = -1;
  int side_column = -1;
  bool used() const { return field >= 0 || side_table >= 0; }
};

// Base of the parsers whose records are sets of named columns (criteo, csv,
// tsv, jsonl). Subclasses fill fields_ (and items_) for a record; Fill()
// then builds the Example.
class ColumnarParser : public RecordParser {
 protected:
  using RecordParser::RecordParser;

  // Maps a column name to a field index, or -1 when the format lacks it.
  using Lookup = std::function<int(std::string_view)>;

  // Resolves every column the schema uses; `where` ends the messages
  // ("not in the header").
  absl::Status Resolve(const Lookup& lookup, std::string_view where) {
    const Schema& s = *schema_;
    side_join_.assign(s.num_side_tables(), -1);
    side_rows_.assign(s.num_side_tables(), -1);
    auto resolve = [&](const Schema::ColumnRef& c, std::string_view field,
                       Ref* out) -> absl::Status {
      if (c.text.empty()) return absl::OkStatus();
      if (c.side_table >= 0) {
        out->side_table = c.side_table;
        out->side_column = c.side_column;
        if (side_join_[c.side_table] < 0) {
          const SideTable& t = s.side_table(c.side_table);
          side_join_[c.side_table] = lookup(t.join_column());
          if (side_join_[c.side_table] < 0) {
            return absl::InvalidArgumentError(
                Cat("schema.side_tables[", c.side_table, "] '", t.name(),
                    "': join_column '", t.join_column(), "' ", where));
          }
        }
        return absl::OkStatus();
      }
      out->field = lookup(c.text);
      if (out->field < 0) {
        return absl::InvalidArgumentError(
            Cat(field, ": column '", c.text, "' ", where));
      }
      return absl::OkStatus();
    };
    slots_.assign(s.num_slots(), Ref());
    for (int i = 0; i < s.num_slots(); ++i) {
      RETURN_IF_ERROR(resolve(
          s.slot(i).column, Cat("schema.slots[", i, "] '", s.slot(i).name, "'"),
          &slots_[i]));
    }
    dense_.assign(s.num_dense(), Ref());
    for (int i = 0; i < s.num_dense(); ++i) {
      RETURN_IF_ERROR(resolve(
          s.dense(i).column,
          Cat("schema.dense[", i, "] '", s.dense(i).name, "'"), &dense_[i]));
    }
    labels_.assign(s.num_labels(), Ref());
    for (int i = 0; i < s.num_labels(); ++i) {
      RETURN_IF_ERROR(resolve(
          s.label(i).column,
          Cat("schema.labels[", i, "] '", s.label(i).name, "'"), &labels_[i]));
    }
    RETURN_IF_ERROR(
        resolve(s.timestamp_column(), "schema.timestamp_column", &timestamp_));
    RETURN_IF_ERROR(resolve(s.request_id_column(), "schema.request_id_column",
                            &request_id_));
    RETURN_IF_ERROR(
        resolve(s.weight_column(), "schema.weight_column", &weight_));
    return absl::OkStatus();
  }

  // The value `ref` points at in the current record.
  FieldValue Get(const Ref& ref) const {
    if (ref.field >= 0) return fields_[ref.field];
    FieldValue v;
    if (ref.side_table >= 0) {
      const int row = side_rows_[ref.side_table];
      if (row >= 0) {
        v.text =
            schema_->side_table(ref.side_table).Value(row, ref.side_column);
        v.present = true;
      }
    }
    return v;
  }

  absl::Status AddId(const Schema::Slot& slot, std::string_view value,
                     bool fill_weights, Example* out) {
    float w = 1.0f;
    if (slot.weighted) {
      const size_t colon = value.rfind(':');
      if (colon != std::string_view::npos) {
        if (!ParseFloat(value.substr(colon + 1), &w)) {
          return MakeRecordError(RecordErrorKind::kBadNumber,
                                 Cat("slot '", slot.name, "': weight of '",
                                     Excerpt(value), "' is not a number"));
        }
        value = value.substr(0, colon);
      }
    }
    out->ids.push_back(FeatureId(slot.seed, value));
    if (fill_weights) out->id_weights.push_back(w);
    return absl::OkStatus();
  }

  absl::Status Fill(Example* out) {
    const Schema& s = *schema_;
    out->Clear();
    for (size_t t = 0; t < side_join_.size(); ++t) {
      if (side_join_[t] < 0) continue;
      const FieldValue& key = fields_[side_join_[t]];
      int row = -1;
      if (key.present && !key.is_list) row = s.side_table(t).FindRow(key.text);
      if (row < 0) ++side_table_misses_;
      side_rows_[t] = row;
    }

    const bool fill_weights = s.has_weighted_slot();
    out->slot_offsets.push_back(0);
    for (size_t i = 0; i < slots_.size(); ++i) {
      const Schema::Slot& slot = s.slot(i);
      const FieldValue v = Get(slots_[i]);
      if (v.present) {
        if (v.is_list) {
          for (uint32_t k = v.items_begin; k < v.items_end; ++k) {
            RETURN_IF_ERROR(AddId(slot, items_[k], fill_weights, out));
          }
        } else if (slot.multi_valued) {
          std::string_view rest = v.text;
          while (true) {
            const size_t sep = rest.find(slot.separator);
            std::string_view item = rest.substr(0, sep);
            if (!item.empty()) {
              RETURN_IF_ERROR(AddId(slot, item, fill_weights, out));
            }
            if (sep == std::string_view::npos) break;
            rest.remove_prefix(sep + slot.separator.size());
          }
        } else if (!v.text.empty()) {
          RETURN_IF_ERROR(AddId(slot, v.text, fill_weights, out));
        }
      }
      out->slot_offsets.push_back(static_cast<uint32_t>(out->ids.size()));
    }

    for (size_t i = 0; i < dense_.size(); ++i) {
      const Schema::Dense& d = s.dense(i);
      const FieldValue v = Get(dense_[i]);
      if (!v.present || (!v.is_list && v.text.empty())) {
        out->dense.push_back(d.missing);
        continue;
      }
      float x;
      if (v.is_list || !ParseFloat(v.text, &x)) {
        return MakeRecordError(
            RecordErrorKind::kBadNumber,
            Cat("dense '", d.name, "': expected a number, got ",
                v.is_list ? "a list" : Cat("'", Excerpt(v.text), "'")));
      }
      out->dense.push_back(d.Apply(x));
    }

    for (size_t i = 0; i < labels_.size(); ++i) {
      const Schema::Label& l = s.label(i);
      const FieldValue v = Get(labels_[i]);
      if (!v.present) {
        return MakeRecordError(RecordErrorKind::kMissingField,
                               Cat("label '", l.name, "': column '",
                                   l.column.text, "' is missing"));
      }
      double x;
      if (v.is_list || !ParseDouble(v.text, &x)) {
        return MakeRecordError(
            RecordErrorKind::kBadNumber,
            Cat("label '", l.name, "': expected a number, got ",
                v.is_list ? "a list" : Cat("'", Excerpt(v.text), "'")));
      }
      out->labels.push_back(l.Apply(x));
    }

    if (weight_.used()) {
      const FieldValue v = Get(weight_);
      if (v.present && (v.is_list || !v.text.empty())) {
        if (v.is_list || !ParseFloat(v.text, &out->weight)) {
          return MakeRecordError(
              RecordErrorKind::kBadNumber,
              Cat("weight: expected a number, got '", Excerpt(v.text), "'"));
        }
      }
    }
    if (timestamp_.used()) {
      const FieldValue v = Get(timestamp_);
      if (v.present && (v.is_list || !v.text.empty())) {
        double t;
        if (v.is_list || !ParseDouble(v.text, &t)) {
          return MakeRecordError(
              RecordErrorKind::kBadNumber,
              Cat("timestamp: expected a number, got '", Excerpt(v.text), "'"));
        }
        out->event_time_ms =
            static_cast<int64_t>(std::llround(t * s.timestamp_unit_ms()));
      }
    }
    if (request_id_.used()) {
      const FieldValue v = Get(request_id_);
      if (v.present && !v.is_list && !v.text.empty()) {
        out->request_id = Hash64(v.text);
      }
    }
    return absl::OkStatus();
  }

  std::vector<FieldValue> fields_;
  std::vector<std::string_view> items_;

 private:
  std::vector<Ref> slots_, dense_, labels_;
  Ref timestamp_, request_id_, weight_;
  std::vector<int> side_join_;  // per side table: field of its join column
  std::vector<int> side_rows_;  // per side table: row for this record
};

// criteo, csv, tsv.
class DelimitedParser final : public ColumnarParser {
 public:
  DelimitedParser(std::shared_ptr<const Schema> schema, int64_t max_line_bytes,
                  char delim, bool quotes, std::vector<std::string> columns)
      : ColumnarParser(std::move(schema), max_line_bytes),
        delim_(delim),
        quotes_(quotes),
        columns_(std::move(columns)) {}

  absl::Status Init(std::string_view where) {
    fields_.assign(columns_.size(), FieldValue());
    for (FieldValue& f : fields_) f.present = true;
    return Resolve(
        [this](std::string_view name) {
          for (size_t i = 0; i < columns_.size(); ++i) {
            if (columns_[i] == name) return static_cast<int>(i);
          }
          return -1;
        },
        where);
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
    return Fill(out);
  }

 private:
  const char delim_;
  const bool quotes_;
  const std::vector<std::string> columns_;
  std::vector<std::string_view> views_;
  std::string scratch_;
};

// jsonl, read with simdjson's On-Demand API over a copy of the record in a
// padded buffer that is reused from record to record. simdjson's stage 1
// indexes the record and validates UTF-8, closing quotes and control
// characters with SIMD instructions; the walk below then validates and reads
// one value at a time and builds no document. Strings without escapes and
// numbers are views into the copy, other strings are decoded into the
// parser's own buffer, so a warm parser does not allocate. Numbers are
// validated by parsing them as doubles (1e400, out of range, is bad_json).
// Values under keys no column uses are walked too, not left to simdjson's
// skipping, which checks neither separators nor bracket kinds: malformed
// JSON anywhere in the record stays bad_json.
class JsonParser final : public ColumnarParser {
 public:
  JsonParser(std::shared_ptr<const Schema> schema, int64_t max_line_bytes)
      : ColumnarParser(std::move(schema), max_line_bytes) {}

  absl::Status Init() {
    RETURN_IF_ERROR(Resolve(
        [this](std::string_view name) {
          auto [it, inserted] =
              names_.try_emplace(std::string(name), names_.size());
          return it->second;
        },
        "is not available"));
    fields_.assign(names_.size(), FieldValue());
    return absl::OkStatus();
  }

  absl::Status Parse(std::string_view record, Example* out) override {
    // CheckRecord() without its UTF-8 pass: simdjson's stage 1 validates
    // UTF-8 as well, so the record is checked again only when stage 1 fails,
    // to report invalid_utf8 ahead of any JSON error as CheckRecord() would.
    RETURN_IF_ERROR(CheckLength(record, max_line_bytes_));
    for (FieldValue& f : fields_) f.present = false;
    items_.clear();
    const size_t padded = record.size() + simdjson::SIMDJSON_PADDING;
    if (buffer_.size() < padded) buffer_.resize(padded);
    std::memcpy(buffer_.data(), record.data(), record.size());
    std::memset(buffer_.data() + record.size(), 0, simdjson::SIMDJSON_PADDING);
    if (auto e = parser_.iterate(buffer_.data(), record.size(), buffer_.size())
                     .get(doc_)) {
      if (!IsValidUtf8(record)) return InvalidUtf8Error();
      return Bad(nullptr, simdjson::error_message(e));
    }
    simdjson::ondemand::object object;
    if (auto e = doc_.get_object().get(object)) {
      if (e == simdjson::INCORRECT_TYPE) return BadHere("expected an object");
      return BadHere(e);
    }
    for (auto field_result : object) {
      if (auto e = field_result.error()) return BadHere(e);
      simdjson::ondemand::field& field = field_result.value_unsafe();
      std::string_view key;
      if (auto e = Key(field, &key)) return BadHere(e);
      simdjson::ondemand::value& value = field.value();
      auto it = names_.find(ToAbsl(key));
      if (it == names_.end()) {
        RETURN_IF_ERROR(SkipValue(value, 0));
      } else {
        RETURN_IF_ERROR(ParseUsedValue(key, value, &fields_[it->second]));
      }
    }
    // The object's end is not the end of the record: there are more tokens.
    const char* rest;
    if (doc_.current_location().get(rest) == simdjson::SUCCESS) {
      return Bad(rest, "trailing characters after the object");
    }
    return Fill(out);
  }

 private:
  using JsonType = simdjson::ondemand::json_type;

  // A bad_json error at `at` (a position in buffer_), or without a position
  // when `at` is null.
  absl::Status Bad(const char* at, std::string_view what) const {
    if (at == nullptr) {
      return MakeRecordError(RecordErrorKind::kBadJson,
                             Cat("bad JSON: ", what));
    }
    return MakeRecordError(
        RecordErrorKind::kBadJson,
        Cat("bad JSON at byte ", at - buffer_.data(), ": ", what));
  }

  // A bad_json error at the document's current position, if it has one.
  absl::Status BadHere(std::string_view what) {
    const char* at;
    if (doc_.current_location().get(at) != simdjson::SUCCESS) at = nullptr;
    return Bad(at, what);
  }
  absl::Status BadHere(simdjson::error_code e) {
    return BadHere(simdjson::error_message(e));
  }

  // The first '"' or '\\' from `p` on, inside a string that stage 1 found
  // closed.
  static const char* QuoteOrBackslash(const char* p) {
    while (*p != '"' && *p != '\\') ++p;
    return p;
  }

  // A field's key. Stage 1 has already checked that strings are closed, UTF-8
  // and free of control characters, so a key without escapes is a view into
  // buffer_; simdjson decodes the others.
  static simdjson::error_code Key(simdjson::ondemand::field& field,
                                  std::string_view* key) {
    const char* start = field.key().raw();
    const char* p = QuoteOrBackslash(start);
    if (*p == '"') {
      *key = std::string_view(start, p - start);
      return simdjson::SUCCESS;
    }
    return field.unescaped_key().get(*key);
  }

  // Decodes a string, number, true, false or null of type `type` (numbers
  // stay as written). `*present` is false for null.
  absl::Status ParseScalar(simdjson::ondemand::value& v, JsonType type,
                           std::string_view* out, bool* present) {
    *present = true;
    const std::string_view token = v.raw_json_token();
    simdjson::error_code e = simdjson::SUCCESS;
    switch (type) {
      case JsonType::string: {
        // Without escapes the text is the token's and the value is only
        // consumed (stage 1 has checked its bytes); simdjson decodes the rest.
        const char* end = QuoteOrBackslash(token.data() + 1);
        if (*end == '"') {
          *out = std::string_view(token.data() + 1, end - token.data() - 1);
          simdjson::ondemand::raw_json_string consumed;
          e = v.get_raw_json_string().get(consumed);
        } else {
          e = v.get_string().get(*out);
        }
        break;
      }
      case JsonType::number: {
        double ignored;
        e = v.get_double().get(ignored);
        // The token runs up to the next one, spaces included.
        std::string_view text = token;
        while (!text.empty() && (text.back() == ' ' || text.back() == '\t' ||
                                 text.back() == '\r' || text.back() == '\n')) {
          text.remove_suffix(1);
        }
        *out = text;
        break;
      }
      case JsonType::boolean: {
        bool b = false;
        e = v.get_bool().get(b);
        *out = b ? "1" : "0";
        break;
      }
      case JsonType::null: {
        bool is_null;
        e = v.is_null().get(is_null);
        if (!e && !is_null) e = simdjson::INCORRECT_TYPE;
        *present = false;
        break;
      }
      default:
        e = simdjson::INCORRECT_TYPE;
    }
    if (e) return Bad(token.data(), simdjson::error_message(e));
    return absl::OkStatus();
  }

  // Validates a value no column uses, at most 64 containers deep.
  absl::Status SkipValue(simdjson::ondemand::value& v, int depth) {
    if (depth > 64) {
      return Bad(v.raw_json_token().data(), "nested more than 64 deep");
    }
    JsonType type;
    if (auto e = v.type().get(type)) return BadHere(e);
    if (type == JsonType::array) {
      simdjson::ondemand::array array;
      if (auto e = v.get_array().get(array)) return BadHere(e);
      for (auto item_result : array) {
        if (auto e = item_result.error()) return BadHere(e);
        simdjson::ondemand::value& item = item_result.value_unsafe();
        RETURN_IF_ERROR(SkipValue(item, depth + 1));
      }
      return absl::OkStatus();
    }
    if (type == JsonType::object) {
      simdjson::ondemand::object object;
      if (auto e = v.get_object().get(object)) return BadHere(e);
      for (auto field_result : object) {
        if (auto e = field_result.error()) return BadHere(e);
        simdjson::ondemand::field& field = field_result.value_unsafe();
        std::string_view key;
        if (auto e = Key(field, &key)) return BadHere(e);
        simdjson::ondemand::value& value = field.value();
        RETURN_IF_ERROR(SkipValue(value, depth + 1));
      }
      return absl::OkStatus();
    }
    std::string_view ignored;
    bool present;
    return ParseScalar(v, type, &ignored, &present);
  }

  absl::Status ParseUsedValue(std::string_view key,
                              simdjson::ondemand::value& v, FieldValue* f) {
    JsonType type;
    if (auto e = v.type().get(type)) return BadHere(e);
    if (type == JsonType::object) {
      return Bad(
          v.raw_json_token().data(),
          Cat("key '", Excerpt(key), "': nested objects are not supported"));
    }
    if (type != JsonType::array) {
      bool present;
      RETURN_IF_ERROR(ParseScalar(v, type, &f->text, &present));
      f->present = present;
      f->is_list = false;
      return absl::OkStatus();
    }
    f->is_list = true;
    f->present = true;
    f->items_begin = static_cast<uint32_t>(items_.size());
    simdjson::ondemand::array array;
    if (auto e = v.get_array().get(array)) return BadHere(e);
    for (auto item_result : array) {
      if (auto e = item_result.error()) return BadHere(e);
      simdjson::ondemand::value& item = item_result.value_unsafe();
      JsonType item_type;
      if (auto e = item.type().get(item_type)) return BadHere(e);
      if (item_type == JsonType::array || item_type == JsonType::object) {
        return Bad(
            item.raw_json_token().data(),
            Cat("key '", Excerpt(key), "': nested values are not supported"));
      }
      std::string_view text;
      bool present;
      RETURN_IF_ERROR(ParseScalar(item, item_type, &text, &present));
      if (present) items_.push_back(text);
    }
    f->items_end = static_cast<uint32_t>(items_.size());
    return absl::OkStatus();
  }

  absl::flat_hash_map<std::string, int> names_;  // column -> field index
  simdjson::ondemand::parser parser_;
  simdjson::ondemand::document doc_;
  // The record followed by SIMDJSON_PADDING zero bytes; only grows.
  std::vector<char> buffer_;
};

// libsvm and libffm.
class SparseTextParser final : public RecordParser {
 public:
  SparseTextParser(std::shared_ptr<const Schema> schema, int64_t max_line_bytes,
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
    if (s.num_labels() == 1) out->labels.push_back(s.label(0).Apply(label));
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
          entries_.push_back({slot, FeatureId(s.slot(slot).seed, index), w});
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
      entries_.push_back({slot, FeatureId(s.slot(slot).seed, index), w});
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
  const std::string& format = spec.format;
  if (format == "criteo") {
    auto parser = std::make_unique<DelimitedParser>(
        std::move(schema), spec.max_line_bytes, '\t', /*quotes=*/false,
        CriteoColumns());
    RETURN_IF_ERROR(
        parser->Init("is not a criteo column (label, I1..I13, C1..C26)"));
    return parser;
  }
  if (format == "csv" || format == "tsv") {
    char delim;
    const std::string& d = spec.delimiter.empty()
                               ? (format == "csv" ? "," : "\t")
                               : spec.delimiter;
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
    auto parser = std::make_unique<DelimitedParser>(std::move(schema),
                                                    spec.max_line_bytes, delim,
                                                    quotes, std::move(columns));
    RETURN_IF_ERROR(parser->Init(where));
    return parser;
  }
  if (format == "jsonl") {
    auto parser =
        std::make_unique<JsonParser>(std::move(schema), spec.max_line_bytes);
    RETURN_IF_ERROR(parser->Init());
    return parser;
  }
  if (format == "libsvm" || format == "libffm") {
    auto parser = std::make_unique<SparseTextParser>(
        std::move(schema), spec.max_line_bytes, format == "libffm");
    RETURN_IF_ERROR(parser->Init(format));
    return parser;
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
