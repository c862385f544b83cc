#include "server/registry/strategy.h"

#include "engine/json_path.h"

#include <random>

#include "engine/failpoint.h"
#include "server/api/status.h"
#include "server/registry/builtin_kinds.h"
#include "server/registry/object_meta.h"
#include "engine/schema_validation.h"
#include "dsl/kind_schema.h"
#include "dsl/selectable_field.h"

namespace pmesh::server {

using engine::string_field;

namespace {

Json& metadata(Json& object) {
  if (!object.contains("metadata") || !object["metadata"].is_object()) object["metadata"] = Json::object();
  return object["metadata"];
}

// The type metadata must name the kind the URL names (either may be left out).
std::optional<ApiError> check_type_meta(const dsl::KindDecl& kind, Json& object) {
  std::string api = string_field(object, "apiVersion"), k = string_field(object, "kind");
  if (!api.empty() && api != kind.api_version())
    return ApiError::bad_request("the API version in the data (" + api + ") does not match the expected API version (" +
                                 kind.api_version() + ")");
  if (!k.empty() && k != kind.name)
    return ApiError::bad_request("the kind in the data (" + k + ") does not match the expected kind (" + kind.name + ")");
  object["apiVersion"] = kind.api_version();
  object["kind"] = kind.name;
  return std::nullopt;
}

// What only the server sets, and pmesh's own bookkeeping, never comes from a body.
void reset_system_fields(Json& md, const std::string& cluster) {
  for (const char* k : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                        "selfLink", "managedFields"})
    md.erase(k);
  md["cluster"] = cluster;
  if (md.contains("annotations") && md["annotations"].is_object()) {
    md["annotations"].erase("kcp.io/cluster");
    if (md["annotations"].empty()) md.erase("annotations");
  }
}

std::optional<ApiError> check_size(const Json& object) {
  if (encode_json(object).size() > kMaxObjectBytes)
    return ApiError::request_entity_too_large("limit is " + std::to_string(kMaxObjectBytes));
  return std::nullopt;
}

// NamespaceLifecycle: a namespaced object goes only into a namespace that
// exists and is not terminating.
std::optional<ApiError> check_namespace(const engine::Engine& engine, const ApiRequest& req, const std::string& ns,
                                        const std::string& name) {
  const Json* n = engine.get({"Namespace", req.info.cluster, "", ns});
  if (!n) return ApiError::not_found({"", "namespaces"}, ns);
  const Json* phase = engine::find_fields(*n, {"status", "phase"});
  if (engine::find_fields(*n, {"metadata", "deletionTimestamp"}) || (phase && *phase == "Terminating")) {
    ApiError e = ApiError::forbidden(req.gr(), name,
                                     "unable to create new content in namespace " + ns + " because it is being terminated");
    e.details["causes"] = Json::array({{{"reason", "NamespaceTerminating"},
                                        {"message", "namespace " + ns + " is being terminated"},
                                        {"field", "metadata.namespace"}}});
    return e;
  }
  return std::nullopt;
}

// What Go's decoder refuses or drops, for creates and updates alike: field
// types, type metadata that names another kind, fields the type (or the
// kind's schema) lacks — an error with fieldValidation=Strict (kubectl's
// default), a warning unless it is Ignore.
std::optional<ApiError> decode_typed(const ApiRequest& req, Json& object, std::vector<std::string>* warnings) {
  const dsl::KindDecl& kind = *req.kind;
  if (failpoint::hit("admission")) return ApiError::internal("failpoint: admission");
  if (auto e = check_object_types(object)) return e;
  if (auto e = check_type_meta(kind, object)) return e;
  std::vector<std::string> dropped;
  if (auto e = decode_builtin(kind, object, &dropped)) return e;
  // (A built-in kind's decoder above is what kube's is; its schema is published, not applied.)
  if (kind.schema && !builtin_kind(kind))
    for (auto& f : engine::prune_unknown_fields(*kind.schema, object)) dropped.push_back(std::move(f));
  const std::string& mode = req.write.field_validation;
  if (mode == "Strict" && !dropped.empty()) {
    std::string list;
    for (const auto& f : dropped) list += (list.empty() ? "" : ", ") + std::string("unknown field \"") + f + "\"";
    return ApiError::bad_request(kind.name + " in version \"" + kind.version + "\" cannot be handled as a " + kind.name +
                                 ": strict decoding error: " + list);
  }
  if (mode != "Ignore")
    for (const auto& f : dropped) warnings->push_back("unknown field \"" + f + "\"");
  return std::nullopt;
}

// The kind's schema on what the user wrote: its defaults, then its checks,
// on the sections this write may change (the status alone through /status;
// all but a status subresource's status otherwise: rules write status).
FieldErrors check_schema(const ApiRequest& req, Json& object) {
  const dsl::KindDecl& kind = *req.kind;
  FieldErrors errs;
  // An APIResourceSchema carries the schemas of the kinds it binds: one
  // with rules pmesh cannot evaluate is refused here, not skipped later.
  if (kind.group == "apis.kcp.io" && kind.name == "APIResourceSchema" && object.contains("spec") &&
      object["spec"].is_object() && object["spec"].contains("versions") && object["spec"]["versions"].is_array())
    for (size_t i = 0; i < object["spec"]["versions"].size(); ++i) {
      const Json* s = dsl::version_schema(object["spec"]["versions"][i]);
      if (!s) continue;
      if (auto cel = dsl::unsupported_schema_features(*s); !cel.empty())
        errs.push_back(FieldError::forbidden("spec.versions[" + std::to_string(i) + "].schema.openAPIV3Schema",
                                             "pmesh does not evaluate " + cel[0]));
    }
  // apiextensions' checks of each version's selectableFields (kcp validates
  // an APIResourceSchema's versions with the same code).
  bool crd_like = (kind.group == "apiextensions.k8s.io" && kind.name == "CustomResourceDefinition") ||
                  (kind.group == "apis.kcp.io" && kind.name == "APIResourceSchema");
  if (crd_like && object.contains("spec") && object["spec"].is_object() && object["spec"].contains("versions"))
    for (auto& e : dsl::selectable_fields_errors(object["spec"]["versions"], "spec.versions")) errs.push_back(std::move(e));
  // kube validates its built-in kinds with their own code (validate_builtin
  // here), not their published schemas: checking both would report twice.
  if (!kind.schema || builtin_kind(kind)) return errs;
  // A bound kind whose schema has rules pmesh cannot evaluate (an
  // APIResourceSchema derived by rules) takes no writes, rather than writes
  // its rules would refuse.
  if (!kind.schema_unsupported.empty())
    return {FieldError::forbidden("", "the kind's schema has " + kind.schema_unsupported[0] + ", which pmesh does not evaluate")};
  if (kind.schema_defaults) engine::apply_schema_defaults(*kind.schema_defaults, object);
  auto sections = !kind.status_subresource              ? engine::Sections::kAll
                  : req.info.subresource == "status" ? engine::Sections::kStatus
                                                      : engine::Sections::kAllButStatus;
  for (auto& e : engine::validate_against_schema(kind.schema, object, sections)) errs.push_back(std::move(e));
  return errs;
}

}  // namespace

