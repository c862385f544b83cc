#include "server/api/discovery.h"

#include <map>
#include <set>

#include "stdlib/text.h"

namespace pmesh::server {

namespace {

const std::vector<std::string> kVerbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};

std::string gv_path(const dsl::KindDecl* k) { return k->group.empty() ? "api/" + k->version : "apis/" + k->group + "/" + k->version; }

// OpenAPI's definition name: the group reversed, as Kubernetes writes it.
std::string definition_name(const dsl::KindDecl* k) {
  std::vector<std::string> parts = split(k->group, '.');
  std::string out = "io.k8s.api";
  if (!k->group.empty()) {
    out.clear();
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  } else {
    out += ".core";
  }
  return out + "." + k->version + "." + k->name;
}

Json schema_for(const dsl::KindDecl* k) {
  Json props = {{"apiVersion", {{"type", "string"}}},
                {"kind", {{"type", "string"}}},
                {"metadata", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}};
  for (const auto& s : k->sections) props[s] = {{"x-kubernetes-preserve-unknown-fields", true}};
  return {{"type", "object"},
          {"description", k->name + " (" + k->api_version() + "), declared in the pmesh rules."},
          {"properties", props},
          {"x-kubernetes-preserve-unknown-fields", true},
          {"x-kubernetes-group-version-kind", Json::array({{{"group", k->group}, {"version", k->version}, {"kind", k->name}}})}};
}

}  // namespace

Json api_versions(const std::string& server_address) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs", Json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}})}};
}

Json api_group(const std::vector<const dsl::KindDecl*>& kinds, const std::string& group) {
  std::set<std::string> versions;
  for (const auto* k : kinds)
    if (k->group == group && !group.empty()) versions.insert(k->version);
  if (versions.empty()) return nullptr;
  Json vs = Json::array();
  for (const auto& v : versions) vs.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  return {{"kind", "APIGroup"}, {"apiVersion", "v1"}, {"name", group}, {"versions", vs}, {"preferredVersion", vs[0]}};
}

Json group_list(const std::vector<const dsl::KindDecl*>& kinds) {
  std::set<std::string> groups;
  for (const auto* k : kinds)
    if (!k->group.empty()) groups.insert(k->group);
  Json out = Json::array();
  for (const auto& g : groups) {
    Json grp = api_group(kinds, g);
    grp.erase("kind");
    grp.erase("apiVersion");
    out.push_back(grp);
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", out}};
}

Json resource_list(const std::vector<const dsl::KindDecl*>& kinds, const std::string& group, const std::string& version) {
  Json resources = Json::array();
  bool any = false;
  for (const auto* k : kinds) {
    if (k->group != group || k->version != version) continue;
    any = true;
    bool namespaced = k->scope == dsl::Scope::kNamespaced;
    Json r = {{"name", k->plural},
              {"singularName", k->singular},
              {"namespaced", namespaced},
              {"kind", k->name},
              {"verbs", kVerbs},
              {"storageVersionHash", ""}};
    if (!k->short_names.empty()) r["shortNames"] = k->short_names;
    if (!k->categories.empty()) r["categories"] = k->categories;
    resources.push_back(r);
    if (k->status_subresource)
      resources.push_back({{"name", k->plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", namespaced},
                           {"kind", k->name},
                           {"verbs", {"get", "patch", "update"}}});
  }
  if (!any) return nullptr;
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

Json version_info() {
  return {{"major", "1"},
          {"minor", "31"},
          {"gitVersion", "v1.31.0+pmesh"},
          {"gitCommit", "pmesh"},
          {"gitTreeState", "clean"},
          {"buildDate", "2026-01-01T00:00:00Z"},
          {"goVersion", "go1.22.0"},
          {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

Json openapi_v2_json() {
  return {{"swagger", "2.0"}, {"info", {{"title", "pmesh"}, {"version", "v1"}}}, {"paths", Json::object()}, {"definitions", Json::object()}};
}

std::string openapi_v2_protobuf() {
  // gnostic's openapi_v2.Document: swagger (1) = "2.0", info (2) = {title (1), version (2)}.
  auto field = [](int number, const std::string& bytes) {
    std::string out;
    out += static_cast<char>((number << 3) | 2);
    out += static_cast<char>(bytes.size());  // every value here is shorter than 128 bytes
    return out + bytes;
  };
  return field(1, "2.0") + field(2, field(1, "pmesh") + field(2, "v1"));
}

Json openapi_v3_root(const std::vector<const dsl::KindDecl*>& kinds) {
  Json paths = Json::object();
  for (const auto* k : kinds) paths[gv_path(k)] = {{"serverRelativeURL", "/openapi/v3/" + gv_path(k) + "?hash=pmesh"}};
  return {{"paths", paths}};
}

Json openapi_v3_group_version(const std::vector<const dsl::KindDecl*>& kinds, const std::string& path) {
  Json schemas = Json::object();
  Json paths = Json::object();
  for (const auto* k : kinds) {
    if (gv_path(k) != path) continue;
    std::string def = definition_name(k);
    schemas[def] = schema_for(k);
    // The operations name their parameters: kubectl looks for fieldValidation
    // here to know that the server validates fields itself.
    Json params = Json::array({{{"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                               {{"name", "dryRun"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                               {{"name", "fieldManager"}, {"in", "query"}, {"schema", {{"type", "string"}}}}});
    Json gvk = {{"group", k->group}, {"version", k->version}, {"kind", k->name}};
    Json op = {{"parameters", params}, {"x-kubernetes-group-version-kind", gvk},
               {"responses", {{"200", {{"description", "OK"}}}}}};
    std::string base = "/" + path + (k->scope == dsl::Scope::kNamespaced ? "/namespaces/{namespace}/" : "/") + k->plural;
    paths[base] = {{"post", op}, {"get", op}};
    paths[base + "/{name}"] = {{"get", op}, {"put", op}, {"patch", op}, {"delete", op}};
  }
  if (schemas.empty()) return nullptr;
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "pmesh"}, {"version", "v1"}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

}  // namespace pmesh::server
