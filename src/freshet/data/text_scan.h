// Text scanning helpers shared by the record parsers and the side-table
// loader: field splitting (with CSV quoting), number parsing and UTF-8
// validation. All work on std::string_view and never allocate, except that
// quoted fields with doubled quotes are unescaped into a caller-owned buffer.
//
// All functions are pure and thread-safe.
#ifndef FRESHET_DATA_TEXT_SCAN_H_
#define FRESHET_DATA_TEXT_SCAN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace freshet {

// absl::string_view is not std::string_view in the packaged Abseil; these
// bridge the two.
inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view ToStd(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}
namespace text_scan_internal {
template <typename T>
const T& Arg(const T& v) {
  return v;
}
inline absl::string_view Arg(std::string_view s) { return ToAbsl(s); }
}  // namespace text_scan_internal

// absl::StrCat that also accepts std::string_view.
template <typename... Args>
std::string Cat(const Args&... args) {
  return absl::StrCat(text_scan_internal::Arg(args)...);
}

// Splits `line` at `delim` into `fields` (cleared first). With `quotes`, a
// field that starts with '"' runs to the matching closing quote, may contain
// the delimiter, and writes a doubled quote ("") as one quote; such fields are
// unescaped into `scratch`, whose capacity is reserved up front so that the
// views stay valid until `scratch` is next modified. Returns false when a
// quoted field is not closed or is followed by something other than the
// delimiter.
bool SplitFields(std::string_view line, char delim, bool quotes,
                 std::vector<std::string_view>* fields, std::string* scratch);

// Strips ASCII spaces and tabs from both ends.
std::string_view TrimSpaces(std::string_view s);

// Parses a decimal number ("12", "-3", "4.5", "1e-3"; leading and trailing
// spaces allowed). Integers take a fast path. Returns false for empty text,
// trailing garbage, or a non-finite result.
bool ParseDouble(std::string_view s, double* out);
bool ParseFloat(std::string_view s, float* out);

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, at
// most U+10FFFF). Pure ASCII takes a word-at-a-time fast path.
bool IsValidUtf8(std::string_view s);

// "\t" for the two-character escape "\\t", otherwise `delimiter` itself.
// Returns false unless the result is exactly one character.
bool ParseDelimiter(std::string_view delimiter, char* out);

}  // namespace freshet

#endif  // FRESHET_DATA_TEXT_SCAN_H_
