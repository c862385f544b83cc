#include "server/auth/access_review.h"

#include "engine/json_path.h"
#include "server/api/body.h"
#include "server/api/status.h"

namespace pmesh::server {

bool is_self_subject_access_review(const HttpRequest& http, const RequestInfo& info) {
  return info.kind == RequestInfo::Kind::kObject && info.group == "authorization.k8s.io" &&
         info.resource == "selfsubjectaccessreviews" && info.name.empty() && http.method == "POST";
}

HttpResponse self_subject_access_review(const Authorizer& authz, const UserInfo& who, const RequestInfo& info,
                                        const HttpRequest& http) {
  ApiError error;
  BodyFormat format = body_format(http.content_type);
  if (format == BodyFormat::kUnsupported) format = BodyFormat::kJson;
  auto body = decode_body(http.body, format, &error);
  if (!body) return status_response(error);
  if (!body->is_object()) return status_response(ApiError::bad_request("the body must be a SelfSubjectAccessReview"));
  Json spec = body->value("spec", Json::object());
  Json attrs = spec.is_object() ? spec.value("resourceAttributes", Json()) : Json();
  bool allowed = true;
  std::string reason;
  if (attrs.is_object()) {
    auto text = [&](const char* k) { return engine::string_field(attrs, k); };
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
              {"kind", "SelfSubjectAccessReview"},
              {"metadata", {{"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", {{"allowed", allowed}}}};
  if (!reason.empty()) out["status"]["reason"] = reason;
  return json_response(201, out);
}

}  // namespace pmesh::server
