#include "freshet/base/config_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace freshet {

std::string ExpectedOneOf(const std::vector<std::string>& names) {
  if (names.empty()) return "a registered name (none is registered)";
  if (names.size() == 1) return names[0];
  if (names.size() == 2) return absl::StrCat(names[0], " or ", names[1]);
  return absl::StrCat("one of ", absl::StrJoin(names, ", "));
}

}  // namespace freshet
