#include "engine/object_parts.h"

namespace pmesh::engine {

void merge_checked(Json& into, const Json& over, const std::string& path, std::string* conflict) {
  if (!into.is_object() || !over.is_object()) {
    if (!into.is_null() && into != over && conflict->empty()) *conflict = path;
    into = over;
    return;
  }
  for (const auto& [k, v] : over.items()) {
    auto it = into.find(k);
    if (it == into.end()) into[k] = v;
    else merge_checked(*it, v, path.empty() ? k : path + "." + k, conflict);
  }
}

const Json& finalizers_of(const Json& obj) {
  static const Json kEmpty = Json::array();
  const Json* f = find_fields(obj, {"metadata", "finalizers"});
  return f && f->is_array() ? *f : kEmpty;
}

bool equal_except(const Json& a, const Json& b, std::initializer_list<const char*> keys) {
  if (!a.is_object() || !b.is_object()) return a == b;
  auto skipped = [&](const std::string& k) {
    for (const char* x : keys)
      if (k == x) return true;
    return false;
  };
  // Both are ordered maps: walk them side by side.
  auto i = a.items().begin(), j = b.items().begin();
  auto ie = a.items().end(), je = b.items().end();
  while (true) {
    while (i != ie && skipped(i.key())) ++i;
    while (j != je && skipped(j.key())) ++j;
    if (i == ie || j == je) return i == ie && j == je;
    if (i.key() != j.key() || i.value() != j.value()) return false;
    ++i;
    ++j;
  }
}

void leaf_paths(const Json& v, JsonPath& prefix, std::vector<JsonPath>& out) {
  // A derive whose every field is editable owns none (its part is `{}`).
  if (prefix.empty() && v.is_object() && v.empty()) return;
  if (!v.is_object() || v.empty()) {
    out.push_back(prefix);
    return;
  }
  for (const auto& [k, x] : v.items()) {
    PathElem e;
    e.field = k;
    prefix.push_back(e);
    leaf_paths(x, prefix, out);
    prefix.pop_back();
  }
}

}  // namespace pmesh::engine
