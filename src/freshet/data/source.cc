#include "freshet/data/source.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "freshet/data/text_scan.h"

namespace freshet {

std::string StreamPosition::ToString() const {
  return Cat(segment, ":", offset);
}

absl::StatusOr<StreamPosition> StreamPosition::Parse(std::string_view text) {
  // The segment may itself contain ':' (it is a file name), so split at the
  // last one.
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        Cat("stream position '", text, "': expected SEGMENT:OFFSET"));
  }
  std::string_view digits = text.substr(colon + 1);
  int64_t offset = 0;
  auto [ptr, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), offset);
  if (digits.empty() || ec != std::errc() ||
      ptr != digits.data() + digits.size() || offset < 0) {
    return absl::InvalidArgumentError(
        Cat("stream position '", text,
            "': offset must be a non-negative integer, got '", digits, "'"));
  }
  StreamPosition pos;
  pos.segment = std::string(text.substr(0, colon));
  pos.offset = offset;
  return pos;
}

}  // namespace freshet
