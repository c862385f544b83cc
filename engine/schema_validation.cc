#include "engine/schema_validation.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "dsl/kind_schema.h"
#include "engine/schema_formats.h"
#include "stdlib/text.h"

namespace pmesh::engine {

namespace {

bool flag(const Json& s, const char* key) { return s.is_object() && s.contains(key) && s[key] == true; }
const Json* member(const Json& s, const char* key) {
  if (!s.is_object()) return nullptr;
  auto it = s.find(key);
  return it == s.end() ? nullptr : &*it;
}

std::string child(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// The validator walks with one path buffer, extended on the way down and cut
// back on the way up: a path is read only for an error, and a string made
// for every field visited was a fifth of validating a valid object.
class Descend {
 public:
  Descend(std::string& path, std::string_view key) : path_(path), size_(path.size()) {
    if (!path.empty()) path += '.';
    path += key;
  }
  Descend(std::string& path, size_t i) : path_(path), size_(path.size()) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, i).ptr;
    path += '[';
    path.append(digits, end);
    path += ']';
  }
  ~Descend() { path_.resize(size_); }
  Descend(const Descend&) = delete;
  Descend& operator=(const Descend&) = delete;

 private:
  std::string& path_;
  size_t size_;
};

bool integral(const Json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  double d = v.get<double>();
  return std::isfinite(d) && d == std::floor(d);
}

// Go formats numbers in messages with %v: no trailing ".0".
std::string number_text(const Json& v) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e21) return std::to_string(static_cast<long long>(d));
  }
  return v.dump();
}

size_t runes(const std::string& s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += std::max<size_t>(1, utf8_sequence_length(s, i))) ++n;
  return n;
}

// Patterns compiled once per thread. Schemas come from tenants, so both are
// bounded: the cache's entries, and each pattern's memory (RE2's max_mem:
// a pattern too large for it does not compile, and matches nothing).
const RE2* compiled(const std::string& pattern) {
  thread_local std::map<std::string, std::unique_ptr<RE2>> cache;
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second.get();
  if (cache.size() >= 128) cache.clear();
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(int64_t{2} << 20);
  auto re = std::make_unique<RE2>(pattern, o);
  return (cache[pattern] = std::move(re)).get();
}


// The object's own fields at its root: ObjectMeta's to decode and check.
bool object_meta(const std::string& key) { return key == "apiVersion" || key == "kind" || key == "metadata"; }

void prune(const Json& s, Json& v, const std::string& path, std::vector<std::string>* dropped, bool root = false) {
  if (v.is_array()) {
    if (const Json* items = member(s, "items"))
      for (size_t i = 0; i < v.size(); ++i) prune(*items, v[i], index(path, i), dropped);
    return;
  }
  if (!v.is_object()) return;
  const Json* props = member(s, "properties");
  const Json* additional = member(s, "additionalProperties");
  bool preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
  bool embedded = flag(s, "x-kubernetes-embedded-resource");
  for (auto it = v.begin(); it != v.end();) {
    const std::string key = it.key();
    if (root && object_meta(key)) {
      ++it;
      continue;
    }
    const Json* sub = props && props->is_object() && props->contains(key) ? &(*props)[key] : nullptr;
    if (!sub && additional && additional->is_object()) sub = additional;
    if (sub) {
      if (it->is_null() && !flag(*sub, "nullable")) {  // kube prunes nulls that are not nullable
        it = v.erase(it);
        continue;
      }
      prune(*sub, *it, child(path, key), dropped);
    } else if (!preserve && !(embedded && (key == "apiVersion" || key == "kind" || key == "metadata")) &&
               !(additional && additional->is_boolean() && *additional == true)) {
      dropped->push_back(child(path, key));
      it = v.erase(it);
      continue;
    }
    ++it;
  }
}

