#include "dsl/analysis/schema_conformance.h"

#include "dsl/kind_schema.h"
#include "dsl/object_model.h"

#include <algorithm>
#include <functional>

namespace pmesh::dsl {

namespace {

using nlohmann::json;

bool flag(const json& s, const char* key) { return s.is_object() && s.contains(key) && s[key] == true; }

std::string joined(const std::vector<std::string>& path, size_t upto) {
  std::string out;
  for (size_t i = 0; i < upto && i < path.size(); ++i) out += (out.empty() ? "" : ".") + path[i];
  return out;
}

// A head's path, a key segment as "*" (into a keyed list or a map: the
// schema's items or additionalProperties, whatever the key).
std::vector<std::string> segments(const Path& p) {
  std::vector<std::string> out;
  for (const auto& s : p) out.push_back(s.is_key() ? "*" : s.field);
  return out;
}

}  // namespace

const json* SchemaConformance::walk(const json& schema, const std::vector<std::string>& path, bool* free,
                                    std::string* missing) const {
  const json* node = &schema;
  *free = false;
  for (size_t i = 0; i < path.size(); ++i) {
    if (flag(*node, "x-kubernetes-preserve-unknown-fields") || flag(*node, "x-kubernetes-int-or-string")) {
      *free = true;
      return nullptr;
    }
    const std::string& seg = path[i];
    if (node->contains("items") && (*node)["items"].is_object()) {
      node = &(*node)["items"];  // a key into a keyed list: one of its entries
    } else if (node->contains("properties") && (*node)["properties"].contains(seg)) {
      node = &(*node)["properties"][seg];
    } else if (node->contains("additionalProperties") && (*node)["additionalProperties"].is_object()) {
      node = &(*node)["additionalProperties"];
    } else if (!node->contains("properties") && !node->contains("type")) {
      *free = true;  // a schema that says nothing of what is below
      return nullptr;
    } else {
      *missing = joined(path, i + 1);
      return nullptr;
    }
  }
  return node;
}

void SchemaConformance::value(const RuleInfo& info, const KindDecl& d, const std::vector<std::string>& path, const Expr& v,
                              Span span) {
  // What is known before the rule runs: literals, with the variables in
  // them unknown (null, which the check passes over).
  auto lit = literal_json(v, BareWords::kUnknown);
  if (!lit || v.kind == ExprKind::kVar) return;  // computed: the engine checks it when the rule runs
  bool free = false;
  std::string missing;
  const json* node = walk(*d.schema, path, &free, &missing);
  if (!node) return;
  std::function<void(const json&, const json&, const std::string&)> check = [&](const json& s, const json& x,
                                                                                 const std::string& at) {
    if (!s.is_object() || x.is_null()) return;
    if (flag(s, "x-kubernetes-preserve-unknown-fields") || flag(s, "x-kubernetes-int-or-string")) return;
    std::string want = s.value("type", "");
    std::string got = schema_type_of(x);
    bool ok = want.empty() || want == got || (want == "number" && got == "integer");
    if (!ok) {
      diags_.error(span, "rule `" + info.rule->name + "` sets " + at + " of " + d.name + " to " + (got == "string" ? "a " : "an ") +
                             got + ", where its schema wants " + (want == "integer" || want == "object" || want == "array" ? "an " : "a ") +
                             want);
      return;
    }
    if (s.contains("enum") && s["enum"].is_array() && std::find(s["enum"].begin(), s["enum"].end(), x) == s["enum"].end())
      diags_.error(span, "rule `" + info.rule->name + "` sets " + at + " of " + d.name + " to " + x.dump() +
                             ", which its schema's enum does not allow (" + s["enum"].dump() + ")");
    if (x.is_object() && s.contains("properties"))
      for (auto it = x.begin(); it != x.end(); ++it) {
        if (s["properties"].contains(it.key())) check(s["properties"][it.key()], *it, at + "." + it.key());
        else if (!s.contains("additionalProperties") && !flag(s, "x-kubernetes-preserve-unknown-fields"))
          diags_.warning(span, "rule `" + info.rule->name + "` sets " + at + "." + it.key() + " of " + d.name +
                                   ", a field its schema does not have (kube would drop it from what a client writes)");
      }
  };
  check(*node, *lit, joined(path, path.size()));
}

void SchemaConformance::check(const RuleInfo& info) {
  // Fields written: each must be one the kind's schema has.
  for (const auto& w : info.field_writes) {
    if (w.kind.empty() || w.kind == "*" || w.path.empty() || w.path[0] == "metadata") continue;
    const KindDecl* d = program_.find_kind(*info.module, w.kind);
    if (!d || !d->schema) continue;
    bool free = false;
    std::string missing;
    if (!walk(*d->schema, w.path, &free, &missing) && !free)
      diags_.warning(w.span, "rule `" + info.rule->name + "` writes " + missing + " of " + d->name +
                                 ", a field its schema does not have (kube would drop it from what a client writes)");
  }
  // Entries of lists keyed by several fields are named by all of them: a
  // single value finds the first entry that has it in the kind's listKeys
  // field, which is another entry's when two differ in another key field.
  for (const auto& h : info.rule->heads) {
    if (h.kind != HeadKind::kSet) continue;
    auto it = info.set_targets.find(&h);
    if (it == info.set_targets.end() || !it->second->decl || !it->second->decl->schema) continue;
    const KindDecl& d = *it->second->decl;
    const std::vector<std::string> segs = segments(h.path);
    for (size_t i = 0; i < h.path.size(); ++i) {
      if (!h.path[i].is_key()) continue;
      auto list = canonical_path(&d, std::vector<std::string>(segs.begin(), segs.begin() + static_cast<long>(i)));
      bool free = false;
      std::string missing;
      const json* node = list ? walk(*d.schema, *list, &free, &missing) : nullptr;
      const json* keys = node && node->is_object() && node->contains("x-kubernetes-list-map-keys")
                             ? &(*node)["x-kubernetes-list-map-keys"]
                             : nullptr;
      if (!keys || !keys->is_array() || keys->size() < 2) continue;
      const Expr& key = *h.path[i].key;
      bool all = key.kind == ExprKind::kObject &&
                 std::all_of(keys->begin(), keys->end(), [&](const json& k) {
                   return k.is_string() && std::find(key.keys.begin(), key.keys.end(), k.get<std::string>()) != key.keys.end();
                 });
      if (all) continue;
      std::string names, example;
      for (const auto& k : *keys) {
        std::string n = k.is_string() ? k.get<std::string>() : k.dump();
        names += (names.empty() ? "" : ", ") + n;
        example += (example.empty() ? "" : ", ") + n + ": ...";
      }
      diags_.warning(h.path[i].span, "rule `" + info.rule->name + "` names an entry of " + joined(*list, list->size()) +
                                         " of " + d.name + " without all of the fields its schema keys entries by (" +
                                         names + "): name them all, `[{ " + example + " }]`");
    }
  }
  // Literal values: of the schema's type, and in its enum.
  for (const auto& h : info.rule->heads) {
    if (h.kind == HeadKind::kDeriveObject && !h.object_kind.dynamic()) {
      const KindDecl* d = program_.find_kind(*info.module, h.object_kind.name);
      if (!d || !d->schema) continue;
      for (const auto& f : h.fields) {
        auto path = canonical_path(d, segments(f.path));
        if (path && !path->empty() && (*path)[0] != "metadata") value(info, *d, *path, *f.value, f.span);
      }
    } else if (h.kind == HeadKind::kSet && h.op == SetOp::kAssign) {
      auto it = info.set_targets.find(&h);
      if (it == info.set_targets.end() || !it->second->decl || !it->second->decl->schema) continue;
      auto path = canonical_path(it->second->decl, segments(h.path));
      if (path && !path->empty() && (*path)[0] != "metadata") value(info, *it->second->decl, *path, *h.value, h.span);
    }
  }
}

}  // namespace pmesh::dsl
