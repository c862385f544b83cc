// A provider's related-resource regex (a PublishedResource's
// spec.related[].object.reference.regex): the pattern, its replacement and
// the value it rewrites, one per line. A result or a GoRegexpError, never a
// crash, never past the bound.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stdlib/go_regexp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t a = in.find('\n');
  if (a == std::string_view::npos) return 0;
  size_t b = in.find('\n', a + 1);
  if (b == std::string_view::npos) return 0;
  std::string pattern(in.substr(0, a));
  std::string_view replacement = in.substr(a + 1, b - a - 1), value = in.substr(b + 1);
  try {
    std::string out = pmesh::go_regexp_replace_all(value, pattern, replacement);
    if (out.size() > pmesh::kMaxRegexpResultBytes) __builtin_trap();
  } catch (const pmesh::GoRegexpError&) {
  }
  return 0;
}