std::string generate_name(const std::string& prefix) {
  static std::mt19937 rng(std::random_device{}());
  static const char* chars = "bcdfghjklmnpqrstvwxz2456789";
  std::string s = prefix.substr(0, 58);
  for (int i = 0; i < 5; ++i) s += chars[rng() % 27];
  return s;
}

std::optional<ApiError> prepare_create(const engine::Engine& engine, const ApiRequest& req, Json& object,
                                       std::vector<std::string>* warnings) {
  const dsl::KindDecl& kind = *req.kind;
  if (auto e = decode_typed(req, object, warnings)) return e;
  Json& md = metadata(object);
  bool namespaced = kind.scope == dsl::Scope::kNamespaced;
  if (namespaced) {
    std::string body_ns = string_field(md, "namespace");
    if (!body_ns.empty() && body_ns != req.info.ns)
      return ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request");
    md["namespace"] = req.info.ns;
    if (auto e = check_namespace(engine, req, req.info.ns, string_field(md, "name"))) return e;
  } else {
    md.erase("namespace");
  }
  reset_system_fields(md, req.info.cluster);
  if (kind.status_subresource) object.erase("status");
  default_builtin(kind, object);
  if (string_field(md, "name").empty() && !string_field(md, "generateName").empty()) md["name"] = generate_name(string_field(md, "generateName"));
  FieldErrors errs = validate_object_meta(md, namespaced, kind.names);
  for (auto& e : validate_builtin(kind, object, nullptr)) errs.push_back(std::move(e));
  for (auto& e : check_schema(req, object)) errs.push_back(std::move(e));
  if (!errs.empty()) return ApiError::invalid(kind.group, kind.name, string_field(md, "name"), errs);
  if (!string_field(md, "resourceVersion").empty())
    return ApiError::unknown(500, "resourceVersion should not be set on objects to be created");
  return check_size(object);
}

