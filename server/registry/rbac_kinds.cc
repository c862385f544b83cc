#include "server/registry/rbac_kinds.h"

#include <algorithm>

#include "engine/json_path.h"
#include "stdlib/kube_validation.h"

namespace pmesh::server {

namespace {

using engine::string_field;

constexpr size_t kMaxRoleRights = 10000;

bool has(const Json& o, const char* key) { return o.is_object() && o.contains(key) && !o[key].is_null(); }

// Go's decoder: a string list, a string, an object.
std::optional<ApiError> want_strings(const Json& o, const char* key, const std::string& field) {
  if (!has(o, key)) return std::nullopt;
  if (!o[key].is_array()) return ApiError::type_mismatch(o[key], field + "." + key, "[]string");
  for (const auto& x : o[key])
    if (!x.is_string()) return ApiError::type_mismatch(x, field + "." + key, "string");
  return std::nullopt;
}
std::optional<ApiError> want_string(const Json& o, const char* key, const std::string& field) {
  if (!has(o, key) || o[key].is_string()) return std::nullopt;
  return ApiError::type_mismatch(o[key], field + "." + key, "string");
}
std::optional<ApiError> want_object(const Json& o, const char* key, const std::string& field, const char* go_type) {
  if (!has(o, key) || o[key].is_object()) return std::nullopt;
  return ApiError::type_mismatch(o[key], field + "." + key, go_type);
}
std::optional<ApiError> want_objects(const Json& o, const char* key, const std::string& field, const char* go_type) {
  if (!has(o, key)) return std::nullopt;
  if (!o[key].is_array()) return ApiError::type_mismatch(o[key], field + "." + key, std::string("[]") + go_type);
  for (const auto& x : o[key])
    if (!x.is_object()) return ApiError::type_mismatch(x, field + "." + key, go_type);
  return std::nullopt;
}

size_t count(const Json& o, const char* key) { return has(o, key) && o[key].is_array() ? o[key].size() : 0; }

bool namespaced(const dsl::KindDecl& kind) { return kind.name == "Role" || kind.name == "RoleBinding"; }
bool binding(const dsl::KindDecl& kind) { return kind.name == "RoleBinding" || kind.name == "ClusterRoleBinding"; }

void validate_rule(const Json& rule, bool in_namespace, const std::string& path, FieldErrors& errs) {
  if (count(rule, "verbs") == 0) errs.push_back(FieldError::required(path + ".verbs", "verbs must contain at least one value"));
  if (count(rule, "nonResourceURLs") > 0) {
    if (in_namespace)
      errs.push_back(FieldError::invalid(path + ".nonResourceURLs", rule["nonResourceURLs"], "namespaced rules cannot apply to non-resource URLs"));
    if (count(rule, "apiGroups") > 0 || count(rule, "resources") > 0 || count(rule, "resourceNames") > 0)
      errs.push_back(FieldError::invalid(path + ".nonResourceURLs", rule["nonResourceURLs"],
                                         "rules cannot apply to both regular resources and non-resource URLs"));
    return;
  }
  if (count(rule, "apiGroups") == 0)
    errs.push_back(FieldError::required(path + ".apiGroups", "resource rules must supply at least one api group"));
  if (count(rule, "resources") == 0)
    errs.push_back(FieldError::required(path + ".resources", "resource rules must supply at least one resource"));
}

void validate_selector(const Json& sel, const std::string& path, FieldErrors& errs) {
  if (!has(sel, "matchExpressions")) return;
  for (size_t i = 0; i < sel["matchExpressions"].size(); ++i) {
    const Json& e = sel["matchExpressions"][i];
    std::string at = path + ".matchExpressions[" + std::to_string(i) + "]", op = string_field(e, "operator");
    size_t values = count(e, "values");
    if (op == "In" || op == "NotIn") {
      if (values == 0) errs.push_back(FieldError::required(at + ".values", "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (values > 0) errs.push_back(FieldError::forbidden(at + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else {
      errs.push_back(FieldError::invalid(at + ".operator", op, "not a valid selector operator"));
    }
    for (const auto& p : qualified_name_problems(string_field(e, "key")))
      errs.push_back(FieldError::invalid(at + ".key", string_field(e, "key"), p));
  }
}

void validate_subject(const Json& s, bool in_namespace, const std::string& path, FieldErrors& errs) {
  std::string kind = string_field(s, "kind"), name = string_field(s, "name"), group = string_field(s, "apiGroup");
  if (name.empty()) errs.push_back(FieldError::required(path + ".name"));
  if (kind == "ServiceAccount") {
    if (!name.empty())
      for (const auto& p : dns1123_subdomain_problems(name)) errs.push_back(FieldError::invalid(path + ".name", name, p));
    if (!group.empty()) errs.push_back(FieldError::not_supported(path + ".apiGroup", group, {""}));
    if (!in_namespace && string_field(s, "namespace").empty()) errs.push_back(FieldError::required(path + ".namespace"));
  } else if (kind == "User" || kind == "Group") {
    if (group != kRbacGroup) errs.push_back(FieldError::not_supported(path + ".apiGroup", group, {kRbacGroup}));
  } else {
    errs.push_back(FieldError::not_supported(path + ".kind", kind, {"ServiceAccount", "User", "Group"}));
  }
}

}  // namespace

bool rbac_kind(const dsl::KindDecl& kind) { return kind.group == kRbacGroup && !kind.runtime; }

std::optional<ApiError> decode_rbac(const dsl::KindDecl& kind, const Json& o) {
  const std::string& k = kind.name;
  if (binding(kind)) {
    if (auto e = want_object(o, "roleRef", k, "v1.RoleRef")) return e;
    if (has(o, "roleRef"))
      for (const char* f : {"apiGroup", "kind", "name"})
        if (auto e = want_string(o["roleRef"], f, k + ".roleRef")) return e;
    if (auto e = want_objects(o, "subjects", k, "v1.Subject")) return e;
    if (has(o, "subjects"))
      for (const auto& s : o["subjects"])
        for (const char* f : {"kind", "apiGroup", "name", "namespace"})
          if (auto e = want_string(s, f, k + ".subjects")) return e;
    return std::nullopt;
  }
  if (auto e = want_objects(o, "rules", k, "v1.PolicyRule")) return e;
  if (has(o, "rules"))
    for (const auto& r : o["rules"])
      for (const char* f : {"verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"})
        if (auto e = want_strings(r, f, k + ".rules")) return e;
  if (k == "ClusterRole") {
    if (auto e = want_object(o, "aggregationRule", k, "v1.AggregationRule")) return e;
    if (has(o, "aggregationRule")) {
      if (auto e = want_objects(o["aggregationRule"], "clusterRoleSelectors", k + ".aggregationRule", "v1.LabelSelector")) return e;
      if (has(o["aggregationRule"], "clusterRoleSelectors"))
        for (const auto& sel : o["aggregationRule"]["clusterRoleSelectors"]) {
          if (auto e = want_object(sel, "matchLabels", k + ".aggregationRule.clusterRoleSelectors", "map[string]string")) return e;
          if (auto e = want_objects(sel, "matchExpressions", k + ".aggregationRule.clusterRoleSelectors", "v1.LabelSelectorRequirement")) return e;
        }
    }
  }
  return std::nullopt;
}

void default_rbac(const dsl::KindDecl& kind, Json& o) {
  if (!binding(kind) || !o.is_object()) return;
  // kube's SetDefaults_RoleBinding and SetDefaults_Subject.
  if (o.contains("roleRef") && o["roleRef"].is_object() && string_field(o["roleRef"], "apiGroup").empty())
    o["roleRef"]["apiGroup"] = kRbacGroup;
  if (o.contains("subjects") && o["subjects"].is_array())
    for (auto& s : o["subjects"]) {
      if (!s.is_object() || !string_field(s, "apiGroup").empty()) continue;
      std::string sk = string_field(s, "kind");
      if (sk == "User" || sk == "Group") s["apiGroup"] = kRbacGroup;
      else if (sk == "ServiceAccount") s["apiGroup"] = "";
    }
}

FieldErrors validate_rbac(const dsl::KindDecl& kind, const Json& o, const Json& old) {
  FieldErrors errs;
  bool in_ns = namespaced(kind);
  if (binding(kind)) {
    const Json ref = has(o, "roleRef") ? o["roleRef"] : Json::object();
    std::string group = string_field(ref, "apiGroup"), rk = string_field(ref, "kind"), name = string_field(ref, "name");
    if (group != kRbacGroup) errs.push_back(FieldError::not_supported("roleRef.apiGroup", group, {kRbacGroup}));
    if (kind.name == "RoleBinding" && rk != "Role" && rk != "ClusterRole")
      errs.push_back(FieldError::not_supported("roleRef.kind", rk, {"Role", "ClusterRole"}));
    if (kind.name == "ClusterRoleBinding" && rk != "ClusterRole")
      errs.push_back(FieldError::not_supported("roleRef.kind", rk, {"ClusterRole"}));
    if (name.empty()) errs.push_back(FieldError::required("roleRef.name"));
    else
      for (const auto& p : object_name_problems(name, NameValidation::kPathSegment, false))
        errs.push_back(FieldError::invalid("roleRef.name", name, p));
    for (size_t i = 0; i < count(o, "subjects"); ++i)
      validate_subject(o["subjects"][i], in_ns, "subjects[" + std::to_string(i) + "]", errs);
    if (!old.is_null() && (has(old, "roleRef") ? old["roleRef"] : Json::object()) != ref)
      errs.push_back(FieldError::invalid("roleRef", ref, "cannot change roleRef"));
    return errs;
  }
  for (size_t i = 0; i < count(o, "rules"); ++i) validate_rule(o["rules"][i], in_ns, "rules[" + std::to_string(i) + "]", errs);
  // Beyond kube: the rights a role expands to (verbs × apiGroups × resources
  // × resourceNames, per rule) are facts the engine keeps; a bound keeps a
  // small object from becoming a huge state.
  size_t rights = 0;
  for (size_t i = 0; i < count(o, "rules"); ++i) {
    const Json& r = o["rules"][i];
    rights += count(r, "verbs") * std::max<size_t>(1, count(r, "apiGroups")) *
              std::max<size_t>(1, count(r, "resources") + count(r, "nonResourceURLs")) * std::max<size_t>(1, count(r, "resourceNames"));
  }
  if (rights > kMaxRoleRights)
    errs.push_back(FieldError::invalid("rules", static_cast<int64_t>(rights),
                                       "must expand to at most " + std::to_string(kMaxRoleRights) +
                                           " rights (verbs × apiGroups × resources × resourceNames, summed over the rules)"));
  if (has(o, "aggregationRule") && has(o["aggregationRule"], "clusterRoleSelectors"))
    for (size_t i = 0; i < o["aggregationRule"]["clusterRoleSelectors"].size(); ++i)
      validate_selector(o["aggregationRule"]["clusterRoleSelectors"][i], "aggregationRule.clusterRoleSelectors[" + std::to_string(i) + "]", errs);
  return errs;
}

}  // namespace pmesh::server
