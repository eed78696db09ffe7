// SideTable: a small CSV keyed by one column, joined to records at parse time.
//
// Item metadata such as MovieLens movies.csv (`movieId,title,genres`) is
// loaded once; a slot whose column is "NAME.COLUMN" takes, for each record,
// the value of COLUMN in the row whose key equals the record's join column
// (e.g. slot `genres`, column `movies.genres`, join column `movieId`). A key
// the table does not hold leaves such slots empty; the parser counts it.
//
// Format: one header line naming the columns, then one row per line; fields
// may be quoted ("Heat (1995)" or "American President, The (1995)"), a doubled
// quote inside quotes is one quote; a trailing '\r' is dropped. Quoted fields
// may not span lines. A later row with an already seen key replaces it.
//
// Immutable after loading; thread-safe for concurrent readers.
#ifndef FRESHET_DATA_SIDE_TABLE_H_
#define FRESHET_DATA_SIDE_TABLE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "freshet/base/config.h"

namespace freshet {

class SideTable {
 public:
  // Reads spec.path (relative paths resolve against `base_dir`).
  static absl::StatusOr<std::unique_ptr<SideTable>> Load(
      const SideTableSpec& spec, const std::string& base_dir = "");

  // Same, from the file's text; `source_name` names it in messages.
  static absl::StatusOr<std::unique_ptr<SideTable>> FromText(
      const SideTableSpec& spec, std::string_view text,
      std::string_view source_name);

  const std::string& name() const { return name_; }
  const std::string& join_column() const { return join_column_; }
  int num_rows() const { return static_cast<int>(keys_.size()); }
  int num_columns() const { return static_cast<int>(columns_.size()); }

  // Index of column `name`, or -1.
  int ColumnIndex(std::string_view name) const;

  // Row holding `key`, or -1.
  int FindRow(std::string_view key) const {
    auto it = keys_.find(absl::string_view(key.data(), key.size()));
    return it == keys_.end() ? -1 : it->second;
  }

  // The value of `column` in `row`. REQUIRES: valid indices.
  std::string_view Value(int row, int column) const {
    return cells_[static_cast<size_t>(row) * columns_.size() + column];
  }

 private:
  SideTable() = default;

  std::string name_;
  std::string join_column_;
  std::vector<std::string> columns_;
  std::vector<std::string> cells_;  // row-major, num_rows * num_columns
  absl::flat_hash_map<std::string, int> keys_;
};

}  // namespace freshet

#endif  // FRESHET_DATA_SIDE_TABLE_H_
