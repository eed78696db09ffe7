#include "freshet/data/text_scan.h"

#include <charconv>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace freshet {
namespace {

// Appends the fields of `line`, which has no quoting, split at `delim`.
// Fields are short (Criteo averages under 5 bytes), so a memchr call per
// field costs more than the scan; this checks 16 bytes per step instead.
void SplitPlain(std::string_view line, char delim,
                std::vector<std::string_view>* fields) {
  const char* base = line.data();
  const size_t n = line.size();
  size_t field_start = 0;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i d = _mm_set1_epi8(delim);
  for (; i + 16 <= n; i += 16) {
    const __m128i chunk =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + i));
    unsigned mask =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, d)));
    while (mask != 0) {
      const size_t at = i + static_cast<size_t>(__builtin_ctz(mask));
      fields->emplace_back(base + field_start, at - field_start);
      field_start = at + 1;
      mask &= mask - 1;
    }
  }
#endif
  for (; i < n; ++i) {
    if (base[i] == delim) {
      fields->emplace_back(base + field_start, i - field_start);
      field_start = i + 1;
    }
  }
  fields->emplace_back(base + field_start, n - field_start);
}

}  // namespace

bool SplitFields(std::string_view line, char delim, bool quotes,
                 std::vector<std::string_view>* fields, std::string* scratch) {
  fields->clear();
  const char* p = line.data();
  const char* end = p + line.size();
  if (!quotes || std::memchr(p, '"', line.size()) == nullptr) {
    SplitPlain(line, delim, fields);
    return true;
  }
  scratch->clear();
  scratch->reserve(line.size());
  while (true) {
    if (p < end && *p == '"') {
      // Quoted field: copy into scratch, turning "" into ".
      ++p;
      const size_t start = scratch->size();
      bool closed = false;
      while (p < end) {
        if (*p == '"') {
          if (p + 1 < end && p[1] == '"') {
            scratch->push_back('"');
            p += 2;
            continue;
          }
          ++p;
          closed = true;
          break;
        }
        scratch->push_back(*p++);
      }
      if (!closed) return false;
      fields->emplace_back(scratch->data() + start, scratch->size() - start);
      if (p == end) return true;
      if (*p != delim) return false;
      ++p;
      if (p == end) {
        fields->emplace_back(p, 0);
        return true;
      }
      continue;
    }
    const char* d = static_cast<const char*>(
        std::memchr(p, delim, static_cast<size_t>(end - p)));
    if (d == nullptr) {
      fields->emplace_back(p, static_cast<size_t>(end - p));
      return true;
    }
    fields->emplace_back(p, static_cast<size_t>(d - p));
    p = d + 1;
  }
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool ParseDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '\t' ||
      s.back() == '\t') {
    s = TrimSpaces(s);
    if (s.empty()) return false;
  }
  const char* p = s.data();
  const char* end = p + s.size();
  // Fast path: an optionally signed integer of at most 18 digits.
  {
    const char* q = p;
    bool neg = false;
    if (*q == '-' || *q == '+') {
      neg = *q == '-';
      ++q;
    }
    if (q < end && end - q <= 18) {
      int64_t v = 0;
      const char* r = q;
      while (r < end && static_cast<unsigned>(*r - '0') < 10) {
        v = v * 10 + (*r - '0');
        ++r;
      }
      if (r == end) {
        *out = static_cast<double>(neg ? -v : v);
        return true;
      }
    }
  }
  // from_chars takes no '+'; skipping it must not let "+-1" through.
  if (*p == '+') {
    ++p;
    if (p < end && *p == '-') return false;
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(p, end, v);
  if (ec != std::errc() || ptr != end || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool ParseFloat(std::string_view s, float* out) {
  double d;
  if (!ParseDouble(s, &d)) return false;
  *out = static_cast<float>(d);
  return std::isfinite(*out);
}

bool IsValidUtf8(std::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  while (p < end) {
    // Skip ASCII eight bytes at a time.
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p == end) break;
    unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte, overlong 2-byte lead, or > 0xF4
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

bool ParseDelimiter(std::string_view delimiter, char* out) {
  if (delimiter == "\\t") {
    *out = '\t';
    return true;
  }
  if (delimiter.size() != 1) return false;
  *out = delimiter[0];
  return true;
}

}  // namespace freshet
