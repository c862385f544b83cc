#include "server/auth/token_request.h"

#include "engine/cluster_names.h"
#include "engine/json_path.h"
#include "server/api/body.h"
#include "server/api/status.h"
#include "stdlib/text.h"

namespace pmesh::server {

using engine::string_field;

namespace {

constexpr int64_t kDefaultSeconds = 3600, kMinSeconds = 600, kMaxSeconds = int64_t{1} << 32;
const GroupResource kServiceAccounts{"", "serviceaccounts"};

std::string uid_of(const engine::Engine& e, const std::string& kind, const RequestInfo& info, const std::string& name) {
  const Json* o = e.get({kind, info.cluster, info.ns, name});
  return o ? string_field((*o)["metadata"], "uid") : "";
}

}  // namespace

bool is_token_request(const RequestInfo& info) {
  return info.kind == RequestInfo::Kind::kObject && info.group.empty() && info.resource == "serviceaccounts" &&
         info.subresource == "token" && !info.name.empty() && !info.ns.empty();
}

HttpResponse token_request(const ServiceAccountTokens& tokens, const engine::Engine& engine, const RequestInfo& info,
                           const HttpRequest& http, std::time_t now) {
  ApiError error;
  auto body = decode_body(http.body, body_format(http.content_type), &error);
  if (!body) return status_response(error);
  if (!body->is_object()) return status_response(ApiError::bad_request("the body must be a TokenRequest"));
  std::string kind = string_field(*body, "kind");
  if (!kind.empty() && kind != "TokenRequest") return status_response(ApiError::bad_request("the body must be a TokenRequest, not a " + kind));
  std::string sa_uid = uid_of(engine, "ServiceAccount", info, info.name);
  if (sa_uid.empty()) return status_response(ApiError::not_found(kServiceAccounts, info.name));

  Json spec = body->value("spec", Json::object());
  if (!spec.is_object()) spec = Json::object();
  const Json& seconds = spec.value("expirationSeconds", Json());
  int64_t expiration = kDefaultSeconds;
  if (seconds.is_number_integer()) expiration = seconds.get<int64_t>();
  else if (!seconds.is_null()) return status_response(ApiError::type_mismatch(seconds, "TokenRequest.spec.expirationSeconds", "int64"));
  FieldErrors invalid;
  if (expiration < kMinSeconds)
    invalid.push_back(FieldError::invalid("spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes"));
  if (expiration > kMaxSeconds)
    invalid.push_back(FieldError::invalid("spec.expirationSeconds", expiration, "may not specify a duration larger than 2^32 seconds"));
  if (!invalid.empty()) return status_response(ApiError::invalid("authentication.k8s.io", "TokenRequest", "", invalid));

  ServiceAccountClaims claims;
  // kcp's claim names the logical cluster (a path where it has no name).
  claims.cluster = engine::cluster_name(engine.state(), info.cluster);
  if (claims.cluster.empty()) claims.cluster = info.cluster;
  claims.ns = info.ns;
  claims.service_account = {info.name, sa_uid};
  if (spec.contains("audiences") && spec["audiences"].is_array())
    for (const auto& a : spec["audiences"])
      if (a.is_string() && !a.get<std::string>().empty()) claims.audiences.push_back(a.get<std::string>());
  if (claims.audiences.empty()) claims.audiences = tokens.api_audiences();
  spec["audiences"] = claims.audiences;
  spec["expirationSeconds"] = expiration;

  const Json& ref = spec.value("boundObjectRef", Json());
  if (ref.is_object()) {
    std::string ref_kind = string_field(ref, "kind"), version = string_field(ref, "apiVersion"), name = string_field(ref, "name");
    if (version != "v1" || (ref_kind != "Secret" && ref_kind != "Pod" && ref_kind != "Node"))
      return status_response(ApiError::bad_request("cannot bind token for serviceaccount \"" + info.name + "\" to object of type " +
                                                   (version.empty() ? "" : version + ", ") + "Kind=" + ref_kind));
    // Pods and Nodes are not served here: none exists to bind to.
    if (ref_kind != "Secret") return status_response(ApiError::not_found({"", ref_kind == "Pod" ? "pods" : "nodes"}, name));
    std::string uid = uid_of(engine, "Secret", info, name);
    if (uid.empty()) return status_response(ApiError::not_found({"", "secrets"}, name));
    std::string asked = string_field(ref, "uid");
    if (!asked.empty() && asked != uid)
      return status_response(ApiError::conflict({"", "Secret"}, name,
                                                "the UID in the bound object reference (" + asked +
                                                    ") does not match the UID in record. The object might have been deleted and then recreated"));
    claims.secret = TokenObject{name, uid};
    spec["boundObjectRef"]["uid"] = uid;
  }
  claims.expires = static_cast<int64_t>(now) + expiration;
  Json out = {{"apiVersion", "authentication.k8s.io/v1"},
              {"kind", "TokenRequest"},
              {"metadata", {{"name", info.name}, {"namespace", info.ns}, {"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", {{"token", tokens.issue(claims, now)}, {"expirationTimestamp", rfc3339_utc(static_cast<std::time_t>(claims.expires))}}}};
  return json_response(201, out);
}

}  // namespace pmesh::server
