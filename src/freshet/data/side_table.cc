#include "freshet/data/side_table.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "freshet/data/text_scan.h"

namespace freshet {

absl::StatusOr<std::unique_ptr<SideTable>> SideTable::Load(
    const SideTableSpec& spec, const std::string& base_dir) {
  std::filesystem::path path(spec.path);
  if (path.is_relative() && !base_dir.empty()) path = base_dir / path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        Cat("side table '", spec.name, "': cannot open '", path.string(), "'"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return FromText(spec, buffer.str(), path.string());
}

absl::StatusOr<std::unique_ptr<SideTable>> SideTable::FromText(
    const SideTableSpec& spec, std::string_view text,
    std::string_view source_name) {
  char delim;
  if (!ParseDelimiter(spec.delimiter, &delim)) {
    return absl::InvalidArgumentError(
        Cat("side table '", spec.name,
            "': delimiter must be one character, got '", spec.delimiter, "'"));
  }
  std::unique_ptr<SideTable> table(new SideTable);
  table->name_ = spec.name;
  table->join_column_ = spec.join_column;
  std::vector<std::string_view> fields;
  std::string scratch;
  int key_index = -1;
  int line_no = 0;
  bool have_header = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!SplitFields(line, delim, /*quotes=*/true, &fields, &scratch)) {
      return absl::InvalidArgumentError(
          Cat(source_name, ":", line_no, ": unterminated or misplaced quote"));
    }
    if (!have_header) {
      have_header = true;
      for (std::string_view f : fields) table->columns_.emplace_back(f);
      key_index = table->ColumnIndex(spec.key_column);
      if (key_index < 0) {
        return absl::InvalidArgumentError(
            Cat("side table '", spec.name, "': key_column '", spec.key_column,
                "' not in the header of ", source_name));
      }
      continue;
    }
    if (fields.size() != table->columns_.size()) {
      return absl::InvalidArgumentError(
          Cat(source_name, ":", line_no, ": expected ", table->columns_.size(),
              " fields, got ", fields.size()));
    }
    const int row =
        static_cast<int>(table->cells_.size() / table->columns_.size());
    auto [it, inserted] =
        table->keys_.try_emplace(std::string(fields[key_index]), row);
    if (!inserted) {
      // Replace the earlier row's cells in place.
      const size_t base =
          static_cast<size_t>(it->second) * table->columns_.size();
      for (size_t c = 0; c < fields.size(); ++c)
        table->cells_[base + c] = std::string(fields[c]);
      continue;
    }
    for (std::string_view f : fields) table->cells_.emplace_back(f);
  }
  if (!have_header) {
    return absl::InvalidArgumentError(Cat(
        "side table '", spec.name, "': ", source_name, " has no header line"));
  }
  return table;
}

int SideTable::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace freshet
