#include "engine/schema_validation.h"

#include <re2/re2.h>

#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>

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

// The schema of property `key` of an object schema's `properties`, or null.
const Json* property(const Json* props, const std::string& key) {
  if (!props || !props->is_object()) return nullptr;
  auto it = props->find(key);
  return it == props->end() ? nullptr : &*it;
}

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

class Validator {
 public:
  FieldErrors errors;

  // REQUIRES: `path` is v's path; it is as it was when these return.
  void value(const Json& s, const Json& v, std::string& path) {
    if (!s.is_object()) return;
    if (v.is_null()) {
      if (flag(s, "nullable")) return;
      if (const Json* t = member(s, "type"); t && t->is_string())
        errors.push_back(FieldError::type_invalid(path, "", path + " in body must be of type " + t->get<std::string>()));
      return;
    }
    if (!type_ok(s, v, path)) return;
    if (const Json* e = member(s, "enum"); e && e->is_array() && std::find(e->begin(), e->end(), v) == e->end()) {
      std::vector<std::string> allowed;
      for (const auto& a : *e) allowed.push_back(a.is_string() ? a.get<std::string>() : a.dump());
      errors.push_back(FieldError::not_supported(path, v, allowed));
    }
    if (v.is_string()) string(s, v.get_ref<const std::string&>(), path);
    else if (v.is_number()) number(s, v, path);
    else if (v.is_array()) array(s, v, path);
    else if (v.is_object()) object(s, v, path);
  }

  // `wanted`: the keys to check (all but those a caller checks itself).
  void object(const Json& s, const Json& v, std::string& path,
              const std::function<bool(const std::string&)>& wanted = nullptr) {
    // An embedded resource is an object of its own: it names its kind
    // (apiextensions' validateEmbeddedResource).
    if (flag(s, "x-kubernetes-embedded-resource") && !v.empty())
      for (const char* f : {"apiVersion", "kind"}) {
        auto it = v.find(f);
        if (it == v.end()) errors.push_back(FieldError::required(child(path, f), "must not be empty"));
        else if (!it->is_string()) errors.push_back(FieldError::invalid(child(path, f), *it, "must be a string"));
        else if (it->get_ref<const std::string&>().empty()) errors.push_back(FieldError::invalid(child(path, f), *it, "must not be empty"));
      }
    const Json* props = member(s, "properties");
    // A null that is not nullable is no value (kube prunes it before it validates).
    auto absent = [&](const std::string& k) {
      auto it = v.find(k);
      if (it == v.end()) return true;
      if (!it->is_null()) return false;
      const Json* sub = property(props, k);
      return !(sub && flag(*sub, "nullable"));
    };
    if (const Json* req = member(s, "required"); req && req->is_array())
      for (const auto& r : *req)
        if (r.is_string() && (!wanted || wanted(r.get<std::string>())) && absent(r.get<std::string>()))
          errors.push_back(FieldError::required(child(path, r.get<std::string>())));
    if (const Json* max = member(s, "maxProperties"); max && max->is_number_integer() && v.size() > max->get<size_t>())
      errors.push_back(too_many(path, v.size(), max->get<size_t>()));
    if (const Json* min = member(s, "minProperties"); min && min->is_number_integer() && v.size() < min->get<size_t>())
      errors.push_back(FieldError::invalid(path, v.size(), path + " in body should have at least " + number_text(*min) + " properties"));
    const Json* additional = member(s, "additionalProperties");
    for (auto it = v.begin(); it != v.end(); ++it) {
      if ((wanted && !wanted(it.key())) || absent(it.key())) continue;
      const Json* sub = property(props, it.key());
      if (!sub && additional && additional->is_object()) sub = additional;
      if (!sub) continue;
      Descend down(path, it.key());
      value(*sub, *it, path);
    }
  }

 private:
  static FieldError too_many(const std::string& path, size_t actual, size_t max) {
    return {FieldError::Type::kTooMany, path, static_cast<int64_t>(actual), "must have at most " + std::to_string(max) + " items", ""};
  }

  bool type_ok(const Json& s, const Json& v, const std::string& path) {
    std::string want;
    bool ok = true;
    if (flag(s, "x-kubernetes-int-or-string")) {
      want = "integer,string";
      ok = v.is_string() || integral(v);
    } else if (const Json* t = member(s, "type"); t && t->is_string()) {
      want = t->get<std::string>();
      if (want == "object") ok = v.is_object();
      else if (want == "array") ok = v.is_array();
      else if (want == "string") ok = v.is_string();
      else if (want == "boolean") ok = v.is_boolean();
      else if (want == "integer") ok = integral(v);
      else if (want == "number") ok = v.is_number();
    }
    if (ok) return true;
    std::string got = dsl::schema_type_of(v);
    errors.push_back(FieldError::type_invalid(path, got, path + " in body must be of type " + want + ": \"" + got + "\""));
    return false;
  }