std::optional<ApiError> check_url_name(const Json& md, const std::string& name) {
  if (string_field(md, "name").empty())
    return ApiError::bad_request("the name of the object (" + name + " based on URL) was undeterminable: name must be provided");
  if (string_field(md, "name") != name)
    return ApiError::bad_request("the name of the object (" + string_field(md, "name") + ") does not match the name on the URL (" + name + ")");
  return std::nullopt;
}

std::optional<ApiError> prepare_update(const ApiRequest& req, Json& object, const Json& current, bool rv_required,
                                       std::vector<std::string>* warnings) {
  const dsl::KindDecl& kind = *req.kind;
  const std::string& name = req.info.name;
  if (auto e = decode_typed(req, object, warnings)) return e;
  Json& md = metadata(object);
  if (auto e = check_url_name(md, name)) return e;
  std::string body_ns = string_field(md, "namespace");
  if (kind.scope == dsl::Scope::kNamespaced) {
    if (!body_ns.empty() && body_ns != req.info.ns)
      return ApiError::bad_request("the namespace of the object (" + body_ns + ") does not match the namespace on the request (" +
                                   req.info.ns + ")");
    md["namespace"] = req.info.ns;
  } else {
    md.erase("namespace");
  }
  const Json& cur_md = current["metadata"];
  std::string rv = string_field(md, "resourceVersion");
  if (rv.empty() && rv_required)
    return ApiError::invalid(kind.group, kind.name, name,
                             {FieldError::invalid_shown("metadata.resourceVersion", "0x0", "must be specified for an update")});
  if (!rv.empty() && !parse_resource_version(rv))
    return ApiError::bad_request("metadata.resourceVersion: Invalid value: \"" + rv + "\": strconv.ParseUint: parsing \"" + rv +
                                 "\": invalid syntax");
  if (!rv.empty() && rv != string_field(cur_md, "resourceVersion"))
    return ApiError::stale(req.gr(), name);
  // What the body may not change: a uid it names must be the object's.
  FieldErrors errs;
  if (!string_field(md, "uid").empty() && string_field(md, "uid") != string_field(cur_md, "uid"))
    errs.push_back(FieldError::invalid("metadata.uid", string_field(md, "uid"), "field is immutable"));
  if (!errs.empty()) return ApiError::invalid(kind.group, kind.name, name, errs);
  Json next;
  if (kind.status_subresource && req.info.subresource == "status") {
    // Through /status only the status changes.
    next = current;
    if (object.contains("status")) next["status"] = object["status"];
    else next.erase("status");
  } else {
    next = std::move(object);
    if (kind.status_subresource) {
      if (current.contains("status")) next["status"] = current["status"];
      else next.erase("status");
    }
  }
  Json& next_md = metadata(next);
  reset_system_fields(next_md, req.info.cluster);
  next_md["name"] = name;
  if (!req.info.ns.empty()) next_md["namespace"] = req.info.ns;
  next_md["uid"] = cur_md.value("uid", Json());
  next_md["resourceVersion"] = cur_md.value("resourceVersion", Json());
  default_every_write(kind, next);
  errs = validate_object_meta_update(next_md, cur_md);
  for (auto& e : validate_object_meta(next_md, kind.scope == dsl::Scope::kNamespaced, kind.names)) errs.push_back(std::move(e));
  for (auto& e : validate_builtin(kind, next, current)) errs.push_back(std::move(e));
  for (auto& e : check_schema(req, next)) errs.push_back(std::move(e));
  if (!errs.empty()) return ApiError::invalid(kind.group, kind.name, name, errs);
  next_md.erase("uid");
  next_md.erase("resourceVersion");
  object = std::move(next);
  return check_size(object);
}

}  // namespace pmesh::server
