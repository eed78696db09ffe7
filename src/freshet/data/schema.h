// Schema: the compiled, validated form of a SchemaSpec.
//
// It knows every slot (index by name, table seed, list handling), every dense
// feature with its normalisation, the labels, the event-time, request-id and
// weight columns, and the loaded side tables. It does not know the record
// format: which column of a record holds a value is resolved by the record
// parser (freshet/data/record_parser.h), which also reports columns the
// format lacks.
//
// A column reference "NAME.COLUMN" whose NAME is a side table and COLUMN one
// of its columns is a side-table reference (Schema::ColumnRef::side_table);
// any other text names a record column.
//
// Validation errors name the field and what was expected, e.g.
// "schema.dense[2] 'I3': stddev must be > 0 for transform zscore, got 0".
//
// Immutable after Compile(); thread-safe for concurrent readers. Shared by
// parsers through std::shared_ptr<const Schema>.
#ifndef FRESHET_DATA_SCHEMA_H_
#define FRESHET_DATA_SCHEMA_H_

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/data/side_table.h"

namespace freshet {

class Schema {
 public:
  // Where a value comes from: a record column, or a column of a side table.
  struct ColumnRef {
    std::string text;      // as written in the spec, e.g. "movies.genres"
    int side_table = -1;   // index into side tables, or -1: a record column
    int side_column = -1;  // column inside that side table
  };

  struct Slot {
    std::string name;
    std::string table;
    uint64_t seed = 0;  // TableSeed(table)
    ColumnRef column;
    bool multi_valued = false;
    std::string separator;
    bool weighted = false;
    Pooling pooling = Pooling::kSum;
  };

  struct Dense {
    std::string name;
    ColumnRef column;
    DenseTransform transform = DenseTransform::kNone;
    float clip_min = 0.0f;
    float clip_max = 0.0f;
    float mean = 0.0f;
    float stddev = 1.0f;
    // Used as is (not transformed) when the column is empty or absent.
    float missing = 0.0f;

    // The normalised value of raw value `x`.
    float Apply(float x) const {
      switch (transform) {
        case DenseTransform::kNone:
          return x;
        case DenseTransform::kLog:
          return Log1pClamped(x);
        case DenseTransform::kClip:
          return x < clip_min ? clip_min : (x > clip_max ? clip_max : x);
        case DenseTransform::kZScore:
          return (x - mean) / stddev;
      }
      return x;
    }
  };

  struct Label {
    std::string name;
    ColumnRef column;
    bool has_threshold = false;
    double threshold = 0.0;

    // The label value of raw value `v`: (v >= threshold) ? 1 : 0 with a
    // threshold, v otherwise.
    float Apply(double v) const {
      if (has_threshold) return v >= threshold ? 1.0f : 0.0f;
      return static_cast<float>(v);
    }
  };

  // log(1 + max(x, 0)), exactly as std::log1p computes it in float; small
  // integers (most of Criteo's counts) come from a table.
  static float Log1pClamped(float x);

  // Validates `spec` and loads its side tables (relative paths resolve
  // against `base_dir`).
  static absl::StatusOr<std::shared_ptr<const Schema>> Compile(
      const SchemaSpec& spec, const std::string& base_dir = "");

  int num_slots() const { return static_cast<int>(slots_.size()); }
  const Slot& slot(int i) const { return slots_[i]; }
  const std::vector<Slot>& slots() const { return slots_; }
  // Index of the slot named `name`, or -1.
  int SlotIndex(std::string_view name) const;
  // True when some slot is weighted: parsers then fill Example::id_weights.
  bool has_weighted_slot() const { return has_weighted_slot_; }

  int num_dense() const { return static_cast<int>(dense_.size()); }
  const Dense& dense(int i) const { return dense_[i]; }
  const std::vector<Dense>& dense_features() const { return dense_; }
  int DenseIndex(std::string_view name) const;

  int num_labels() const { return static_cast<int>(labels_.size()); }
  const Label& label(int i) const { return labels_[i]; }
  const std::vector<Label>& labels() const { return labels_; }

  // Empty when records carry none.
  const ColumnRef& timestamp_column() const { return timestamp_column_; }
  double timestamp_unit_ms() const { return timestamp_unit_ms_; }
  const ColumnRef& request_id_column() const { return request_id_column_; }
  const ColumnRef& weight_column() const { return weight_column_; }

  int num_side_tables() const { return static_cast<int>(side_tables_.size()); }
  const SideTable& side_table(int i) const { return *side_tables_[i]; }
  // Index of the side table named `name`, or -1.
  int SideTableIndex(std::string_view name) const;

 private:
  Schema() = default;
  // Resolves `text` against the side tables; `field` names it in messages.
  absl::StatusOr<ColumnRef> MakeRef(const std::string& text,
                                    const std::string& field) const;

  std::vector<Slot> slots_;
  bool has_weighted_slot_ = false;
  std::vector<Dense> dense_;
  std::vector<Label> labels_;
  ColumnRef timestamp_column_;
  double timestamp_unit_ms_ = 1000.0;
  ColumnRef request_id_column_;
  ColumnRef weight_column_;
  std::vector<std::unique_ptr<SideTable>> side_tables_;
};

}  // namespace freshet

#endif  // FRESHET_DATA_SCHEMA_H_
