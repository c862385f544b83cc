// How an effective object is put together from its parts: the fields a
// user wrote, the fields derives contribute, and the fields rules set.
//
// Thread safety: pure functions.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "engine/json_path.h"

namespace pmesh::engine {

// Merges a derive's fields into an object. Sets `*conflict` to the first
// path where two derives disagree on a value (and lets the later win).
void merge_checked(Json& into, const Json& over, const std::string& path, std::string* conflict);

// metadata.finalizers, or an empty list.
const Json& finalizers_of(const Json& obj);

// Whether two objects are equal but for the top-level `keys` (a spec
// change leaves metadata and status out), without copying either.
bool equal_except(const Json& a, const Json& b, std::initializer_list<const char*> keys);

// Every leaf path of a derive's fields: what the rule owns.
void leaf_paths(const Json& v, JsonPath& prefix, std::vector<JsonPath>& out);

}  // namespace pmesh::engine
