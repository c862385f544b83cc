#include "engine/kinds.h"

#include <algorithm>

#include "engine/json_path.h"
#include "engine/state.h"
#include "dsl/kind_schema.h"
#include "dsl/printer_column.h"

namespace pmesh::engine {

namespace {

std::string text(const Json& o, std::initializer_list<const char*> path) {
  const Json* v = &o;
  for (const char* p : path) {
    if (!v->is_object() || !v->contains(p)) return "";
    v = &(*v)[p];
  }
  return v->is_string() ? v->get<std::string>() : "";
}

std::vector<std::string> strings(const Json& v) {
  std::vector<std::string> out;
  if (v.is_array())
    for (const auto& s : v)
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

bool same(const dsl::KindDecl& a, const dsl::KindDecl& b) {
  return a.name == b.name && a.group == b.group && a.version == b.version && a.plural == b.plural &&
         a.singular == b.singular && a.short_names == b.short_names && a.categories == b.categories &&
         a.scope == b.scope && a.sections == b.sections && a.status_subresource == b.status_subresource;
}

}  // namespace

std::optional<dsl::KindDecl> kind_from_schema(const Json& ars) {
  const Json spec = ars.value("spec", Json::object());
  if (!spec.is_object() || !spec.contains("names") || !spec["names"].is_object()) return std::nullopt;
  const Json& names = spec["names"];
  dsl::KindDecl k;
  k.runtime = true;
  k.group = text(spec, {"group"});
  k.name = text(names, {"kind"});
  k.plural = text(names, {"plural"});
  k.singular = text(names, {"singular"});
  if (k.singular.empty()) {
    k.singular = k.name;
    std::transform(k.singular.begin(), k.singular.end(), k.singular.begin(), ::tolower);
  }
  k.short_names = strings(names.value("shortNames", Json()));
  k.categories = strings(names.value("categories", Json()));
  k.scope = text(spec, {"scope"}) == "Cluster" ? dsl::Scope::kCluster : dsl::Scope::kNamespaced;
  // The storage version, or else the first served one.
  const Json* chosen = nullptr;
  if (spec.contains("versions") && spec["versions"].is_array())
    for (const auto& v : spec["versions"]) {
      if (!v.is_object()) continue;
      bool served = !(v.contains("served") && v["served"] == false);
      if (true_field(v, "storage") || (!chosen && served)) chosen = &v;
    }
  if (!chosen || k.group.empty() || k.name.empty() || k.plural.empty()) return std::nullopt;
  k.version = text(*chosen, {"name"});
  if (k.version.empty()) return std::nullopt;
  if (const Json* root = dsl::version_schema(*chosen)) {
    k.schema = std::make_shared<const Json>(*root);
    // Found once here, not at each write: what of it pmesh cannot enforce.
    k.schema_unsupported = dsl::unsupported_schema_features(*root);
    if (root->contains("properties") && (*root)["properties"].is_object())
      for (const auto& [f, _] : (*root)["properties"].items())
        if (f != "apiVersion" && f != "kind" && f != "metadata") k.sections.push_back(f);
  }
  if (k.sections.empty()) k.sections = {"spec", "status"};
  k.status_subresource = chosen->contains("subresources") && (*chosen)["subresources"].is_object() &&
                         (*chosen)["subresources"].contains("status");
  k.list_keys["status.conditions"] = "type";
  // The version's printer columns, as a CRD's: those kube would refuse
  // (no name, an unknown type, a path that does not parse) are left out.
  if (chosen->contains("additionalPrinterColumns") && (*chosen)["additionalPrinterColumns"].is_array())
    for (const auto& c : (*chosen)["additionalPrinterColumns"]) {
      if (!c.is_object()) continue;
      dsl::PrinterColumn col;
      col.name = text(c, {"name"});
      col.type = text(c, {"type"});
      col.format = text(c, {"format"});
      col.description = text(c, {"description"});
      col.json_path = text(c, {"jsonPath"});
      if (c.contains("priority") && c["priority"].is_number_integer()) col.priority = c["priority"].get<int64_t>();
      if (!dsl::printer_column_problems(col).empty()) continue;
      k.printer_columns.push_back(std::move(col));
    }
  return k;
}

Kinds::Kinds(const dsl::Program& program)
    : program_(&program), arena_(std::make_shared<std::deque<std::unique_ptr<dsl::KindDecl>>>()) {}

const dsl::KindDecl* Kinds::declared(const std::string& name) const {
  auto it = program_->kinds().find(name);
  return it == program_->kinds().end() ? nullptr : it->second;
}

const dsl::KindDecl* Kinds::by_key(const std::string& cluster, const std::string& key) const {
  if (key.find('.') == std::string::npos) return declared(key);
  auto c = bound_.find(cluster);
  if (c == bound_.end()) return nullptr;
  auto k = c->second.find(key);
  return k == c->second.end() ? nullptr : k->second;
}

const dsl::KindDecl* Kinds::by_api(const std::string& cluster, const std::string& api_version,
                                   const std::string& kind) const {
  if (const dsl::KindDecl* d = declared(kind); d && d->api_version() == api_version) return d;
  auto c = bound_.find(cluster);
  if (c == bound_.end()) return nullptr;
  for (const auto& [key, d] : c->second)
    if (d->name == kind && d->api_version() == api_version) return d;
  return nullptr;
}

const dsl::KindDecl* Kinds::by_name(const std::string& cluster, const std::string& name) const {
  if (const dsl::KindDecl* d = declared(name)) return d;
  auto c = bound_.find(cluster);
  if (c == bound_.end()) return nullptr;
  for (const auto& [key, d] : c->second)
    if (d->name == name) return d;
  return nullptr;
}

const dsl::KindDecl* Kinds::by_resource(const std::string& cluster, const std::string& group,
                                        const std::string& version, const std::string& resource) const {
  for (const dsl::KindDecl* d : in_cluster(cluster))
    if (d->group == group && d->version == version && d->plural == resource) return d;
  return nullptr;
}

std::vector<const dsl::KindDecl*> Kinds::in_cluster(const std::string& cluster) const {
  std::vector<const dsl::KindDecl*> out;
  for (const auto& [name, d] : program_->kinds()) out.push_back(d);
  std::map<std::string, const dsl::KindDecl*> extra;
  for (const auto& [c, kinds] : bound_)
    if (cluster == "*" || c == cluster)
      for (const auto& [key, d] : kinds) extra.emplace(key, d);
  for (const auto& [key, d] : extra) out.push_back(d);
  return out;
}

bool Kinds::binds_kinds(const std::string& kind_key) {
  return kind_key == "APIBinding" || kind_key == "PublishedResource" || kind_key == "APIResourceSchema";
}

const dsl::KindDecl* Kinds::intern(dsl::KindDecl decl) {
  for (const auto& d : *arena_)
    if (same(*d, decl)) return d.get();
  arena_->push_back(std::make_unique<dsl::KindDecl>(std::move(decl)));
  return arena_->back().get();
}

void Kinds::refresh(const State& state, bool additive, const std::string* cluster) {
  std::map<std::string, std::map<std::string, const dsl::KindDecl*>> next;
  if (additive || cluster) next = bound_;
  if (cluster && !additive) next.erase(*cluster);
  auto schema = [&](const std::string& cluster, const std::string& name) -> const dsl::KindDecl* {
    if (cluster.empty() || name.empty()) return nullptr;
    const ObjectEntry* e = state.object(object_fact({"APIResourceSchema", cluster, "", name}));
    if (!e || e->effective.is_null()) return nullptr;
    auto k = kind_from_schema(e->effective);
    return k ? intern(std::move(*k)) : nullptr;
  };
  state.scan_objects(object_prefix("APIBinding", cluster), [&](const ObjectEntry& b) {
    const Json& st = b.effective.value("status", Json::object());
    std::string from = text(st, {"apiExportClusterName"});
    if (st.is_object() && st.contains("boundResources") && st["boundResources"].is_array())
      for (const auto& r : st["boundResources"])
        if (const dsl::KindDecl* d = schema(from, text(r, {"schema", "name"})))
          next[b.key.cluster].emplace(d->key(), d);
    return true;
  });
  state.scan_objects(object_prefix("PublishedResource", cluster), [&](const ObjectEntry& p) {
    if (const dsl::KindDecl* d = schema(p.key.cluster, text(p.effective, {"status", "resourceSchemaName"})))
      next[p.key.cluster].emplace(d->key(), d);
    return true;
  });
  bound_ = std::move(next);
}

}  // namespace pmesh::engine
