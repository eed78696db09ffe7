#include "freshet/data/feature_encoder.h"

#include <cmath>
#include <limits>

#include "freshet/base/status_macros.h"
#include "freshet/data/record_parser.h"
#include "freshet/data/text_scan.h"

namespace freshet {
namespace {

// Event times in milliseconds must stay below this in magnitude, a little
// under INT64_MAX so that rounding cannot overflow.
constexpr double kMaxEventTimeMs = 9e18;

// Shows at most 64 bytes of a value in an error message.
std::string_view Excerpt(std::string_view s) { return s.substr(0, 64); }

std::string Shown(const RawValue& v) {
  return v.is_list ? std::string("a list") : Cat("'", Excerpt(v.text), "'");
}

}  // namespace

absl::StatusOr<std::unique_ptr<FeatureEncoder>> FeatureEncoder::Make(
    std::shared_ptr<const Schema> schema, const ColumnLookup& lookup,
    std::string_view where, const Options& options) {
  if (schema == nullptr) {
    return absl::InvalidArgumentError("FeatureEncoder: schema is null");
  }
  std::unique_ptr<FeatureEncoder> encoder(
      new FeatureEncoder(std::move(schema), options));
  RETURN_IF_ERROR(encoder->Resolve(lookup, where));
  return encoder;
}

absl::Status FeatureEncoder::Resolve(const ColumnLookup& lookup,
                                     std::string_view where) {
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
    RETURN_IF_ERROR(resolve(s.slot(i).column,
                            Cat("schema.slots[", i, "] '", s.slot(i).name, "'"),
                            &slots_[i]));
  }
  dense_.assign(s.num_dense(), Ref());
  for (int i = 0; i < s.num_dense(); ++i) {
    RETURN_IF_ERROR(resolve(
        s.dense(i).column, Cat("schema.dense[", i, "] '", s.dense(i).name, "'"),
        &dense_[i]));
  }
  // Targets are resolved even when not encoded, so that a lookup sees every
  // column the schema uses.
  labels_.assign(s.num_labels(), Ref());
  for (int i = 0; i < s.num_labels(); ++i) {
    RETURN_IF_ERROR(resolve(
        s.label(i).column,
        Cat("schema.labels[", i, "] '", s.label(i).name, "'"), &labels_[i]));
  }
  RETURN_IF_ERROR(
      resolve(s.timestamp_column(), "schema.timestamp_column", &timestamp_));
  RETURN_IF_ERROR(
      resolve(s.request_id_column(), "schema.request_id_column", &request_id_));
  RETURN_IF_ERROR(resolve(s.weight_column(), "schema.weight_column", &weight_));
  return absl::OkStatus();
}

inline absl::Status FeatureEncoder::AddId(const Schema::Slot& slot,
                                          std::string_view value,
                                          bool fill_weights,
                                          Example* out) const {
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
  out->ids.push_back(Id(slot, value));
  if (fill_weights) out->id_weights.push_back(w);
  return absl::OkStatus();
}

inline absl::Status FeatureEncoder::AddIds(const Schema::Slot& slot,
                                           const RawValue& v,
                                           const RawRecord& record,
                                           bool fill_weights,
                                           Example* out) const {
  if (!v.present) return absl::OkStatus();
  if (v.is_list) {
    for (uint32_t k = v.items_begin; k < v.items_end; ++k) {
      RETURN_IF_ERROR(AddId(slot, record.items[k], fill_weights, out));
    }
  } else if (slot.multi_valued) {
    std::string_view rest = v.text;
    while (true) {
      const size_t sep = rest.find(slot.separator);
      std::string_view item = rest.substr(0, sep);
      if (!item.empty()) RETURN_IF_ERROR(AddId(slot, item, fill_weights, out));
      if (sep == std::string_view::npos) break;
      rest.remove_prefix(sep + slot.separator.size());
    }
  } else if (!v.text.empty()) {
    RETURN_IF_ERROR(AddId(slot, v.text, fill_weights, out));
  }
  return absl::OkStatus();
}

absl::Status FeatureEncoder::Encode(const RawRecord& record, Example* out) {
  return EncodeImpl<false>(record, {}, {}, out);
}

absl::Status FeatureEncoder::Encode(const RawRecord& record,
                                    absl::Span<const RawValue> slot_values,
                                    absl::Span<const RawValue> dense_values,
                                    Example* out) {
  return EncodeImpl<true>(record, slot_values, dense_values, out);
}

