// FeatureEncoder: the one path from a record's raw column values to an
// Example, shared by every record parser and by the serving request parser.
//
// A caller finds the raw values of a record's columns (a delimited field, a
// JSON value, a request object's value) and hands them over by field index;
// the encoder does everything else, as the compiled Schema says:
//   - ids: each categorical value is FeatureId(slot's table seed, text);
//     a multi-valued slot takes a list (JSON array items) or the text split
//     at the slot's separator, empty items skipped; a weighted slot's items
//     are "id:weight" (the last ':' splits; no ':' weighs 1);
//   - side-table joins: a slot or dense feature whose column is
//     "NAME.COLUMN" reads the cell of the side table's row whose key equals
//     the record's join column; a key the table lacks leaves the value absent
//     and counts one miss per record and side table;
//   - dense values: Schema::Dense::Apply() of the number, `missing` when the
//     value is empty or absent;
//   - targets: labels (with their thresholds), sample weight, event time
//     (in the schema's unit) and the request id's 64-bit hash.
// Errors are record errors (freshet/data/record_parser.h): bad_number for a
// value that is not a number, missing_field for an absent label.
//
// Which field holds which column is resolved once, in Make(), through the
// caller's column lookup; its errors name the schema field ("schema.slots[3]
// 'C4': column 'C44' not in the header").
//
// An encoder keeps per-record scratch and a miss counter: not thread-safe,
// one per parser. Encode() does not allocate once `out` has grown to the
// largest record seen (error messages aside).
#ifndef FRESHET_DATA_FEATURE_ENCODER_H_
#define FRESHET_DATA_FEATURE_ENCODER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/base/hash.h"
#include "freshet/data/example.h"
#include "freshet/data/schema.h"

namespace freshet {

// One column's raw value in one record, as the format found it.
struct RawValue {
  std::string_view text;     // the scalar's text (unused for a list)
  uint32_t items_begin = 0;  // a list's items: RawRecord::items[begin, end)
  uint32_t items_end = 0;
  bool is_list = false;
  bool present = false;  // false: the record does not carry the column
};

// The raw values of one record: `fields` by the field indices the column
// lookup returned, list items in `items`.
struct RawRecord {
  absl::Span<const RawValue> fields;
  absl::Span<const std::string_view> items;
};

class FeatureEncoder {
 public:
  struct Options {
    // Encode labels, sample weight, event time and request id. Off for
    // serving requests, which need none (their columns are still resolved).
    bool targets = true;
    // A dense feature whose value is absent becomes NaN instead of its
    // `missing` value, so that a caller can merge two partial records
    // (a request's context and a candidate) before applying `missing`.
    bool absent_dense_is_nan = false;
  };

  // Maps a record column name to a field index >= 0, or -1 when the format
  // lacks it.
  using ColumnLookup = std::function<int(std::string_view)>;

  // Resolves every column the schema uses through `lookup`; `where` ends the
  // message for a column the format lacks ("not in the header").
  static absl::StatusOr<std::unique_ptr<FeatureEncoder>> Make(
      std::shared_ptr<const Schema> schema, const ColumnLookup& lookup,
      std::string_view where, const Options& options);
  static absl::StatusOr<std::unique_ptr<FeatureEncoder>> Make(
      std::shared_ptr<const Schema> schema, const ColumnLookup& lookup,
      std::string_view where) {
    return Make(std::move(schema), lookup, where, Options());
  }

  // Fills `out` (cleared first) from `record`. On error `out` holds
  // unspecified partial content.
  absl::Status Encode(const RawRecord& record, Example* out);

  // Same, but a present entry of `slot_values` (one per slot, or empty)
  // or `dense_values` (one per dense feature, or empty) is used instead of
  // the value the slot's or feature's column gives; the items of those
  // values are in record.items too.
  absl::Status Encode(const RawRecord& record,
                      absl::Span<const RawValue> slot_values,
                      absl::Span<const RawValue> dense_values, Example* out);

  // The id of categorical value `text` in `slot`: the rule every path uses.
  static uint64_t Id(const Schema::Slot& slot, std::string_view text) {
    return FeatureId(slot.seed, text);
  }

  // Field index of the record column each slot reads, or -1 when the slot
  // reads a side table.
  int slot_field(int slot) const { return slots_[slot].field; }
  int dense_field(int dense) const { return dense_[dense].field; }

  // Records whose join key a side table did not hold (one per record and
  // side table).
  int64_t side_table_misses() const { return side_table_misses_; }

  const Schema& schema() const { return *schema_; }

 private:
  // A schema column resolved against the format: a record field or a cell
  // of a side table.
  struct Ref {
    int field = -1;
    int side_table = -1;
    int side_column = -1;
    bool used() const { return field >= 0 || side_table >= 0; }
  };

  FeatureEncoder(std::shared_ptr<const Schema> schema, const Options& options)
      : schema_(std::move(schema)), options_(options) {}

  absl::Status Resolve(const ColumnLookup& lookup, std::string_view where);

  // The value `ref` points at in `record`.
  RawValue Get(const RawRecord& record, const Ref& ref) const {
    if (ref.field >= 0) return record.fields[ref.field];
    RawValue v;
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

  // The parsers' path (no overrides) and the requests' are one template, so
  // that the per-slot loop of the former tests nothing it does not need.
  template <bool kOverrides>
  absl::Status EncodeImpl(const RawRecord& record,
                          absl::Span<const RawValue> slot_values,
                          absl::Span<const RawValue> dense_values,
                          Example* out);
  [[gnu::always_inline]] absl::Status AddIds(const Schema::Slot& slot,
                                             const RawValue& v,
                                             const RawRecord& record,
                                             bool fill_weights,
                                             Example* out) const;
  [[gnu::always_inline]] absl::Status AddId(const Schema::Slot& slot,
                                            std::string_view value,
                                            bool fill_weights,
                                            Example* out) const;
  absl::Status EncodeTargets(const RawRecord& record, Example* out) const;

  const std::shared_ptr<const Schema> schema_;
  const Options options_;
  std::vector<Ref> slots_, dense_, labels_;
  Ref timestamp_, request_id_, weight_;
  std::vector<int> side_join_;  // per side table: field of its join column
  std::vector<int> side_rows_;  // per side table: row for this record
  int64_t side_table_misses_ = 0;
};

}  // namespace freshet

#endif  // FRESHET_DATA_FEATURE_ENCODER_H_
