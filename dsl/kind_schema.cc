#include "dsl/kind_schema.h"

namespace pmesh::dsl {

namespace {

void walk(const nlohmann::json& s, const std::string& path, std::vector<std::string>* out) {
  if (!s.is_object()) return;
  if (s.contains("x-kubernetes-validations"))
    out->push_back("x-kubernetes-validations (CEL) at " + (path.empty() ? std::string("the root") : path));
  auto sub = [&](const char* key, const std::string& at) {
    if (auto it = s.find(key); it != s.end()) walk(*it, at, out);
  };
  if (auto p = s.find("properties"); p != s.end() && p->is_object())
    for (const auto& [k, v] : p->items()) walk(v, path.empty() ? k : path + "." + k, out);
  sub("items", path + "[*]");
  sub("additionalProperties", path + ".*");
  for (const char* combinator : {"allOf", "anyOf", "oneOf"})
    if (auto c = s.find(combinator); c != s.end() && c->is_array())
      for (const auto& v : *c) walk(v, path, out);
  sub("not", path);
}

// The node of `s` that defaulting needs, or null when nothing under it has
// a default.
nlohmann::json defaults_of(const nlohmann::json& s) {
  using nlohmann::json;
  if (!s.is_object()) return nullptr;
  json out = json::object();
  if (auto d = s.find("default"); d != s.end()) out["default"] = *d;
  if (auto items = s.find("items"); items != s.end())
    if (json kept = defaults_of(*items); !kept.is_null()) out["items"] = std::move(kept);
  auto props = s.find("properties");
  if (props != s.end() && props->is_object()) {
    json kept = json::object();
    for (const auto& [k, sub] : props->items())
      if (json d = defaults_of(sub); !d.is_null()) kept[k] = std::move(d);
    if (!kept.empty()) out["properties"] = std::move(kept);
  }
  if (auto additional = s.find("additionalProperties"); additional != s.end() && additional->is_object())
    if (json kept = defaults_of(*additional); !kept.is_null()) {
      out["additionalProperties"] = std::move(kept);
      // Which keys are properties decides where additionalProperties'
      // defaults apply: all of them stay named.
      if (props != s.end() && props->is_object())
        for (const auto& [k, sub] : props->items())
          if (!out["properties"].contains(k)) out["properties"][k] = json::object();
    }
  return out.empty() ? nullptr : out;
}

}  // namespace

std::shared_ptr<const nlohmann::json> schema_defaults(const nlohmann::json& schema) {
  nlohmann::json d = defaults_of(schema);
  return d.is_null() ? nullptr : std::make_shared<const nlohmann::json>(std::move(d));
}

std::shared_ptr<const nlohmann::json> kind_schema(const Expr& e, DiagnosticSink& diags) {
  auto s = literal_json(e);
  if (!s || !s->is_object()) {
    diags.error(e.span, "`schema` takes an OpenAPI v3 schema, an object of literals");
  } else if (s->contains("type") && (*s)["type"] != "object") {
    diags.error(e.span, "a kind's schema is of type object");
  } else if (auto cel = unsupported_schema_features(*s); !cel.empty()) {
    diags.error(e.span, "pmesh does not evaluate " + cel[0] + "; a rule it skipped would accept what kube refuses");
  } else {
    return std::make_shared<const nlohmann::json>(std::move(*s));
  }
  return nullptr;
}

const nlohmann::json* version_schema(const nlohmann::json& version) {
  auto s = version.is_object() ? version.find("schema") : version.end();
  if (!version.is_object() || s == version.end() || !s->is_object()) return nullptr;
  auto root = s->find("openAPIV3Schema");
  const nlohmann::json* out = root != s->end() ? &*root : &*s;
  return out->is_object() ? out : nullptr;
}

std::string schema_type_of(const nlohmann::json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

std::vector<std::string> unsupported_schema_features(const nlohmann::json& schema) {
  std::vector<std::string> out;
  walk(schema, "", &out);
  return out;
}

}  // namespace pmesh::dsl