  void string(const Json& s, const std::string& v, const std::string& path) {
    if (const Json* max = member(s, "maxLength"); max && max->is_number_integer() && runes(v) > max->get<size_t>())
      errors.push_back(FieldError::too_long(path, max->get<size_t>()));
    if (const Json* min = member(s, "minLength"); min && min->is_number_integer() && runes(v) < min->get<size_t>())
      errors.push_back(FieldError::invalid(path, v, path + " in body should be at least " + number_text(*min) + " chars long"));
    if (const Json* p = member(s, "pattern"); p && p->is_string()) {
      const RE2* re = compiled(p->get<std::string>());
      // A pattern RE2 cannot compile (kube would have refused the schema)
      // matches nothing: fail closed.
      if (!re->ok() || !RE2::PartialMatch(v, *re))
        errors.push_back(FieldError::invalid(path, v, path + " in body should match '" + p->get<std::string>() + "'"));
    }
    if (const Json* f = member(s, "format"); f && f->is_string() && !format_ok(f->get<std::string>(), v))
      errors.push_back(FieldError::type_invalid(path, v, path + " in body must be of type " + f->get<std::string>() + ": \"" + v + "\""));
  }

  void number(const Json& s, const Json& v, const std::string& path) {
    double d = v.get<double>();
    if (const Json* max = member(s, "maximum"); max && max->is_number()) {
      bool exclusive = flag(s, "exclusiveMaximum");
      if (exclusive ? d >= max->get<double>() : d > max->get<double>())
        errors.push_back(FieldError::invalid(path, v, path + " in body should be less than " + (exclusive ? "" : "or equal to ") + number_text(*max)));
    }
    if (const Json* min = member(s, "minimum"); min && min->is_number()) {
      bool exclusive = flag(s, "exclusiveMinimum");
      if (exclusive ? d <= min->get<double>() : d < min->get<double>())
        errors.push_back(FieldError::invalid(path, v, path + " in body should be greater than " + (exclusive ? "" : "or equal to ") + number_text(*min)));
    }
    if (const Json* m = member(s, "multipleOf"); m && m->is_number() && m->get<double>() > 0) {
      double q = d / m->get<double>();
      if (std::fabs(q - std::round(q)) > 1e-9)
        errors.push_back(FieldError::invalid(path, v, path + " in body should be a multiple of " + number_text(*m)));
    }
  }

  void array(const Json& s, const Json& v, std::string& path) {
    if (const Json* max = member(s, "maxItems"); max && max->is_number_integer() && v.size() > max->get<size_t>())
      errors.push_back(too_many(path, v.size(), max->get<size_t>()));
    if (const Json* min = member(s, "minItems"); min && min->is_number_integer() && v.size() < min->get<size_t>())
      errors.push_back(FieldError::invalid(path, v.size(), path + " in body should have at least " + number_text(*min) + " items"));
    const Json* items = member(s, "items");
    for (size_t i = 0; i < v.size() && items; ++i) {
      Descend down(path, i);
      value(*items, v[i], path);
    }
    std::string list_type = s.value("x-kubernetes-list-type", "");
    if (list_type == "set") {
      for (size_t i = 1; i < v.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (v[i] == v[j]) {
            errors.push_back({FieldError::Type::kDuplicate, index(path, i), v[i], "", ""});
            break;
          }
    } else if (list_type == "map") {
      const Json* keys = member(s, "x-kubernetes-list-map-keys");
      std::set<std::string> seen;
      for (size_t i = 0; i < v.size() && keys && keys->is_array(); ++i) {
        if (!v[i].is_object()) continue;
        Json key = Json::object();
        for (const auto& k : *keys)
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
FieldErrors validate_sections(const Json& schema, const Json& object,
                              const std::function<bool(const std::string&)>& wanted) {
  Validator v;
  std::string path;
  v.object(schema, object, path, [&](const std::string& k) { return !object_meta(k) && wanted(k); });
  // A CRD's schema may constrain a name and nothing else of metadata.
  const Json* props = member(schema, "properties");
  if (const Json* md = props ? member(*props, "metadata") : nullptr; md && object.contains("metadata")) {
    const Json* mdp = member(*md, "properties");
    if (mdp && mdp->contains("name") && object["metadata"].contains("name")) {
      path = "metadata.name";
      v.value((*mdp)["name"], object["metadata"]["name"], path);
    }
  }
  return v.errors;
}

}  // namespace

FieldErrors validate_against_schema(const Json& schema, const Json& object, Sections sections) {
  return validate_sections(schema, object, [sections](const std::string& k) {
    switch (sections) {
      case Sections::kAll: return true;
      case Sections::kAllButStatus: return k != "status";
      case Sections::kStatus: return k == "status";
    }
    return true;
  });
}

FieldErrors validate_changes_against_schema(const Json& schema, const Json& before, const Json& after) {
  if (!before.is_object() || !after.is_object()) return validate_against_schema(schema, after);
  // A section present in both and equal is as valid as it was; a section
  // present in one only is checked (its absence may be what is wrong).
  return validate_sections(schema, after, [&](const std::string& k) {
    auto a = after.find(k), b = before.find(k);
    return a == after.end() || b == before.end() || *a != *b;
  });
}

}  // namespace pmesh::engine
