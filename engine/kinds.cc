#include "engine/kinds.h"

#include <algorithm>
#include <set>

#include "engine/cluster_names.h"
#include "engine/json_path.h"
#include "engine/state.h"
#include "dsl/kind_schema.h"
#include "dsl/printer_column.h"
#include "dsl/selectable_field.h"

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

bool same_columns(const std::vector<dsl::PrinterColumn>& a, const std::vector<dsl::PrinterColumn>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].type != b[i].type || a[i].format != b[i].format ||
        a[i].description != b[i].description || a[i].priority != b[i].priority || a[i].json_path != b[i].json_path)
      return false;
  return true;
}

// Two declarations that serve alike: the same names, version, schema and
// columns (a new APIResourceSchema with the same names but another schema
// is another declaration), and versions of the same storage.
bool same(const dsl::KindDecl& a, const dsl::KindDecl& b) {
  return a.name == b.name && a.group == b.group && a.version == b.version && a.plural == b.plural &&
         a.singular == b.singular && a.short_names == b.short_names && a.categories == b.categories &&
         a.scope == b.scope && a.sections == b.sections && a.status_subresource == b.status_subresource &&
         a.storage == b.storage && same_columns(a.printer_columns, b.printer_columns) && a.field_labels == b.field_labels &&
         (a.schema == b.schema || (a.schema && b.schema && *a.schema == *b.schema));
}

}  // namespace

