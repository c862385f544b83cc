// Paths into JSON objects, as rule heads write them.
//
// A PathElem is a field name, or a key into a list whose entries are keyed by
// one of their fields (conditions by `type`, most lists by `name`), or into a
// map. set_at and add_at create what is missing on the way; remove_at undoes
// them. deep_merge overlays one object on another, as a derived object's
// fields overlay its base.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "dsl/list_order.h"

namespace pmesh::engine {

using Json = nlohmann::json;

// A null to point at where a lookup finds nothing.
inline const Json kNullJson;

struct PathElem {
  std::string field;      // a field, or the key of a map entry
  bool list_key = false;  // a key into a list keyed by `key_field`
  std::string key_field;  // list_key: the field holding the key
  Json key;               // list_key: the key's value
  bool operator==(const PathElem& o) const {
    return field == o.field && list_key == o.list_key && key_field == o.key_field && key == o.key;
  }
  bool operator<(const PathElem& o) const;
};
using JsonPath = std::vector<PathElem>;

// A path held by many: what a rule's `set` writes is the same path for
// every object it sets (`status.conditions[type=Ready]`), kept by each match
// and each object it sets. Interned: equal paths are one shared copy while
// any holder lives, so equal SharedPaths are the same pointer.
//
// Thread safety: intern_path may be called from any thread (the pool is
// locked); a SharedPath never changes.
using SharedPath = std::shared_ptr<const JsonPath>;
SharedPath intern_path(JsonPath path);
// The empty path, shared.
const SharedPath& empty_path();

std::string to_string(const JsonPath& p);
// A text that names `p` and no other path (to_string prints a field with a
// dot and two fields alike): for keying paths.
std::string path_key(const JsonPath& p);

// The value at `path`, or nullptr.
const Json* find_at(const Json& doc, const JsonPath& path);
inline Json* find_at(Json& doc, const JsonPath& path) {
  return const_cast<Json*>(find_at(static_cast<const Json&>(doc), path));
}
// The value at a plain dotted path of field names, or nullptr.
const Json* find_fields(const Json& doc, const std::vector<std::string>& fields);

// Makes `slot` the string `v`, in the buffer it holds when it is a string
// already (an object recomputed writes the same name, uid and timestamps
// into its metadata each time: a string each was an allocation each).
inline void set_string(Json& slot, std::string_view v) {
  if (slot.is_string()) slot.get_ref<std::string&>().assign(v.data(), v.size());
  else slot = std::string(v);
}

// Reads of JSON that anyone may have written (request bodies, tokens), which
// never throw: the string at `key` of `o`, or "" when `o` is not an object
// or holds something else there; whether it holds `true` there.
std::string string_field(const Json& o, std::string_view key);
bool true_field(const Json& o, std::string_view key);

// Sets `value` at `path`, creating objects and keyed list entries on the way.
// A keyed entry gets its key field set.
void set_at(Json& doc, const JsonPath& path, Json value);
// Adds `value` to the list at `path` unless it is there already. With
// `keys` (the fields that identify an element of that list), unless an
// element with the same values of all of them is (a field absent from
// both counts as the same): a keyed list holds one entry per key. A value
// with none of the keys is compared whole.
void add_at(Json& doc, const JsonPath& path, const Json& value, const std::vector<std::string>& keys = {});
// Removes what is at `path`; empty objects and lists left behind stay.
void remove_at(Json& doc, const JsonPath& path);
// Sorts the list at `path` by `order` (a field's value is itself if a
// string, "" if absent or null, Go's zero value, its JSON text otherwise).
// Stable: elements that compare equal keep their order. Does nothing where
// there is no list.
void order_at(Json& doc, const JsonPath& path, const dsl::ListOrder& order);

// Overlays `over` on `base`: objects merge key by key, anything else replaces.
void deep_merge(Json& base, const Json& over);

// Whether `doc` contains everything in `pattern`: objects key by key, lists
// when each element of the pattern is contained in some element of the
// list (an empty pattern list: when the list is empty), scalars by equality.
bool contains(const Json& doc, const Json& pattern);

}  // namespace pmesh::engine
