// A bound on the nesting of JSON text, checked before it is parsed.
//
// JSON from outside (a checkpoint's MANIFEST.json, a /v1/predict body) may
// nest arrays and objects arbitrarily deep; code that walks such a value
// recursively (the JSON library's serializer among it) then overflows the
// stack. Freshet's own documents nest a few levels, so a scan that refuses
// anything deeper, in one pass over the bytes, removes the hazard.
//
// Thread-safe (a pure function).
#ifndef FRESHET_BASE_JSON_DEPTH_H_
#define FRESHET_BASE_JSON_DEPTH_H_

#include <string_view>

namespace freshet {

// The deepest nesting of arrays and objects in `text` (0 for a scalar),
// ignoring brackets inside strings, or max_depth + 1 as soon as that is
// exceeded. Does not validate the JSON otherwise.
inline int JsonDepth(std::string_view text, int max_depth) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > max_depth) return max_depth + 1;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace freshet

#endif  // FRESHET_BASE_JSON_DEPTH_H_