template <bool kOverrides>
absl::Status FeatureEncoder::EncodeImpl(const RawRecord& record,
                                        absl::Span<const RawValue> slot_values,
                                        absl::Span<const RawValue> dense_values,
                                        Example* out) {
  const Schema& s = *schema_;
  out->Clear();
  for (size_t t = 0; t < side_join_.size(); ++t) {
    if (side_join_[t] < 0) continue;
    const RawValue& key = record.fields[side_join_[t]];
    int row = -1;
    if (key.present && !key.is_list) row = s.side_table(t).FindRow(key.text);
    if (row < 0) ++side_table_misses_;
    side_rows_[t] = row;
  }

  const bool fill_weights = s.has_weighted_slot();
  out->slot_offsets.push_back(0);
  for (size_t i = 0; i < slots_.size(); ++i) {
    const RawValue v =
        kOverrides && !slot_values.empty() && slot_values[i].present
            ? slot_values[i]
            : Get(record, slots_[i]);
    RETURN_IF_ERROR(AddIds(s.slot(i), v, record, fill_weights, out));
    out->slot_offsets.push_back(static_cast<uint32_t>(out->ids.size()));
  }

  for (size_t i = 0; i < dense_.size(); ++i) {
    const Schema::Dense& d = s.dense(i);
    const RawValue v =
        kOverrides && !dense_values.empty() && dense_values[i].present
            ? dense_values[i]
            : Get(record, dense_[i]);
    if (!v.present || (!v.is_list && v.text.empty())) {
      out->dense.push_back(options_.absent_dense_is_nan && !v.present
                               ? std::numeric_limits<float>::quiet_NaN()
                               : d.missing);
      continue;
    }
    float x;
    if (v.is_list || !ParseFloat(v.text, &x)) {
      return MakeRecordError(
          RecordErrorKind::kBadNumber,
          Cat("dense '", d.name, "': expected a number, got ", Shown(v)));
    }
    out->dense.push_back(d.Apply(x));
  }
  if (!options_.targets) return absl::OkStatus();
  return EncodeTargets(record, out);
}

absl::Status FeatureEncoder::EncodeTargets(const RawRecord& record,
                                           Example* out) const {
  const Schema& s = *schema_;
  for (size_t i = 0; i < labels_.size(); ++i) {
    const Schema::Label& l = s.label(i);
    const RawValue v = Get(record, labels_[i]);
    if (!v.present) {
      return MakeRecordError(
          RecordErrorKind::kMissingField,
          Cat("label '", l.name, "': column '", l.column.text, "' is missing"));
    }
    double x;
    if (v.is_list || !ParseDouble(v.text, &x) || !std::isfinite(x)) {
      return MakeRecordError(
          RecordErrorKind::kBadNumber,
          Cat("label '", l.name, "': expected a finite number, got ",
              Shown(v)));
    }
    const float y = l.Apply(x);
    if (!std::isfinite(y)) {  // beyond the float range without a threshold
      return MakeRecordError(
          RecordErrorKind::kBadNumber,
          Cat("label '", l.name, "': expected a finite number, got ",
              Shown(v)));
    }
    out->labels.push_back(y);
  }

  if (weight_.used()) {
    const RawValue v = Get(record, weight_);
    if (v.present && (v.is_list || !v.text.empty())) {
      if (v.is_list || !ParseFloat(v.text, &out->weight)) {
        return MakeRecordError(
            RecordErrorKind::kBadNumber,
            Cat("weight: expected a number, got '", Excerpt(v.text), "'"));
      }
    }
  }
  if (timestamp_.used()) {
    const RawValue v = Get(record, timestamp_);
    if (v.present && (v.is_list || !v.text.empty())) {
      double t;
      if (v.is_list || !ParseDouble(v.text, &t)) {
        return MakeRecordError(
            RecordErrorKind::kBadNumber,
            Cat("timestamp: expected a number, got '", Excerpt(v.text), "'"));
      }
      // llround's result is unspecified beyond int64 milliseconds (it gives
      // INT64_MIN on x86), which would put the event 292 million years
      // back; no real event time is anywhere near.
      const double ms = t * s.timestamp_unit_ms();
      if (!(std::fabs(ms) < kMaxEventTimeMs)) {
        return MakeRecordError(RecordErrorKind::kBadNumber,
                               Cat("timestamp: '", Excerpt(v.text),
                                   "' is out of range (|ms| must be < 9e18)"));
      }
      out->event_time_ms = static_cast<int64_t>(std::llround(ms));
    }
  }
  if (request_id_.used()) {
    const RawValue v = Get(record, request_id_);
    if (v.present && !v.is_list && !v.text.empty()) {
      out->request_id = Hash64(v.text);
    }
  }
  return absl::OkStatus();
}

}  // namespace freshet