void defaults(const Json& s, Json& v, bool root = false) {
  if (v.is_array()) {
    if (const Json* items = member(s, "items"))
      for (auto& e : v) defaults(*items, e);
    return;
  }
  if (!v.is_object()) return;
  if (const Json* props = member(s, "properties"); props && props->is_object())
    for (const auto& [k, sub] : props->items()) {
      if (root && object_meta(k)) continue;
      if (!v.contains(k) && sub.is_object() && sub.contains("default")) v[k] = sub["default"];
      if (v.contains(k)) defaults(sub, v[k]);
    }
  if (const Json* additional = member(s, "additionalProperties"); additional && additional->is_object())
    for (auto it = v.begin(); it != v.end(); ++it) {
      const Json* props = member(s, "properties");
      if (!(props && props->is_object() && props->contains(it.key()))) defaults(*additional, *it);
    }
}

// A schema node with the keywords validation asks of every value read
// once: interpreting the schema's JSON at each value (a map lookup per
// keyword, a dozen per value) was most of validating a valid object. The
// pointers are into the schema, which the node's owner keeps alive.
struct Node {
  enum class Type : uint8_t { kAny, kObject, kArray, kString, kBoolean, kInteger, kNumber, kIntOrString };
  bool checked = false;  // false: the schema is not an object, and says nothing
  bool nullable = false;
  bool embedded = false;  // x-kubernetes-embedded-resource
  Type type = Type::kAny;
  std::string type_name;      // for a type mismatch's message ("integer,string" for int-or-string)
  std::string declared_type;  // `type`, when it is a string: a null's message names it
  const Json* enum_values = nullptr;
  const Json* max_length = nullptr;
  const Json* min_length = nullptr;
  const std::string* pattern = nullptr;
  const std::string* format = nullptr;
  const Json* maximum = nullptr;
  const Json* minimum = nullptr;
  const Json* multiple_of = nullptr;
  bool exclusive_maximum = false, exclusive_minimum = false;
  const Json* max_items = nullptr;
  const Json* min_items = nullptr;
  std::unique_ptr<Node> items;
  enum class ListType : uint8_t { kNone, kSet, kMap } list_type = ListType::kNone;
  const Json* map_keys = nullptr;
  const Json* required = nullptr;
  const Json* max_properties = nullptr;
  const Json* min_properties = nullptr;
  std::map<std::string, Node, std::less<>> properties;
  std::unique_ptr<Node> additional;  // additionalProperties, when it is a schema

  explicit Node(const Json& s) {
    if (!s.is_object()) return;
    checked = true;
    nullable = flag(s, "nullable");
    embedded = flag(s, "x-kubernetes-embedded-resource");
    if (const Json* t = member(s, "type"); t && t->is_string()) declared_type = t->get<std::string>();
    if (flag(s, "x-kubernetes-int-or-string")) {
      type = Type::kIntOrString;
      type_name = "integer,string";
    } else if (!declared_type.empty()) {
      type_name = declared_type;
      type = type_name == "object"    ? Type::kObject
             : type_name == "array"   ? Type::kArray
             : type_name == "string"  ? Type::kString
             : type_name == "boolean" ? Type::kBoolean
             : type_name == "integer" ? Type::kInteger
             : type_name == "number"  ? Type::kNumber
                                      : Type::kAny;
    }
    if (const Json* e = member(s, "enum"); e && e->is_array()) enum_values = e;
    auto integer = [&](const char* k) -> const Json* {
      const Json* v = member(s, k);
      return v && v->is_number_integer() ? v : nullptr;
    };
    auto number = [&](const char* k) -> const Json* {
      const Json* v = member(s, k);
      return v && v->is_number() ? v : nullptr;
    };
    auto text = [&](const char* k) -> const std::string* {
      const Json* v = member(s, k);
      return v && v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
    };
    max_length = integer("maxLength");
    min_length = integer("minLength");
    pattern = text("pattern");
    format = text("format");
    maximum = number("maximum");
    minimum = number("minimum");
    exclusive_maximum = flag(s, "exclusiveMaximum");
    exclusive_minimum = flag(s, "exclusiveMinimum");
    if (const Json* m = number("multipleOf"); m && m->get<double>() > 0) multiple_of = m;
    max_items = integer("maxItems");
    min_items = integer("minItems");
    if (const Json* i = member(s, "items")) items = std::make_unique<Node>(*i);
    if (const std::string* lt = text("x-kubernetes-list-type")) {
      if (*lt == "set") list_type = ListType::kSet;
      if (*lt == "map") list_type = ListType::kMap;
    }
    if (const Json* k = member(s, "x-kubernetes-list-map-keys"); k && k->is_array()) map_keys = k;
    if (const Json* r = member(s, "required"); r && r->is_array()) required = r;
    max_properties = integer("maxProperties");
    min_properties = integer("minProperties");
    if (const Json* props = member(s, "properties"); props && props->is_object())
      for (const auto& [k, sub] : props->items()) properties.try_emplace(k, sub);
    if (const Json* a = member(s, "additionalProperties"); a && a->is_object()) additional = std::make_unique<Node>(*a);
  }
  const Node* property(std::string_view key) const {
    auto it = properties.find(key);
    return it == properties.end() ? nullptr : &it->second;
  }
};

