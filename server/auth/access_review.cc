#include "server/auth/access_review.h"

#include "engine/cluster_names.h"
#include "engine/json_path.h"
#include "server/api/body.h"
#include "server/api/status.h"
#include "server/auth/service_account_tokens.h"

#include <map>
#include <set>
#include <tuple>

namespace pmesh::server {

namespace {

using engine::string_field;

bool is_review(const HttpRequest& http, const RequestInfo& info, const char* resource) {
  return info.kind == RequestInfo::Kind::kObject && info.group == "authorization.k8s.io" && info.resource == resource &&
         info.name.empty() && http.method == "POST";
}

// The review's body; nullopt with the error response for one that is not a review.
std::optional<Json> review_body(const HttpRequest& http, const char* kind, HttpResponse* error) {
  ApiError e;
  BodyFormat format = body_format(http.content_type);
  if (format == BodyFormat::kUnsupported) format = BodyFormat::kJson;
  auto body = decode_body(http.body, format, &e);
  if (!body) return *error = status_response(e), std::nullopt;
  if (!body->is_object()) return *error = status_response(ApiError::bad_request(std::string("the body must be a ") + kind)), std::nullopt;
  return body;
}

// `spec.resourceAttributes` asked of `who` in the request's workspace; a
// review without them (non-resource attributes) is allowed, as the paths
// pmesh serves to everyone are.
HttpResponse answer(const Authorizer& authz, const UserInfo& who, const RequestInfo& info, const Json& body, const char* kind) {
  Json spec = body.value("spec", Json::object());
  Json attrs = spec.is_object() ? spec.value("resourceAttributes", Json()) : Json();
  bool allowed = true;
  std::string reason;
  if (attrs.is_object()) {
    auto text = [&](const char* k) { return string_field(attrs, k); };
    RequestInfo asked;
    asked.kind = RequestInfo::Kind::kObject;
    asked.cluster = info.cluster;
    asked.group = text("group");
    asked.version = text("version");
    asked.resource = text("resource");
    asked.subresource = text("subresource");
    asked.name = text("name");
    asked.ns = text("namespace");
    std::string verb = text("verb").empty() ? "get" : text("verb");
    Decision d = authz.decide(who, verb, asked);
    allowed = d.allowed;
    reason = allowed ? "allowed by the relations of policies/authz.rules" : d.message;
  }
  Json out = {{"apiVersion", "authorization.k8s.io/v1"},
              {"kind", kind},
              {"metadata", {{"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", {{"allowed", allowed}}}};
  if (!reason.empty()) out["status"]["reason"] = reason;
  return json_response(201, out);
}

}  // namespace

bool is_self_subject_access_review(const HttpRequest& http, const RequestInfo& info) {
  return is_review(http, info, "selfsubjectaccessreviews");
}

bool is_self_subject_rules_review(const HttpRequest& http, const RequestInfo& info) {
  return is_review(http, info, "selfsubjectrulesreviews");
}

HttpResponse self_subject_rules_review(const Authorizer& authz, const UserInfo& who, const RequestInfo& info,
                                       const HttpRequest& http) {
  HttpResponse error;
  auto body = review_body(http, "SelfSubjectRulesReview", &error);
  if (!body) return error;
  Json spec = body->value("spec", Json::object());
  if (!spec.is_object()) spec = Json::object();
  std::string ns = string_field(spec, "namespace");
  // What everyone may (kube's system:basic-user and system:discovery).
  Json resource_rules = Json::array({
      {{"verbs", {"create"}}, {"apiGroups", {"authorization.k8s.io"}}, {"resources", {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}}},
      {{"verbs", {"create"}}, {"apiGroups", {"authentication.k8s.io"}}, {"resources", {"selfsubjectreviews"}}}});
  Json non_resource_rules = Json::array({{{"verbs", {"get"}},
                                          {"nonResourceURLs", {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                                               "/openapi/*", "/readyz", "/version", "/version/"}}}});
  if (who.privileged()) {
    resource_rules.push_back({{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}});
    non_resource_rules.push_back({{"verbs", {"*"}}, {"nonResourceURLs", {"*"}}});
  }
  // RBAC's grants here, one rule per (group, resource, name) with its verbs.
  std::map<std::tuple<std::string, std::string, std::string>, std::set<std::string>> grants;
  authz.rbac_grants_applying(who, info.cluster, ns, [&](const std::vector<std::string>& g) {
    grants[{g[4], g[5], g[6]}].insert(g[3]);
    return true;
  });
  for (const auto& [k, verbs] : grants) {
    auto [group, resource, name] = k;
    Json rule = {{"verbs", Json(verbs)}};
    if (resource.rfind("nonresource:", 0) == 0) {
      rule["nonResourceURLs"] = {resource.substr(12)};
      non_resource_rules.push_back(rule);
      continue;
    }
    rule["apiGroups"] = {group};
    rule["resources"] = {resource};
    if (name != "*") rule["resourceNames"] = {name};
    resource_rules.push_back(rule);
  }
  Json status = {{"resourceRules", resource_rules}, {"nonResourceRules", non_resource_rules}, {"incomplete", false}};
  if (!who.privileged()) {
    // The model's rights are relations, not rules: they are not listed.
    status["incomplete"] = true;
    status["evaluationError"] = "rights the authorization model grants (policies/authz.rules) are not listed";
  }
  return json_response(201, {{"apiVersion", "authorization.k8s.io/v1"},
                             {"kind", "SelfSubjectRulesReview"},
                             {"metadata", {{"creationTimestamp", nullptr}}},
                             {"spec", spec},
                             {"status", status}});
}

bool is_subject_access_review(const HttpRequest& http, const RequestInfo& info) {
  return is_review(http, info, "subjectaccessreviews") && info.ns.empty();
}

HttpResponse self_subject_access_review(const Authorizer& authz, const UserInfo& who, const RequestInfo& info,
                                        const HttpRequest& http) {
  HttpResponse error;
  auto body = review_body(http, "SelfSubjectAccessReview", &error);
  return body ? answer(authz, who, info, *body, "SelfSubjectAccessReview") : error;
}

HttpResponse subject_access_review(const Authorizer& authz, const RequestInfo& info, const HttpRequest& http) {
  HttpResponse error;
  auto body = review_body(http, "SubjectAccessReview", &error);
  if (!body) return error;
  const Json spec = body->value("spec", Json::object());
  if (!spec.is_object()) return status_response(ApiError::bad_request("spec must be an object"));
  UserInfo who{string_field(spec, "user"), string_field(spec, "uid"), {}, {}};
  if (who.name.empty() && !(spec.contains("groups") && spec["groups"].is_array() && !spec["groups"].empty()))
    return status_response(ApiError::invalid("authorization.k8s.io", "SubjectAccessReview", "",
                                             {FieldError::invalid("spec.user", "", "at least one of user or group must be specified")}));
  if (spec.contains("groups") && spec["groups"].is_array())
    for (const auto& g : spec["groups"])
      if (g.is_string()) who.groups.push_back(g.get<std::string>());
  if (spec.contains("extra") && spec["extra"].is_object())
    for (const auto& [k, v] : spec["extra"].items())
      if (v.is_array())
        for (const auto& x : v)
          if (x.is_string()) who.extra[k].push_back(x.get<std::string>());
  // kcp's components name the cluster by its logical cluster name; pmesh
  // keeps a path there (a name nobody has stays, and matches no workspace).
  if (auto it = who.extra.find(kClusterNameExtra); it != who.extra.end())
    for (auto& c : it->second)
      if (std::string path = engine::resolve_cluster(authz.engine().state(), c); !path.empty()) c = path;
  // A ServiceAccount named without its workspace is this workspace's (kcp:
  // "an unqualified service account is considered local").
  std::string ns, name;
  if (parse_service_account_username(who.name, &ns, &name) && !who.extra.count(kClusterNameExtra))
    who.extra[kClusterNameExtra] = {info.cluster};
  return answer(authz, who, info, *body, "SubjectAccessReview");
}

}  // namespace pmesh::server
