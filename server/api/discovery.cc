#include "server/api/discovery.h"

#include <map>
#include <set>

#include "stdlib/kube_validation.h"
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

const char* kObjectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

// ObjectMeta, which every kind's `metadata` refers to, as kube publishes it
// (the fields a client sets or reads; descriptions abridged from kube's).
Json object_meta_schema() {
  auto str = [](const char* d) { return Json{{"type", "string"}, {"description", d}}; };
  auto strmap = [](const char* d) {
    return Json{{"type", "object"}, {"additionalProperties", {{"type", "string"}, {"default", ""}}}, {"description", d}};
  };
  Json owner = {{"type", "object"},
                {"description", "OwnerReference contains enough information to let you identify an owning object."},
                {"required", {"apiVersion", "kind", "name", "uid"}},
                {"properties",
                 {{"apiVersion", str("API version of the referent.")},
                  {"kind", str("Kind of the referent.")},
                  {"name", str("Name of the referent.")},
                  {"uid", str("UID of the referent.")},
                  {"controller", {{"type", "boolean"}, {"description", "If true, this reference points to the managing controller."}}},
                  {"blockOwnerDeletion", {{"type", "boolean"}, {"description", "If true, the owner cannot be deleted from the key-value store until this reference is removed."}}}}},
                {"x-kubernetes-map-type", "atomic"}};
  return {{"type", "object"},
          {"description", "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create."},
          {"properties",
           {{"name", str("Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Cannot be updated.")},
            {"generateName", str("GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.")},
            {"namespace", str("Namespace defines the space within which each name must be unique. Cluster-scoped resources have none. Cannot be updated.")},
            {"uid", str("UID is the unique in time and space value for this object. Populated by the system. Read-only.")},
            {"resourceVersion", str("An opaque value that represents the internal version of this object that can be used by clients to determine when objects have changed. Populated by the system. Read-only.")},
            {"generation", {{"type", "integer"}, {"format", "int64"}, {"description", "A sequence number representing a specific generation of the desired state. Populated by the system. Read-only."}}},
            {"creationTimestamp", {{"type", "string"}, {"format", "date-time"}, {"description", "CreationTimestamp is a timestamp representing the server time when this object was created. Populated by the system. Read-only."}}},
            {"deletionTimestamp", {{"type", "string"}, {"format", "date-time"}, {"description", "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. Populated by the system when a graceful deletion is requested. Read-only."}}},
            {"deletionGracePeriodSeconds", {{"type", "integer"}, {"format", "int64"}, {"description", "Number of seconds allowed for this object to gracefully terminate before it will be removed from the system. Only set when deletionTimestamp is also set."}}},
            {"labels", strmap("Map of string keys and values that can be used to organize and categorize (scope and select) objects.")},
            {"annotations", strmap("Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata. kcp's kcp.io/cluster names the object's logical cluster.")},
            {"ownerReferences", {{"type", "array"}, {"items", owner}, {"description", "List of objects depended by this object."}, {"x-kubernetes-list-type", "map"}, {"x-kubernetes-list-map-keys", {"uid"}}}},
            {"finalizers", {{"type", "array"}, {"items", {{"type", "string"}, {"default", ""}}}, {"description", "Must be empty before the object is deleted from the registry. Each entry is an identifier for the responsible component that will remove the entry from the list."}, {"x-kubernetes-list-type", "set"}}},
            {"managedFields", {{"type", "array"}, {"items", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}, {"description", "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow. pmesh lists the rules that manage the object."}}}}}};
}

Json schema_for(const dsl::KindDecl* k) {
  // The declared schema (or, for a bound kind, its APIResourceSchema's),
  // with the fields every object has, as kube publishes a CRD's.
  Json out;
  if (k->schema) {
    out = *k->schema;
    if (!out.contains("type")) out["type"] = "object";
  } else {
    Json props = Json::object();
    for (const auto& s : k->sections) props[s] = {{"x-kubernetes-preserve-unknown-fields", true}};
    out = {{"type", "object"},
           {"description", k->name + " (" + k->api_version() + "), declared in the pmesh rules without a schema."},
           {"properties", props},
           {"x-kubernetes-preserve-unknown-fields", true}};
  }
  Json& props = out["properties"];
  if (!props.is_object()) props = Json::object();
  props["apiVersion"] = {{"type", "string"},
                         {"description", "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}};
  props["kind"] = {{"type", "string"},
                   {"description", "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}};
  props["metadata"] = {{"allOf", Json::array({{{"$ref", std::string("#/components/schemas/") + kObjectMeta}}})},
                       {"default", Json::object()},
                       {"description", "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}};
  out["x-kubernetes-group-version-kind"] = Json::array({{{"group", k->group}, {"version", k->version}, {"kind", k->name}}});
  return out;
}

}  // namespace

Json api_versions(const std::string& server_address) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs", Json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}})}};
}

Json api_group(const std::vector<const dsl::KindDecl*>& kinds, const std::string& group) {
  std::set<std::string, decltype(&kube_version_before)> versions(&kube_version_before);
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
  schemas[kObjectMeta] = object_meta_schema();
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "pmesh"}, {"version", "v1"}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

}  // namespace pmesh::server
