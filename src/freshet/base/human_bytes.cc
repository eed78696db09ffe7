#include "freshet/base/human_bytes.h"

#include "absl/strings/str_format.h"

namespace freshet {

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%d B", bytes)
                : absl::StrFormat("%.1f %s", v, units[u]);
}

}  // namespace freshet
