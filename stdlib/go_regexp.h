// Go's regexp.ReplaceAllString, as the api-syncagent applies a related
// resource's `regex` (a reference's, a selector rewrite's): RE2 syntax,
// which is Go's, in linear time whatever the pattern (a provider writes
// it); every non-overlapping match replaced, `$1`, `${1}`, `$name`,
// `${name}` and `$$` in the replacement expanded as Go's Regexp.Expand
// does (a group that does not exist is empty), an empty match next to the
// previous match skipped.
//
// Thread safety: pure functions.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace pmesh {

struct GoRegexpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What one replacement may make: a provider's pattern that matches
// everywhere and a long replacement would otherwise multiply the input.
inline constexpr size_t kMaxRegexpResultBytes = 64 * 1024;

// Throws GoRegexpError when `pattern` does not compile as RE2 or the result
// would be longer than kMaxRegexpResultBytes.
std::string go_regexp_replace_all(std::string_view s, const std::string& pattern, std::string_view replacement);

}  // namespace pmesh
