#include "stdlib/syncagent.h"

#include "stdlib/digest.h"
#include "stdlib/go_regexp.h"
#include "stdlib/go_template.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>

namespace pmesh {
namespace {

bool is_index(const std::string& k) {
  return !k.empty() && k.size() < 10 && std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What `keys` find in `root`, or nullptr (J: Json or const Json).
template <class J>
J* find_path(J& root, const std::vector<std::string>& keys) {
  J* at = &root;
  for (const auto& k : keys) {
    if (at->is_object()) {
      auto it = at->find(k);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array() && is_index(k) && std::stoul(k) < at->size()) {
      at = &(*at)[std::stoul(k)];
    } else {
      return nullptr;
    }
  }
  return at;
}

// gjson's Result.String(): a string as it is, null as "", others as JSON text.
std::string gjson_string(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// The slot `key` names in `at`, made as sjson.Set makes it: a missing or
// scalar parent becomes an array for an index (or -1, which appends) and an
// object otherwise; an index past the end pads with nulls.
Json& slot(Json& at, const std::string& key, const std::string& path) {
  bool index = is_index(key) || key == "-1";
  if (!at.is_object() && !at.is_array()) at = index ? Json::array() : Json::object();
  if (at.is_array() && !index) at = Json::object();  // a key for an array: pmesh replaces it rather than guess at a merge
  if (at.is_array()) {
    size_t i = key == "-1" ? at.size() : std::stoul(key);
    if (i > at.size() + kMaxArrayGrowth)
      throw BuiltinError("syncagent_mutate: path " + path + " would grow an array by more than " + std::to_string(kMaxArrayGrowth));
    while (at.size() <= i) at.push_back(nullptr);
    return at[i];
  }
  return at[key];
}

// `keys`: `path` parsed (parse_reference_path).
void set_path(Json& root, const std::vector<std::string>& keys, const std::string& path, Json value) {
  if (keys.size() == 1 && keys[0].empty()) throw BuiltinError("syncagent_mutate: a mutation needs a path");
  Json* at = &root;
  for (const auto& k : keys) at = &slot(*at, k, path);
  *at = std::move(value);
}

// sjson.Delete: the key or element at the path goes; a path that finds
// nothing changes nothing.
void delete_path(Json& root, const std::string& path) {
  auto keys = parse_reference_path(path, "syncagent_mutate");
  const std::string last = keys.back();
  keys.pop_back();
  Json* parent = find_path(root, keys);
  if (!parent) return;
  if (parent->is_object()) parent->erase(last);
  else if (parent->is_array() && is_index(last) && std::stoul(last) < parent->size()) parent->erase(std::stoul(last));
}

// The gjson.Result a mutation template sees as `.Value`: what it prints
// (String), and the methods templates call on it.
Json gjson_result(const Json* at) {
  if (!at) return {{"String", ""}, {"Raw", ""}, {"Exists", false}, {"Int", 0}, {"Float", 0.0}, {"Bool", false}};
  const Json& v = *at;
  std::string text = gjson_string(v);
  int64_t i = 0;
  double f = 0;
  bool b = false;
  if (v.is_number()) {
    f = v.get<double>();
    i = v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(f);
    b = f != 0;
  } else if (v.is_boolean()) {
    b = v.get<bool>();
    i = b ? 1 : 0;
    f = i;
  } else if (v.is_string()) {
    char* end = nullptr;
    f = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end) f = 0;
    i = static_cast<int64_t>(f);
    b = text == "1" || text == "t" || text == "T" || text == "true" || text == "TRUE" || text == "True";
  }
  return {{"String", text}, {"Raw", v.dump()}, {"Exists", true}, {"Int", i}, {"Float", f}, {"Bool", b}};
}

}  // namespace

std::string field_of(const Json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
}

std::vector<std::string> parse_reference_path(const std::string& path, const char* fn) {
  std::vector<std::string> keys(1);
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\' && i + 1 < path.size()) keys.back() += path[++i];
    else if (c == '.') keys.emplace_back();
    else if (c == '*' || c == '?' || c == '#' || c == '|' || c == '@' || c == '!' || c == '=')
      throw BuiltinError(std::string(fn) + ": path " + path + " uses gjson syntax beyond keys and indexes");
    else keys.back() += c;
  }
  return keys;
}

// The api-syncagent's reference path in `object`, as gjson's String() gives
// it; null when the path finds nothing.
Json syncagent_gjson(const BuiltinArgs& a) {
  const Json* at = find_path(a[0], parse_reference_path(builtin_string(a, 1, "gjson"), "gjson"));
  if (!at) return nullptr;
  return gjson_string(*at);
}

Json apply_syncagent_mutations(Json object, const Json& mutations, const Json& other) {
  if (mutations.is_null()) return object;
  if (!mutations.is_array()) throw BuiltinError("syncagent_mutate: the mutations must be a list");
  for (const auto& m : mutations) {
    // As the agent's switch: the first mechanism given is the one applied.
    if (m.contains("delete") && m["delete"].is_object()) {
      delete_path(object, field_of(m["delete"], "path"));
    } else if (m.contains("regex") && m["regex"].is_object()) {
      const Json& r = m["regex"];
      std::string pattern = field_of(r, "pattern"), replacement = field_of(r, "replacement"), path = field_of(r, "path");
      auto keys = parse_reference_path(path, "syncagent_mutate");
      if (pattern.empty()) {
        set_path(object, keys, path, replacement);
        continue;
      }
      const Json* at = find_path(object, keys);
      try {
        set_path(object, keys, path, go_regexp_replace_all(at ? gjson_string(*at) : std::string(), pattern, replacement));
      } catch (const GoRegexpError& e) {
        throw BuiltinError(std::string("syncagent_mutate: ") + e.what());
      }
    } else if (m.contains("template") && m["template"].is_object()) {
      const Json& t = m["template"];
      std::string path = field_of(t, "path");
      auto keys = parse_reference_path(path, "syncagent_mutate");
      Json context = {{"Value", gjson_result(find_path(object, keys))}, {"LocalObject", object}, {"RemoteObject", other}};
      try {
        set_path(object, keys, path, render_go_template(field_of(t, "template"), context, TemplateOutput::kHtml));
      } catch (const TemplateError& e) {
        throw BuiltinError(std::string("syncagent_mutate: failed to execute template: ") + e.what());
      }
    } else {
      throw BuiltinError("syncagent_mutate: no valid mutation mechanism provided");
    }
  }
  return object;
}

Json syncagent_mutate(const BuiltinArgs& a) { return apply_syncagent_mutations(a[0], a[1], a[2]); }

std::string syncagent_mutations_problem(const Json& mutations) {
  if (mutations.is_null()) return "";
  if (!mutations.is_array()) return "must be a list";
  for (size_t i = 0; i < mutations.size(); ++i) {
    const Json& m = mutations[i];
    std::string at = "[" + std::to_string(i) + "]";
    const char* kinds[] = {"delete", "regex", "template"};
    const char* kind = nullptr;
    for (const char* k : kinds)
      if (!kind && m.is_object() && m.contains(k) && m[k].is_object()) kind = k;
    if (!kind) return at + ": no valid mutation mechanism provided";
    const Json& spec = m[kind];
    std::string path = field_of(spec, "path");
    try {
      auto keys = parse_reference_path(path, "path");
      if (keys.size() == 1 && keys[0].empty()) return at + "." + kind + ".path: Required value";
      std::string pattern = field_of(spec, "pattern");
      if (std::string(kind) == "regex" && !pattern.empty()) go_regexp_replace_all("", pattern, "");
    } catch (const BuiltinError& e) {
      return at + "." + kind + ".path: " + e.what();
    } catch (const GoRegexpError& e) {
      return at + ".regex.pattern: " + e.what();
    }
  }
  return "";
}

Json syncagent_mutations_error(const BuiltinArgs& a) { return syncagent_mutations_problem(a[0]); }

// A related resource's label selector with the keys and values of its
// matchLabels that hold "{{" rendered with `context`, as the agent's
// templateLabelSelector: a key that renders empty is dropped;
// matchExpressions are left as they are.
Json syncagent_selector(const BuiltinArgs& a) {
  const Json& selector = a[0];
  if (selector.is_null()) return nullptr;
  if (!selector.is_object()) throw BuiltinError("syncagent_selector: the selector must be an object");
  if (!a[1].is_object()) throw BuiltinError("syncagent_selector: the context must be an object");
  Json out = selector;
  out.erase("rewrite");
  if (!selector.contains("matchLabels") || !selector["matchLabels"].is_object()) return out;
  auto render = [&](const std::string& s) {
    if (s.find("{{") == std::string::npos) return s;
    try {
      return render_go_template(s, a[1]);
    } catch (const TemplateError& e) {
      throw BuiltinError(std::string("syncagent_selector: failed to evaluate template: ") + e.what());
    }
  };
  Json labels = Json::object();
  for (const auto& [k, v] : selector["matchLabels"].items()) {
    std::string key = render(k);
    if (!key.empty()) labels[key] = v.is_string() ? Json(render(v.get<std::string>())) : v;
  }
  out["matchLabels"] = std::move(labels);
  return out;
}

// The api-syncagent's name for a synced copy (`which`: "namespace" or
// "name"): a PublishedResource's naming pattern, a Go template when it has
// "{{", else the agent's deprecated $placeholders; its default when empty.
Json syncagent_name(const BuiltinArgs& a) {
  std::string pattern = builtin_string(a, 0, "syncagent_name");
  const std::string& cluster = builtin_string(a, 1, "syncagent_name");
  const std::string& path = builtin_string(a, 2, "syncagent_name");
  const Json& object = a[3];
  const std::string& which = builtin_string(a, 4, "syncagent_name");
  if (which != "namespace" && which != "name") throw BuiltinError("syncagent_name: argument 5 must be namespace or name");
  if (pattern.empty())
    pattern = which == "namespace" ? "{{ .ClusterName }}"
                                   : "{{ .Object.metadata.namespace | sha3short }}-{{ .Object.metadata.name | sha3short }}";
  if (pattern.find("{{") != std::string::npos) {
    try {
      return render_go_template(pattern, Json{{"ClusterName", cluster}, {"ClusterPath", path}, {"Object", object}});
    } catch (const TemplateError& e) {
      throw BuiltinError("syncagent_name: invalid " + which + " naming: " + e.what());
    }
  }
  const Json* md = object.is_object() && object.contains("metadata") ? &object["metadata"] : nullptr;
  auto meta = [&](const char* k) { return md && md->contains(k) && (*md)[k].is_string() ? (*md)[k].get<std::string>() : std::string(); };
  std::string ns = meta("namespace"), name = meta("name");
  auto short_sha1 = [](const std::string& s) { return hex_digest(EVP_sha1(), s).substr(0, 20); };
  // As Go's strings.NewReplacer: at each position the first pair that matches, in order.
  const std::vector<std::pair<std::string, std::string>> pairs = {{"$remoteClusterName", cluster},
                                                                  {"$remoteNamespaceHash", short_sha1(ns)},
                                                                  {"$remoteNamespace", ns},
                                                                  {"$remoteNameHash", short_sha1(name)},
                                                                  {"$remoteName", name}};
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    bool replaced = false;
    for (const auto& [from, to] : pairs)
      if (pattern.compare(i, from.size(), from) == 0) {
        out += to, i += from.size(), replaced = true;
        break;
      }
    if (!replaced) out += pattern[i++];
  }
  return out;
}

}  // namespace pmesh
