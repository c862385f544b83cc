// Small text helpers shared by every library above the stdlib.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pmesh {

// "a.b.c" split at '.' -> {"a", "b", "c"}; an empty input gives {""}.
std::vector<std::string> split(std::string_view s, char sep);

// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing
// above U+10FFFF).
bool valid_utf8(std::string_view s);

// `s` with every byte that does not start a well-formed UTF-8 sequence
// replaced by U+FFFD, as Go's encoding/json does when it decodes a string:
// what kube-apiserver stores for such input.
std::string coerce_utf8(std::string_view s);

}  // namespace pmesh