namespace {

// The declaration of one version of an APIResourceSchema's kind.
dsl::KindDecl version_decl(const Json& spec, const Json& v) {
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
  k.version = text(v, {"name"});
  if (const Json* root = dsl::version_schema(v)) {
    k.schema = std::make_shared<const Json>(*root);
    k.schema_defaults = dsl::schema_defaults(*root);
    // Found once here, not at each write: what of it pmesh cannot enforce.
    k.schema_unsupported = dsl::unsupported_schema_features(*root);
    if (root->contains("properties") && (*root)["properties"].is_object())
      for (const auto& [f, _] : (*root)["properties"].items())
        if (f != "apiVersion" && f != "kind" && f != "metadata") k.sections.push_back(f);
  }
  if (k.sections.empty()) k.sections = {"spec", "status"};
  k.status_subresource = v.contains("subresources") && v["subresources"].is_object() && v["subresources"].contains("status");
  k.list_keys["status.conditions"] = "type";
  // The version's printer columns, as a CRD's: those kube would refuse
  // (no name, an unknown type, a path that does not parse) are left out.
  if (v.contains("additionalPrinterColumns") && v["additionalPrinterColumns"].is_array())
    for (const auto& c : v["additionalPrinterColumns"]) {
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
  // The fields a field selector may name (apiextensions' selectableFields,
  // which kcp's APIResourceSchema has too): metadata's two, which every
  // custom resource takes, and the version's simple paths, as labels
  // without the leading dot. A path kube would refuse is left out.
  if (v.contains("selectableFields") && v["selectableFields"].is_array()) {
    std::vector<std::string> labels = {"metadata.name", "metadata.namespace"};
    for (const auto& f : v["selectableFields"]) {
      if (labels.size() == 2 + dsl::kMaxSelectableFields) break;
      std::string label = dsl::selectable_field_label(text(f, {"jsonPath"}));
      if (!label.empty() && std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
    }
    if (labels.size() > 2) k.field_labels = std::move(labels);
  }
  return k;
}

bool served(const Json& v) { return v.is_object() && !(v.contains("served") && v["served"] == false); }

}  // namespace

std::vector<dsl::KindDecl> kinds_from_schema(const Json& ars) {
  const Json spec = ars.value("spec", Json::object());
  if (!spec.is_object() || !spec.contains("names") || !spec["names"].is_object()) return {};
  if (text(spec, {"group"}).empty() || text(spec["names"], {"kind"}).empty() || text(spec["names"], {"plural"}).empty())
    return {};
  // The storage version, or else the first served one.
  const Json* chosen = nullptr;
  const Json versions = spec.value("versions", Json::array());
  if (!versions.is_array()) return {};
  for (const auto& v : versions) {
    if (!v.is_object()) continue;
    if (true_field(v, "storage") || (!chosen && served(v))) chosen = &v;
  }
  if (!chosen || text(*chosen, {"name"}).empty()) return {};
  std::vector<dsl::KindDecl> out = {version_decl(spec, *chosen)};
  std::set<std::string> seen = {out[0].version};
  for (const auto& v : versions) {
    // A tenant's schema decides how many declarations a binding makes:
    // bounded, as each is interned and served.
    if (out.size() == kMaxServedVersions) break;
    if (served(v) && !text(v, {"name"}).empty() && seen.insert(text(v, {"name"})).second) out.push_back(version_decl(spec, v));
  }
  return out;
}

Kinds::Kinds(const dsl::Program& program)
    : program_(&program), arena_(std::make_shared<std::deque<std::unique_ptr<dsl::KindDecl>>>()) {}

const dsl::KindDecl* Kinds::declared(const std::string& name) const {
  auto it = program_->kinds().find(name);
  return it == program_->kinds().end() ? nullptr : it->second;
}

const dsl::KindDecl* Kinds::ever_bound(const std::string& key, const std::string& api_version) const {
  for (const auto& d : *arena_)
    if (d->key() == key && d->api_version() == api_version) return d.get();
  return nullptr;
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
  if (auto c = bound_.find(cluster); c != bound_.end())
    for (const auto& [key, d] : c->second)
      if (d->name == kind && d->api_version() == api_version) return d;
  // Another served version: the object is the storage version's.
  const dsl::KindDecl* served = served_version(cluster, api_version, kind);
  return served ? served->storage : nullptr;
}

const dsl::KindDecl* Kinds::served_version(const std::string& cluster, const std::string& api_version,
                                           const std::string& kind) const {
  for (const dsl::KindDecl* v : program_->served_versions())
    if (v->name == kind && v->api_version() == api_version) return v;
  if (auto v = versions_.find(cluster); v != versions_.end())
    for (const auto& [key, ds] : v->second)
      for (const dsl::KindDecl* d : ds)
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
  const auto& served = program_->served_versions();
  out.insert(out.end(), served.begin(), served.end());
  // Each bound kind (for "*", the first cluster's) with its other served
  // versions. A named cluster is a lookup, not a walk of every cluster
  // that binds something: every request asks.
  std::map<std::string, std::vector<const dsl::KindDecl*>> extra;
  auto add = [&](const std::string& c, const std::map<std::string, const dsl::KindDecl*>& kinds) {
    auto vs = versions_.find(c);
    for (const auto& [key, d] : kinds) {
      auto [it, fresh] = extra.try_emplace(key);
      if (!fresh) continue;
      it->second.push_back(d);
      if (vs == versions_.end()) continue;
      auto v = vs->second.find(key);
      if (v != vs->second.end() && !v->second.empty() && v->second[0]->storage == d)
        it->second.insert(it->second.end(), v->second.begin(), v->second.end());
    }
  };
  if (cluster == "*") {
    for (const auto& [c, kinds] : bound_) add(c, kinds);
  } else if (auto b = bound_.find(cluster); b != bound_.end()) {
    add(cluster, b->second);
  }
  for (const auto& [key, ds] : extra) out.insert(out.end(), ds.begin(), ds.end());
  return out;
}

bool Kinds::binds_kinds(const std::string& kind_key) {
  return kind_key == "APIBinding" || kind_key == "CustomResourceDefinition" || kind_key == "APIResourceSchema";
}

const std::vector<const dsl::KindDecl*>& Kinds::schema_decls(const State& state, const std::string& cluster,
                                                             const std::string& name, const std::string& kind) const {
  static const std::vector<const dsl::KindDecl*> none;
  auto key = std::make_tuple(kind, cluster, name);
  const ObjectEntry* e = cluster.empty() || name.empty() ? nullptr : state.object(object_fact({kind, cluster, "", name}));
  if (!e || e->effective.is_null()) {
    schema_cache_.erase(key);
    return none;
  }
  const Json& spec = e->effective->contains("spec") ? (*e->effective)["spec"] : *e->effective;
  auto it = schema_cache_.find(key);
  if (it != schema_cache_.end() && it->second.first == spec) return it->second.second;
  std::vector<const dsl::KindDecl*> out;
  auto decls = kinds_from_schema(*e->effective);
  if (!decls.empty()) {
    const dsl::KindDecl* stored = intern(std::move(decls[0]));
    out.push_back(stored);
    for (size_t i = 1; i < decls.size(); ++i) {
      decls[i].storage = stored;
      out.push_back(intern(std::move(decls[i])));
    }
  }
  auto& slot = schema_cache_[key];
  slot = {spec, std::move(out)};
  return slot.second;
}

std::vector<const dsl::KindDecl*> Kinds::exported(const State& state, const std::string& cluster,
                                                  const std::string& name) const {
  std::vector<const dsl::KindDecl*> out;
  const ObjectEntry* e = state.object(object_fact({"APIExport", cluster, "", name}));
  if (!e || e->effective.is_null()) return out;
  const Json* resources = find_fields(*e->effective, {"spec", "resources"});
  if (!resources || !resources->is_array()) return out;
  for (const auto& r : *resources) {
    const auto& decls = schema_decls(state, cluster, text(r, {"schema"}));
    out.insert(out.end(), decls.begin(), decls.end());
  }
  return out;
}

const dsl::KindDecl* Kinds::intern(dsl::KindDecl decl) const {
  for (const auto& d : *arena_)
    if (same(*d, decl)) return d.get();
  arena_->push_back(std::make_unique<dsl::KindDecl>(std::move(decl)));
  return arena_->back().get();
}

void Kinds::refresh(const State& state, bool additive, const std::string* cluster) {
  std::map<std::string, std::map<std::string, const dsl::KindDecl*>> next;
  std::map<std::string, std::map<std::string, std::vector<const dsl::KindDecl*>>> next_versions;
  if (additive || cluster) {
    next = bound_;
    next_versions = versions_;
  }
  if (cluster && !additive) {
    next.erase(*cluster);
    next_versions.erase(*cluster);
  }
  // The storage version's declaration; the others served become its
  // versions in `where`.
  auto bind = [&](const std::vector<const dsl::KindDecl*>& decls, const std::string& where) -> const dsl::KindDecl* {
    if (decls.empty()) return nullptr;
    next_versions[where][decls[0]->key()].assign(decls.begin() + 1, decls.end());
    return decls[0];
  };
  state.scan_objects(object_prefix("APIBinding", cluster), [&](const FactKey&, const ObjectEntry& b) {
    const Json& st = b.effective->value("status", Json::object());
    // kcp's field names the export's logical cluster; a program without
    // names (kinds alone) writes the path there.
    std::string from = text(st, {"apiExportClusterName"});
    if (std::string path = cluster_path(state, from); !path.empty()) from = std::move(path);
    if (st.is_object() && st.contains("boundResources") && st["boundResources"].is_array())
      for (const auto& r : st["boundResources"])
        if (const dsl::KindDecl* d = bind(schema_decls(state, from, text(r, {"schema", "name"})), std::string(b.key().cluster)))
          next[std::string(b.key().cluster)].emplace(d->key(), d);
    return true;
  });
  // A tenant's CRD never stands beside a kind the program declares (the
  // same group and resource, or kind): the declared one is the API, as
  // kube-apiserver's own resources win over a CRD's.
  auto declared_clash = [&](const dsl::KindDecl& d) {
    for (const auto& [name, k] : program_->kinds())
      if (k->group == d.group && (k->plural == d.plural || k->name == d.name)) return true;
    return false;
  };
  state.scan_objects(object_prefix("CustomResourceDefinition", cluster), [&](const FactKey&, const ObjectEntry& c) {
    const ObjectKeyView key = c.key();
    const std::string in(key.cluster);
    const auto& decls = schema_decls(state, in, std::string(key.name), "CustomResourceDefinition");
    if (decls.empty() || declared_clash(*decls[0])) return true;
    next[in].emplace(decls[0]->key(), bind(decls, in));
    return true;
  });
  // Versions only of the kinds bound: a kind that another binding of the
  // same key won (emplace keeps the first) keeps that one's versions.
  for (auto& [c, keys] : next_versions)
    for (auto it = keys.begin(); it != keys.end();) {
      auto b = next.find(c);
      const dsl::KindDecl* stored = b == next.end() || !b->second.count(it->first) ? nullptr : b->second.at(it->first);
      bool mine = stored && std::all_of(it->second.begin(), it->second.end(), [&](const dsl::KindDecl* v) { return v->storage == stored; });
      it = mine ? std::next(it) : keys.erase(it);
    }
  bound_ = std::move(next);
  versions_ = std::move(next_versions);
}

}  // namespace pmesh::engine
