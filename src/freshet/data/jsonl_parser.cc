// jsonl: one JSON object per line, keys are column names. The values of the
// keys some column uses go to the FeatureEncoder by field index; every other
// value is validated and dropped.
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/feature_encoder.h"
#include "freshet/data/record_formats.h"
#include "freshet/data/text_scan.h"
#include "simdjson.h"

namespace freshet {
namespace record_formats {
namespace {

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
class JsonlParser final : public RecordParser {
 public:
  JsonlParser(std::shared_ptr<const Schema> schema, int64_t max_line_bytes)
      : RecordParser(std::move(schema), max_line_bytes) {}

  absl::Status Init() {
    ASSIGN_OR_RETURN(encoder_, FeatureEncoder::Make(
                                   schema_,
                                   [this](std::string_view name) {
                                     auto [it, inserted] = names_.try_emplace(
                                         std::string(name), names_.size());
                                     return it->second;
                                   },
                                   "is not available"));
    fields_.assign(names_.size(), RawValue());
    return absl::OkStatus();
  }

  absl::Status Parse(std::string_view record, Example* out) override {
    // CheckRecord() without its UTF-8 pass: simdjson's stage 1 validates
    // UTF-8 as well, so the record is checked again only when stage 1 fails,
    // to report invalid_utf8 ahead of any JSON error as CheckRecord() would.
    RETURN_IF_ERROR(CheckLength(record, max_line_bytes_));
    for (RawValue& f : fields_) f.present = false;
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
    return encoder_->Encode(RawRecord{fields_, items_}, out);
  }

  int64_t side_table_misses() const override {
    return encoder_->side_table_misses();
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
                              simdjson::ondemand::value& v, RawValue* f) {
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

  std::unique_ptr<FeatureEncoder> encoder_;
  absl::flat_hash_map<std::string, int> names_;  // column -> field index
  std::vector<RawValue> fields_;                 // one per used column
  std::vector<std::string_view> items_;          // list items of fields_
  simdjson::ondemand::parser parser_;
  simdjson::ondemand::document doc_;
  // The record followed by SIMDJSON_PADDING zero bytes; only grows.
  std::vector<char> buffer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RecordParser>> MakeJsonlParser(
    std::shared_ptr<const Schema> schema, const SourceSpec& spec) {
  auto parser =
      std::make_unique<JsonlParser>(std::move(schema), spec.max_line_bytes);
  RETURN_IF_ERROR(parser->Init());
  return parser;
}

}  // namespace record_formats
}  // namespace freshet