// Compiled once per schema and thread: a kind's schema is shared and
// immutable, so its address names it while it lives. The cache does not
// keep a schema alive (kinds come and go with bindings): an entry whose
// schema went is not used (its nodes point into what went; another schema
// may have the address now) and is dropped before the cache grows. Tenants
// make kinds, so the cache is bounded: past 256 live schemas it starts over.
const Node& compiled_schema(const std::shared_ptr<const Json>& schema) {
  struct Entry {
    std::weak_ptr<const Json> alive;
    std::unique_ptr<Node> root;
  };
  thread_local std::unordered_map<const Json*, Entry> cache;
  auto it = cache.find(schema.get());
  if (it != cache.end() && it->second.alive.lock() == schema) return *it->second.root;
  if (cache.size() >= 256)
    for (auto i = cache.begin(); i != cache.end();) i = i->second.alive.expired() ? cache.erase(i) : std::next(i);
  if (cache.size() >= 256) cache.clear();
  Entry& e = cache[schema.get()];
  e.alive = schema;
  e.root = std::make_unique<Node>(*schema);
  return *e.root;
}

class Validator {
 public:
  FieldErrors errors;

  // REQUIRES: `path` is v's path; it is as it was when these return.
  void value(const Node& s, const Json& v, std::string& path) {
    if (!s.checked) return;
    if (v.is_null()) {
      if (s.nullable) return;
      if (!s.declared_type.empty())
        errors.push_back(FieldError::type_invalid(path, "", path + " in body must be of type " + s.declared_type));
      return;
    }
    if (!type_ok(s, v, path)) return;
    if (s.enum_values && std::find(s.enum_values->begin(), s.enum_values->end(), v) == s.enum_values->end()) {
      std::vector<std::string> allowed;
      for (const auto& a : *s.enum_values) allowed.push_back(a.is_string() ? a.get<std::string>() : a.dump());
      errors.push_back(FieldError::not_supported(path, v, allowed));
    }
    if (v.is_string()) string(s, v.get_ref<const std::string&>(), path);
    else if (v.is_number()) number(s, v, path);
    else if (v.is_array()) array(s, v, path);
    else if (v.is_object()) object(s, v, path);
  }

