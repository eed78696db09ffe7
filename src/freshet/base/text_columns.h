// AlignColumns: rows of cells as text in left-aligned columns, the way the
// CLI prints a table (`freshet ckpt ls`).
#ifndef FRESHET_BASE_TEXT_COLUMNS_H_
#define FRESHET_BASE_TEXT_COLUMNS_H_

#include <string>
#include <vector>

namespace freshet {

// One line per row, ending in a newline; each cell but a row's last is
// padded to the width of its column's widest cell plus two spaces, so the
// last cell has no trailing spaces. Rows may have different numbers of
// cells.
std::string AlignColumns(const std::vector<std::vector<std::string>>& rows);

}  // namespace freshet

#endif  // FRESHET_BASE_TEXT_COLUMNS_H_
