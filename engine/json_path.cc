#include "engine/json_path.h"

#include <algorithm>
#include <mutex>
#include <tuple>
#include <unordered_map>

namespace pmesh::engine {

namespace {

// Interned paths by an unambiguous text of them. Entries whose path no one
// holds any more are swept when the pool has doubled since the last sweep
// (keys can come from tenants' data: `set o.annotations[key]`).
struct PathPool {
  std::mutex mu;
  std::unordered_map<std::string, std::weak_ptr<const JsonPath>> paths;
  size_t sweep_at = 1024;
};

PathPool& path_pool() {
  static PathPool* p = new PathPool();  // never destroyed: paths may outlive statics
  return *p;
}

}  // namespace

const SharedPath& empty_path() {
  static const SharedPath* kEmpty = new SharedPath(std::make_shared<const JsonPath>());
  return *kEmpty;
}

SharedPath intern_path(JsonPath path) {
  if (path.empty()) return empty_path();
  std::string key = path_key(path);
  PathPool& p = path_pool();
  std::lock_guard<std::mutex> lock(p.mu);
  std::weak_ptr<const JsonPath>& slot = p.paths[key];
  if (SharedPath held = slot.lock()) return held;
  SharedPath made = std::make_shared<const JsonPath>(std::move(path));
  slot = made;
  if (p.paths.size() >= p.sweep_at) {
    for (auto it = p.paths.begin(); it != p.paths.end();) it = it->second.expired() ? p.paths.erase(it) : std::next(it);
    p.sweep_at = std::max<size_t>(1024, 2 * p.paths.size());
  }
  return made;
}

bool PathElem::operator<(const PathElem& o) const {
  return std::tie(field, list_key, key_field) < std::tie(o.field, o.list_key, o.key_field) ||
         (std::tie(field, list_key, key_field) == std::tie(o.field, o.list_key, o.key_field) && key < o.key);
}

std::string path_key(const JsonPath& p) {
  std::string k;
  for (const auto& e : p) {
    if (e.list_key) {
      k += '\x1e';
      k += e.key_field;
      k += '\x1f';
      k += e.key.dump();
    } else {
      k += '\x1d';
      k += e.field;
    }
  }
  return k;
}

std::string to_string(const JsonPath& p) {
  std::string out;
  for (const auto& e : p) {
    if (e.list_key) out += "[" + (e.key.is_string() ? e.key.get<std::string>() : e.key.dump()) + "]";
    else out += (out.empty() ? "" : ".") + e.field;
  }
  return out;
}

namespace {

// Whether `x` is the entry `e` names: its key field holds the key, or,
// for a key of several fields (an object, no key field), each of them does.
bool is_entry(const Json& x, const PathElem& e) {
  if (!x.is_object()) return false;
  if (e.key_field.empty()) {
    if (!e.key.is_object() || e.key.empty()) return false;
    for (const auto& [k, v] : e.key.items())
      if (auto it = x.find(k); it == x.end() || *it != v) return false;
    return true;
  }
  auto it = x.find(e.key_field);
  return it != x.end() && *it == e.key;
}

Json* entry_in_list(Json& list, const PathElem& e) {
  for (auto& x : list)
    if (is_entry(x, e)) return &x;
  return nullptr;
}

const Json* entry_in_list(const Json& list, const PathElem& e) {
  for (const auto& x : list)
    if (is_entry(x, e)) return &x;
  return nullptr;
}

// What a new entry for `e` starts as: its key.
Json new_entry(const PathElem& e) { return e.key_field.empty() ? e.key : Json{{e.key_field, e.key}}; }

// The container that holds the last element of `path`, created if asked.
Json* parent_of(Json& doc, const JsonPath& path, bool create) {
  Json* cur = &doc;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const PathElem& e = path[i];
    if (e.list_key) {
      if (!cur->is_array()) {
        if (!create) return nullptr;
        *cur = Json::array();
      }
      Json* found = entry_in_list(*cur, e);
      if (!found) {
        if (!create) return nullptr;
        cur->push_back(new_entry(e));
        found = &cur->back();
      }
      cur = found;
    } else {
      if (!cur->is_object()) {
        if (!create) return nullptr;
        *cur = Json::object();
      }
      cur = &(*cur)[e.field];
    }
  }
  return cur;
}

}  // namespace