  // `wanted`: the keys to check (all but those a caller checks itself).
  void object(const Node& s, const Json& v, std::string& path,
              const std::function<bool(const std::string&)>& wanted = nullptr) {
    // An embedded resource is an object of its own: it names its kind
    // (apiextensions' validateEmbeddedResource).
    if (s.embedded && !v.empty())
      for (const char* f : {"apiVersion", "kind"}) {
        auto it = v.find(f);
        if (it == v.end()) errors.push_back(FieldError::required(child(path, f), "must not be empty"));
        else if (!it->is_string()) errors.push_back(FieldError::invalid(child(path, f), *it, "must be a string"));
        else if (it->get_ref<const std::string&>().empty()) errors.push_back(FieldError::invalid(child(path, f), *it, "must not be empty"));
      }
    // A null that is not nullable is no value (kube prunes it before it validates).
    auto absent = [&](const std::string& k) {
      auto it = v.find(k);
      if (it == v.end()) return true;
      if (!it->is_null()) return false;
      const Node* sub = s.property(k);
      return !(sub && sub->nullable);
    };
    if (s.required)
      for (const auto& r : *s.required)
        if (r.is_string() && (!wanted || wanted(r.get<std::string>())) && absent(r.get<std::string>()))
          errors.push_back(FieldError::required(child(path, r.get<std::string>())));
    if (s.max_properties && v.size() > s.max_properties->get<size_t>())
      errors.push_back(too_many(path, v.size(), s.max_properties->get<size_t>()));
    if (s.min_properties && v.size() < s.min_properties->get<size_t>())
      errors.push_back(FieldError::invalid(path, v.size(), path + " in body should have at least " + number_text(*s.min_properties) + " properties"));
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (wanted && !wanted(it.key())) continue;
      const Node* sub = s.property(it.key());
      if (it->is_null() && !(sub && sub->nullable)) continue;  // absent(), without finding the member again
      if (!sub) sub = s.additional.get();
      if (!sub) continue;
      Descend down(path, it.key());
      value(*sub, *it, path);
    }
  }

 private:
  static FieldError too_many(const std::string& path, size_t actual, size_t max) {
    return {FieldError::Type::kTooMany, path, static_cast<int64_t>(actual), "must have at most " + std::to_string(max) + " items", ""};
  }

  bool type_ok(const Node& s, const Json& v, const std::string& path) {
    bool ok = true;
    switch (s.type) {
      case Node::Type::kAny: return true;
      case Node::Type::kIntOrString: ok = v.is_string() || integral(v); break;
      case Node::Type::kObject: ok = v.is_object(); break;
      case Node::Type::kArray: ok = v.is_array(); break;
      case Node::Type::kString: ok = v.is_string(); break;
      case Node::Type::kBoolean: ok = v.is_boolean(); break;
      case Node::Type::kInteger: ok = integral(v); break;
      case Node::Type::kNumber: ok = v.is_number(); break;
    }
    if (ok) return true;
    std::string got = dsl::schema_type_of(v);
    errors.push_back(FieldError::type_invalid(path, got, path + " in body must be of type " + s.type_name + ": \"" + got + "\""));
    return false;
  }

  void string(const Node& s, const std::string& v, const std::string& path) {
    if (s.max_length && runes(v) > s.max_length->get<size_t>())
      errors.push_back(FieldError::too_long(path, s.max_length->get<size_t>()));
    if (s.min_length && runes(v) < s.min_length->get<size_t>())
      errors.push_back(FieldError::invalid(path, v, path + " in body should be at least " + number_text(*s.min_length) + " chars long"));
    if (s.pattern) {
      const RE2* re = compiled(*s.pattern);
      // A pattern RE2 cannot compile (kube would have refused the schema)
      // matches nothing: fail closed.
      if (!re->ok() || !RE2::PartialMatch(v, *re))
        errors.push_back(FieldError::invalid(path, v, path + " in body should match '" + *s.pattern + "'"));
    }
    if (s.format && !format_ok(*s.format, v))
      errors.push_back(FieldError::type_invalid(path, v, path + " in body must be of type " + *s.format + ": \"" + v + "\""));
  }

  void number(const Node& s, const Json& v, const std::string& path) {
    double d = v.get<double>();
    if (s.maximum) {
      bool exclusive = s.exclusive_maximum;
      if (exclusive ? d >= s.maximum->get<double>() : d > s.maximum->get<double>())
        errors.push_back(FieldError::invalid(path, v, path + " in body should be less than " + (exclusive ? "" : "or equal to ") + number_text(*s.maximum)));
    }
    if (s.minimum) {
      bool exclusive = s.exclusive_minimum;
      if (exclusive ? d <= s.minimum->get<double>() : d < s.minimum->get<double>())
        errors.push_back(FieldError::invalid(path, v, path + " in body should be greater than " + (exclusive ? "" : "or equal to ") + number_text(*s.minimum)));
    }
    if (s.multiple_of) {
      double q = d / s.multiple_of->get<double>();
      if (std::fabs(q - std::round(q)) > 1e-9)
        errors.push_back(FieldError::invalid(path, v, path + " in body should be a multiple of " + number_text(*s.multiple_of)));
    }
  }

  void array(const Node& s, const Json& v, std::string& path) {
    if (s.max_items && v.size() > s.max_items->get<size_t>())
      errors.push_back(too_many(path, v.size(), s.max_items->get<size_t>()));
    if (s.min_items && v.size() < s.min_items->get<size_t>())
      errors.push_back(FieldError::invalid(path, v.size(), path + " in body should have at least " + number_text(*s.min_items) + " items"));
    for (size_t i = 0; i < v.size() && s.items; ++i) {
      Descend down(path, i);
      value(*s.items, v[i], path);
    }
    if (s.list_type == Node::ListType::kSet) {
      for (size_t i = 1; i < v.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (v[i] == v[j]) {
            errors.push_back({FieldError::Type::kDuplicate, index(path, i), v[i], "", ""});
            break;
          }
    } else if (s.list_type == Node::ListType::kMap && s.map_keys) {
      std::set<std::string> seen;
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_object()) continue;
        Json key = Json::object();
        for (const auto& k : *s.map_keys)
          if (k.is_string() && v[i].contains(k.get<std::string>())) key[k.get<std::string>()] = v[i][k.get<std::string>()];
        if (!seen.insert(key.dump()).second) errors.push_back({FieldError::Type::kDuplicate, index(path, i), key, "", ""});
      }
    }
  }
};

}  // namespace

