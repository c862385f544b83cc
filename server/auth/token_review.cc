#include "server/auth/token_review.h"

#include "engine/json_path.h"
#include "server/api/body.h"
#include "server/api/status.h"

namespace pmesh::server {

namespace {

bool is_review(const HttpRequest& http, const RequestInfo& info, const char* resource, bool betas) {
  bool version = info.version == "v1" || (betas && (info.version == "v1beta1" || info.version == "v1alpha1"));
  return info.kind == RequestInfo::Kind::kObject && info.group == "authentication.k8s.io" && version &&
         info.resource == resource && info.name.empty() && info.ns.empty() && info.subresource.empty() && http.method == "POST";
}

}  // namespace

bool is_token_review(const HttpRequest& http, const RequestInfo& info) { return is_review(http, info, "tokenreviews", false); }
// kubectl before 1.28 asks v1alpha1 or v1beta1 (the same review).
bool is_self_subject_review(const HttpRequest& http, const RequestInfo& info) {
  return is_review(http, info, "selfsubjectreviews", true);
}

Json user_info_json(const UserInfo& u, const ClusterNameOf& name_of) {
  Json out = {{"username", u.name}, {"groups", u.groups}};
  if (!u.uid.empty()) out["uid"] = u.uid;
  if (!u.extra.empty()) out["extra"] = u.extra;
  if (name_of && u.extra.count(kClusterNameExtra))
    for (auto& v : out["extra"][kClusterNameExtra]) v = name_of(v.get<std::string>());
  return out;
}

HttpResponse token_review(const Authenticator& authn, const HttpRequest& http, const std::function<void(const std::string&)>& log,
                          const ClusterNameOf& name_of) {
  ApiError error;
  BodyFormat format = body_format(http.content_type);
  if (format == BodyFormat::kProtobuf || format == BodyFormat::kUnsupported)
    return status_response(ApiError::unsupported_media_type(http.content_type, {"application/json", "application/yaml"}));
  auto body = decode_body(http.body, format, &error);
  if (!body) return status_response(error);
  if (!body->is_object() || (body->contains("kind") && (*body)["kind"] != "TokenReview"))
    return status_response(ApiError::bad_request("the body must be a TokenReview"));
  Json spec = body->value("spec", Json::object());
  if (!spec.is_object()) return status_response(ApiError::type_mismatch(spec, "TokenReview.spec", "v1.TokenReviewSpec"));
  std::string token = engine::string_field(spec, "token");
  std::vector<std::string> audiences, matched;
  if (spec.contains("audiences") && spec["audiences"].is_array())
    for (const auto& a : spec["audiences"])
      if (a.is_string()) audiences.push_back(a.get<std::string>());
  std::string why;
  auto user = token.empty() ? std::nullopt : authn.review(token, audiences, &matched, &why);
  if (token.empty()) why = "no token";
  Json status = {{"authenticated", user.has_value()}, {"user", Json::object()}};
  if (user) {
    status["user"] = user_info_json(*user, name_of);
    status["audiences"] = matched;
  } else {
    status["error"] = "[invalid bearer token, " + why + "]";
    if (log) log("token review: " + why);
  }
  Json out = {{"apiVersion", "authentication.k8s.io/v1"},
              {"kind", "TokenReview"},
              {"metadata", {{"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", status}};
  return json_response(201, out);
}

HttpResponse self_subject_review(const UserInfo& who, const RequestInfo& info, const ClusterNameOf& name_of) {
  return json_response(201, {{"apiVersion", "authentication.k8s.io/" + info.version},
                             {"kind", "SelfSubjectReview"},
                             {"metadata", {{"creationTimestamp", nullptr}}},
                             {"status", {{"userInfo", user_info_json(who, name_of)}}}});
}

}  // namespace pmesh::server
