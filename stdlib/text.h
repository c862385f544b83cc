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

}  // namespace pmesh