const Json* find_at(const Json& doc, const JsonPath& path) {
  const Json* cur = &doc;
  for (const auto& e : path) {
    if (e.list_key) {
      if (!cur->is_array()) return nullptr;
      cur = entry_in_list(*cur, e);
    } else {
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(e.field);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

std::string string_field(const Json& o, std::string_view key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool true_field(const Json& o, std::string_view key) {
  if (!o.is_object()) return false;
  auto it = o.find(key);
  return it != o.end() && it->is_boolean() && it->get<bool>();
}

const Json* find_fields(const Json& doc, const std::vector<std::string>& fields) {
  const Json* cur = &doc;
  for (const auto& f : fields) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(f);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

void set_at(Json& doc, const JsonPath& path, Json value) {
  if (path.empty()) {
    doc = std::move(value);
    return;
  }
  Json* parent = parent_of(doc, path, true);
  const PathElem& last = path.back();
  if (last.list_key) {
    if (!parent->is_array()) *parent = Json::array();
    if (value.is_object()) {
      if (!last.key_field.empty()) value[last.key_field] = last.key;
      else if (last.key.is_object())
        for (const auto& [k, v] : last.key.items()) value[k] = v;
    }
    if (Json* found = entry_in_list(*parent, last)) *found = std::move(value);
    else parent->push_back(std::move(value));
  } else {
    if (!parent->is_object()) *parent = Json::object();
    (*parent)[last.field] = std::move(value);
  }
}

void add_at(Json& doc, const JsonPath& path, const Json& value, const std::vector<std::string>& keys) {
  Json* list = path.empty() ? &doc : nullptr;
  if (!list) {
    Json* parent = parent_of(doc, path, true);
    const PathElem& last = path.back();
    if (last.list_key) {
      if (!parent->is_array()) *parent = Json::array();
      list = entry_in_list(*parent, last);
      if (!list) {
        parent->push_back(Json::array());
        list = &parent->back();
      }
    } else {
      if (!parent->is_object()) *parent = Json::object();
      list = &(*parent)[last.field];
    }
  }
  if (!list->is_array()) *list = Json::array();
  auto field = [](const Json& x, const std::string& k) -> const Json* {
    auto it = x.find(k);
    return it == x.end() ? nullptr : &*it;
  };
  bool keyed = value.is_object() && std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return field(value, k); });
  auto same_key = [&](const Json& x) {
    if (!keyed || !x.is_object()) return false;
    for (const auto& k : keys) {
      const Json *a = field(x, k), *b = field(value, k);
      if (a != b && !(a && b && *a == *b)) return false;
    }
    return true;
  };
  for (const auto& x : *list)
    if (x == value || same_key(x)) return;
  list->push_back(value);
}

void order_at(Json& doc, const JsonPath& path, const dsl::ListOrder& order) {
  Json* list = find_at(doc, path);
  if (!list || !list->is_array()) return;
  auto value = [](const Json& x, const std::string& f) {
    auto it = x.is_object() ? x.find(f) : x.end();
    return !x.is_object() || it == x.end() || it->is_null() ? std::string()
           : it->is_string()                                ? it->get<std::string>()
                                                            : it->dump();
  };
  auto key = [&](const Json& x) {
    std::vector<std::string> k;
    if (order.templated) {
      std::string text = order.literals[0];
      for (size_t i = 0; i < order.fields.size(); ++i) text += value(x, order.fields[i]) + order.literals[i + 1];
      k.push_back(std::move(text));
    } else {
      for (const auto& f : order.fields) k.push_back(value(x, f));
    }
    return k;
  };
  std::vector<std::pair<std::vector<std::string>, Json>> keyed;
  keyed.reserve(list->size());
  for (auto& x : *list) keyed.emplace_back(key(x), std::move(x));
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Json sorted = Json::array();
  for (auto& [k, x] : keyed) sorted.push_back(std::move(x));
  *list = std::move(sorted);
}

void remove_at(Json& doc, const JsonPath& path) {
  if (path.empty()) return;
  Json* parent = parent_of(doc, path, false);
  if (!parent) return;
  const PathElem& last = path.back();
  if (last.list_key) {
    if (!parent->is_array()) return;
    for (auto it = parent->begin(); it != parent->end(); ++it)
      if (is_entry(*it, last)) {
        parent->erase(it);
        return;
      }
  } else if (parent->is_object()) {
    parent->erase(last.field);
  }
}

void deep_merge(Json& base, const Json& over) {
  if (!base.is_object() || !over.is_object()) {
    base = over;
    return;
  }
  for (const auto& [k, v] : over.items()) {
    auto it = base.find(k);
    if (it != base.end() && it->is_object() && v.is_object()) deep_merge(*it, v);
    else base[k] = v;
  }
}

bool contains(const Json& doc, const Json& pattern) {
  // An empty list asks for an empty list, not for any list.
  if (pattern.is_array() && pattern.empty()) return doc.is_array() && doc.empty();
  if (pattern.is_array() && doc.is_array()) {
    for (const auto& want : pattern) {
      bool found = false;
      for (const auto& have : doc) found = found || contains(have, want);
      if (!found) return false;
    }
    return true;
  }
  if (!pattern.is_object()) return doc == pattern;
  if (!doc.is_object()) return false;
  for (const auto& [k, v] : pattern.items()) {
    auto it = doc.find(k);
    if (it == doc.end() || !contains(*it, v)) return false;
  }
  return true;
}

}  // namespace pmesh::engine
