#include "freshet/data/schema.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "freshet/base/hash.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/text_scan.h"

namespace freshet {
namespace {

std::string Field(std::string_view group, size_t i, std::string_view name) {
  return Cat("schema.", group, "[", i, "] '", name, "'");
}

constexpr int kLogTableSize = 4096;

const float* LogTable() {
  static const float* table = [] {
    float* t = new float[kLogTableSize];
    for (int i = 0; i < kLogTableSize; ++i) {
      t[i] = std::log1p(static_cast<float>(i));
    }
    return t;
  }();
  return table;
}

}  // namespace

float Schema::Log1pClamped(float x) {
  if (!(x > 0.0f)) return 0.0f;
  if (x < static_cast<float>(kLogTableSize)) {
    const int i = static_cast<int>(x);
    if (static_cast<float>(i) == x) return LogTable()[i];
  }
  return std::log1p(x);
}

absl::StatusOr<Schema::ColumnRef> Schema::MakeRef(
    const std::string& text, const std::string& field) const {
  ColumnRef ref;
  ref.text = text;
  const size_t dot = text.find('.');
  if (dot == std::string::npos) return ref;
  const int t = SideTableIndex(std::string_view(text).substr(0, dot));
  if (t < 0) return ref;  // a record column whose name contains a dot
  const std::string_view column = std::string_view(text).substr(dot + 1);
  const int c = side_tables_[t]->ColumnIndex(column);
  if (c < 0) {
    return absl::InvalidArgumentError(
        Cat(field, ": column '", text, "': side table '",
            side_tables_[t]->name(), "' has no column '", column, "'"));
  }
  ref.side_table = t;
  ref.side_column = c;
  return ref;
}

absl::StatusOr<std::shared_ptr<const Schema>> Schema::Compile(
    const SchemaSpec& spec, const std::string& base_dir) {
  std::shared_ptr<Schema> s(new Schema);

  absl::flat_hash_set<std::string> names;
  for (size_t i = 0; i < spec.side_tables.size(); ++i) {
    const SideTableSpec& t = spec.side_tables[i];
    const std::string field = Field("side_tables", i, t.name);
    if (t.name.empty()) {
      return absl::InvalidArgumentError(
          Cat("schema.side_tables[", i, "]: name must not be empty"));
    }
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(
          Cat(field, ": duplicate side table name"));
    }
    if (t.path.empty() || t.key_column.empty() || t.join_column.empty()) {
      return absl::InvalidArgumentError(
          Cat(field, ": path, key_column and join_column must all be set"));
    }
    auto table = SideTable::Load(t, base_dir);
    if (!table.ok()) {
      return absl::Status(table.status().code(),
                          Cat(field, ": ", table.status().message()));
    }
    s->side_tables_.push_back(*std::move(table));
  }

  names.clear();
  for (size_t i = 0; i < spec.slots.size(); ++i) {
    const SlotSpec& in = spec.slots[i];
    const std::string field = Field("slots", i, in.name);
    if (in.name.empty()) {
      return absl::InvalidArgumentError(
          Cat("schema.slots[", i, "]: name must not be empty"));
    }
    if (!names.insert(in.name).second) {
      return absl::InvalidArgumentError(Cat(field, ": duplicate slot name"));
    }
    if (in.multi_valued && in.separator.empty()) {
      return absl::InvalidArgumentError(
          Cat(field, ": separator must not be empty for a multi_valued slot"));
    }
    Slot out;
    out.name = in.name;
    out.table = in.table.empty() ? in.name : in.table;
    out.seed = TableSeed(out.table);
    ASSIGN_OR_RETURN(
        out.column, s->MakeRef(in.column.empty() ? in.name : in.column, field));
    out.multi_valued = in.multi_valued;
    out.separator = in.separator;
    out.weighted = in.weighted;
    out.pooling = in.pooling;
    s->has_weighted_slot_ |= in.weighted;
    s->slots_.push_back(std::move(out));
  }

  names.clear();
  for (size_t i = 0; i < spec.dense.size(); ++i) {
    const DenseSpec& in = spec.dense[i];
    const std::string field = Field("dense", i, in.name);
    if (in.name.empty()) {
      return absl::InvalidArgumentError(
          Cat("schema.dense[", i, "]: name must not be empty"));
    }
    if (!names.insert(in.name).second) {
      return absl::InvalidArgumentError(
          Cat(field, ": duplicate dense feature name"));
    }
    if (in.transform == DenseTransform::kZScore && !(in.stddev > 0.0f)) {
      return absl::InvalidArgumentError(Cat(
          field, ": stddev must be > 0 for transform zscore, got ", in.stddev));
    }
    if (in.transform == DenseTransform::kClip &&
        !(in.clip_min <= in.clip_max)) {
      return absl::InvalidArgumentError(
          Cat(field, ": clip_min must be <= clip_max, got ", in.clip_min, " > ",
              in.clip_max));
    }
    if (!std::isfinite(in.missing)) {
      return absl::InvalidArgumentError(
          Cat(field, ": missing must be a finite number"));
    }
    Dense out;
    out.name = in.name;
    ASSIGN_OR_RETURN(
        out.column, s->MakeRef(in.column.empty() ? in.name : in.column, field));
    out.transform = in.transform;
    out.clip_min = in.clip_min;
    out.clip_max = in.clip_max;
    out.mean = in.mean;
    out.stddev = in.stddev;
    out.missing = in.missing;
    s->dense_.push_back(std::move(out));
  }

  names.clear();
  for (size_t i = 0; i < spec.labels.size(); ++i) {
    const LabelSpec& in = spec.labels[i];
    const std::string field = Field("labels", i, in.name);
    if (in.name.empty()) {
      return absl::InvalidArgumentError(
          Cat("schema.labels[", i, "]: name must not be empty"));
    }
    if (!names.insert(in.name).second) {
      return absl::InvalidArgumentError(Cat(field, ": duplicate label name"));
    }
    Label out;
    out.name = in.name;
    ASSIGN_OR_RETURN(
        out.column, s->MakeRef(in.column.empty() ? in.name : in.column, field));
    out.has_threshold = in.has_threshold;
    out.threshold = in.threshold;
    s->labels_.push_back(std::move(out));
  }

  if (!(spec.timestamp_unit_ms > 0.0)) {
    return absl::InvalidArgumentError(Cat(
        "schema.timestamp_unit_ms: must be > 0, got ", spec.timestamp_unit_ms));
  }
  s->timestamp_unit_ms_ = spec.timestamp_unit_ms;
  if (!spec.timestamp_column.empty()) {
    ASSIGN_OR_RETURN(
        s->timestamp_column_,
        s->MakeRef(spec.timestamp_column, "schema.timestamp_column"));
  }
  if (!spec.request_id_column.empty()) {
    ASSIGN_OR_RETURN(
        s->request_id_column_,
        s->MakeRef(spec.request_id_column, "schema.request_id_column"));
  }
  if (!spec.weight_column.empty()) {
    ASSIGN_OR_RETURN(s->weight_column_,
                     s->MakeRef(spec.weight_column, "schema.weight_column"));
  }
  return std::shared_ptr<const Schema>(std::move(s));
}

int Schema::SlotIndex(std::string_view name) const {
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int Schema::DenseIndex(std::string_view name) const {
  for (size_t i = 0; i < dense_.size(); ++i) {
    if (dense_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int Schema::SideTableIndex(std::string_view name) const {
  for (size_t i = 0; i < side_tables_.size(); ++i) {
    if (side_tables_[i]->name() == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace freshet
