#include "server/registry/object_meta.h"

#include "engine/json_path.h"

#include <algorithm>
#include <cctype>

#include "stdlib/kube_validation.h"

namespace pmesh::server {

using engine::string_field;

namespace {

// null is always fine: Go leaves the field unset.
std::optional<ApiError> want_nullable_string(const Json& md, const char* key, const std::string& field) {
  if (!md.contains(key) || md[key].is_null() || md[key].is_string()) return std::nullopt;
  return ApiError::type_mismatch(md[key], field, "string");
}

std::optional<ApiError> want_int(const Json& md, const char* key, const std::string& field) {
  if (!md.contains(key) || md[key].is_null() || md[key].is_number_integer()) return std::nullopt;
  return ApiError::type_mismatch(md[key], field, "int64");
}

}  // namespace

std::optional<ApiError> want_string_map(const Json& o, const char* key, const std::string& field, const std::string& value_type) {
  if (!o.contains(key) || o[key].is_null()) return std::nullopt;
  const Json& m = o[key];
  if (!m.is_object()) return ApiError::type_mismatch(m, field, "map[string]" + value_type);
  for (const auto& [k, v] : m.items())
    if (!v.is_string() && !v.is_null()) return ApiError::type_mismatch(v, field, value_type);
  return std::nullopt;
}

std::optional<ApiError> check_object_types(const Json& object) {
  if (!object.is_object())
    return ApiError::bad_request("couldn't get version/kind; json parse error: the body is " + std::string(object.type_name()) +
                                 ", not an object");
  for (const char* k : {"apiVersion", "kind"})
    if (object.contains(k) && !object[k].is_null() && !object[k].is_string()) return ApiError::type_mismatch(object[k], std::string("TypeMeta.") + k, "string");
  if (!object.contains("metadata") || object["metadata"].is_null()) return std::nullopt;
  const Json& md = object["metadata"];
  if (!md.is_object()) return ApiError::type_mismatch(md, "ObjectMeta.metadata", "v1.ObjectMeta");
  for (const char* k : {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "creationTimestamp",
                        "deletionTimestamp"})
    if (auto e = want_nullable_string(md, k, std::string("ObjectMeta.metadata.") + k)) return e;
  for (const char* k : {"generation", "deletionGracePeriodSeconds"})
    if (auto e = want_int(md, k, std::string("ObjectMeta.metadata.") + k)) return e;
  for (const char* k : {"labels", "annotations"})
    if (auto e = want_string_map(md, k, std::string("ObjectMeta.metadata.") + k)) return e;
  if (md.contains("finalizers") && !md["finalizers"].is_null()) {
    const Json& f = md["finalizers"];
    if (!f.is_array()) return ApiError::type_mismatch(f, "ObjectMeta.metadata.finalizers", "[]string");
    for (const auto& x : f)
      if (!x.is_string()) return ApiError::type_mismatch(x, "ObjectMeta.metadata.finalizers", "string");
  }
  if (md.contains("ownerReferences") && !md["ownerReferences"].is_null()) {
    const Json& refs = md["ownerReferences"];
    if (!refs.is_array()) return ApiError::type_mismatch(refs, "ObjectMeta.metadata.ownerReferences", "[]v1.OwnerReference");
    for (const auto& r : refs) {
      if (!r.is_object()) return ApiError::type_mismatch(r, "ObjectMeta.metadata.ownerReferences", "v1.OwnerReference");
      for (const char* k : {"apiVersion", "kind", "name", "uid"})
        if (auto e = want_nullable_string(r, k, std::string("OwnerReference.metadata.ownerReferences.") + k)) return e;
      for (const char* k : {"controller", "blockOwnerDeletion"})
        if (r.contains(k) && !r[k].is_null() && !r[k].is_boolean())
          return ApiError::type_mismatch(r[k], std::string("OwnerReference.metadata.ownerReferences.") + k, "bool");
    }
  }
  if (md.contains("managedFields") && !md["managedFields"].is_null() && !md["managedFields"].is_array())
    return ApiError::type_mismatch(md["managedFields"], "ObjectMeta.metadata.managedFields", "[]v1.ManagedFieldsEntry");
  return std::nullopt;
}

FieldErrors validate_object_meta(const Json& md, bool namespaced, NameValidation names) {
  FieldErrors errs;
  std::string generate = string_field(md, "generateName"), name = string_field(md, "name"), ns = string_field(md, "namespace");
  if (!generate.empty())
    for (const auto& p : object_name_problems(generate, names, true))
      errs.push_back(FieldError::invalid("metadata.generateName", generate, p));
  if (name.empty()) {
    errs.push_back(FieldError::required("metadata.name", "name or generateName is required"));
  } else {
    for (const auto& p : object_name_problems(name, names, false))
      errs.push_back(FieldError::invalid("metadata.name", name, p));
  }
  if (namespaced) {
    if (ns.empty()) errs.push_back(FieldError::required("metadata.namespace"));
    else
      for (const auto& p : dns1123_label_problems(ns)) errs.push_back(FieldError::invalid("metadata.namespace", ns, p));
  } else if (!ns.empty()) {
    errs.push_back(FieldError::forbidden("metadata.namespace", "not allowed on this type"));
  }
  if (md.contains("generation") && md["generation"].is_number_integer() && md["generation"].get<int64_t>() < 0)
    errs.push_back(FieldError::invalid("metadata.generation", md["generation"], "must be greater than or equal to 0"));
  if (md.contains("labels") && md["labels"].is_object())
    for (const auto& [k, v] : md["labels"].items()) {
      for (const auto& p : qualified_name_problems(k)) errs.push_back(FieldError::invalid("metadata.labels", k, p));
      std::string value = v.is_string() ? v.get<std::string>() : "";
      for (const auto& p : label_value_problems(value)) errs.push_back(FieldError::invalid("metadata.labels", value, p));
    }
  if (md.contains("annotations") && md["annotations"].is_object()) {
    size_t total = 0;
    for (const auto& [k, v] : md["annotations"].items()) {
      // Qualified names, except that case does not matter.
      std::string lower = k;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      for (const auto& p : qualified_name_problems(lower)) errs.push_back(FieldError::invalid("metadata.annotations", k, p));
      total += k.size() + (v.is_string() ? v.get_ref<const std::string&>().size() : 0);
    }
    if (total > kMaxAnnotationBytes) errs.push_back(FieldError::too_long("metadata.annotations", kMaxAnnotationBytes));
  }
  if (md.contains("ownerReferences") && md["ownerReferences"].is_array()) {
    std::string first_controller;
    for (const auto& r : md["ownerReferences"]) {
      std::string api = string_field(r, "apiVersion"), kind = string_field(r, "kind");
      std::string version = api.substr(api.find('/') == std::string::npos ? 0 : api.find('/') + 1);
      if (version.empty()) errs.push_back(FieldError::invalid("metadata.ownerReferences.apiVersion", api, "version must not be empty"));
      if (kind.empty()) errs.push_back(FieldError::invalid("metadata.ownerReferences.kind", kind, "kind must not be empty"));
      if (string_field(r, "name").empty()) errs.push_back(FieldError::invalid("metadata.ownerReferences.name", "", "name must not be empty"));
      if (string_field(r, "uid").empty()) errs.push_back(FieldError::invalid("metadata.ownerReferences.uid", "", "uid must not be empty"));
      if (engine::true_field(r, "controller")) {
        std::string current = kind + "/" + string_field(r, "name");
        if (!first_controller.empty())
          errs.push_back(FieldError::invalid("metadata.ownerReferences", md["ownerReferences"],
                                             "Only one reference can have Controller set to true. Found \"true\" in references for " +
                                                 first_controller + " and " + current));
        else
          first_controller = current;
      }
    }
  }
  if (md.contains("finalizers") && md["finalizers"].is_array())
    for (const auto& f : md["finalizers"])
      if (f.is_string())
        for (const auto& p : qualified_name_problems(f.get<std::string>()))
          errs.push_back(FieldError::invalid("metadata.finalizers", f, p));
  return errs;
}

FieldErrors validate_object_meta_update(const Json& new_md, const Json& old_md) {
  FieldErrors errs;
  for (const char* k : {"name", "namespace", "uid"}) {
    std::string now = string_field(new_md, k), was = string_field(old_md, k);
    if (now != was) errs.push_back(FieldError::invalid(std::string("metadata.") + k, now, "field is immutable"));
  }
  // Finalizers cannot be added to an object that is being deleted.
  if (!string_field(old_md, "deletionTimestamp").empty() && new_md.contains("finalizers") && new_md["finalizers"].is_array()) {
    const Json empty = Json::array();
    const Json& old_f = old_md.contains("finalizers") && old_md["finalizers"].is_array() ? old_md["finalizers"] : empty;
    for (const auto& f : new_md["finalizers"])
      if (std::find(old_f.begin(), old_f.end(), f) == old_f.end())
        errs.push_back(FieldError::forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted, found new finalizers []string{" +
                                                                        f.dump() + "}"));
  }
  return errs;
}

}  // namespace pmesh::server