std::vector<std::string> prune_unknown_fields(const Json& schema, Json& object) {
  std::vector<std::string> dropped;
  prune(schema, object, "", &dropped, true);
  return dropped;
}

void apply_schema_defaults(const Json& schema, Json& object) { defaults(schema, object, true); }

namespace {

// The schema's complaints about the top-level sections of `object` that
// `wanted` names, and about its name.
FieldErrors validate_sections(const Node& schema, const Json& object,
                              const std::function<bool(const std::string&)>& wanted) {
  Validator v;
  std::string path;
  v.object(schema, object, path, [&](const std::string& k) { return !object_meta(k) && wanted(k); });
  // A CRD's schema may constrain a name and nothing else of metadata.
  if (const Node* md = schema.property("metadata"); md && object.contains("metadata")) {
    if (const Node* name = md->property("name"); name && object["metadata"].contains("name")) {
      path = "metadata.name";
      v.value(*name, object["metadata"]["name"], path);
    }
  }
  return v.errors;
}

std::function<bool(const std::string&)> sections_of(Sections sections) {
  return [sections](const std::string& k) {
    switch (sections) {
      case Sections::kAll: return true;
      case Sections::kAllButStatus: return k != "status";
      case Sections::kStatus: return k == "status";
    }
    return true;
  };
}

FieldErrors validate_changes(const Node& schema, const Json& before, const Json& after) {
  if (!before.is_object() || !after.is_object()) return validate_sections(schema, after, sections_of(Sections::kAll));
  // A section present in both and equal is as valid as it was; a section
  // present in one only is checked (its absence may be what is wrong).
  return validate_sections(schema, after, [&](const std::string& k) {
    auto a = after.find(k), b = before.find(k);
    return a == after.end() || b == before.end() || *a != *b;
  });
}

}  // namespace

FieldErrors validate_against_schema(const Json& schema, const Json& object, Sections sections) {
  return validate_sections(Node(schema), object, sections_of(sections));
}

FieldErrors validate_against_schema(const std::shared_ptr<const Json>& schema, const Json& object, Sections sections) {
  return validate_sections(compiled_schema(schema), object, sections_of(sections));
}

FieldErrors validate_changes_against_schema(const Json& schema, const Json& before, const Json& after) {
  return validate_changes(Node(schema), before, after);
}

FieldErrors validate_changes_against_schema(const std::shared_ptr<const Json>& schema, const Json& before,
                                            const Json& after) {
  return validate_changes(compiled_schema(schema), before, after);
}

}  // namespace pmesh::engine
