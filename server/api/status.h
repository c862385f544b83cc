// The server's one error type and its one encoder.
//
// Every failure the KRM API answers is an ApiError: a metav1.Status with
// the code, reason, message and details kube-apiserver gives for the same
// case. The constructors mirror k8s.io/apimachinery/pkg/api/errors (NewNotFound,
// NewInvalid, ...) so that messages read as kube's do; field errors mirror
// k8s.io/apimachinery/pkg/util/validation/field. `status_response` is the only
// place a Status body is written.
//
// Thread safety: values; pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "server/http/http_server.h"
#include "stdlib/field_error.h"

namespace pmesh::server {

using Json = nlohmann::json;

// A group and resource ("configmaps", "accounts.core.platform-mesh.io").
struct GroupResource {
  std::string group, resource;
  std::string to_string() const { return group.empty() ? resource : resource + "." + group; }
};

// Field errors are apimachinery's (stdlib/field_error.h).
using pmesh::FieldError;
using pmesh::FieldErrors;

struct ApiError {
  int code = 500;
  std::string reason;  // "" is kube's StatusReasonUnknown
  std::string message;
  Json details;  // null, or {name, group, kind, causes, retryAfterSeconds}
  std::string continue_token = {};  // the Status's metadata.continue: a 410 for a page kube can go on from

  static ApiError bad_request(std::string message);
  static ApiError not_found(const GroupResource& gr, const std::string& name);
  static ApiError already_exists(const GroupResource& gr, const std::string& name);
  static ApiError conflict(const GroupResource& gr, const std::string& name, const std::string& why);
  // 409 for an update whose resourceVersion is not the object's.
  static ApiError stale(const GroupResource& gr, const std::string& name);
  // 422 "<Kind> \"name\" is invalid: ..."; `kind` is the Kind, `group` its group.
  static ApiError invalid(const std::string& group, const std::string& kind, const std::string& name,
                          const FieldErrors& errors);
  static ApiError forbidden(const GroupResource& gr, const std::string& name, const std::string& why);
  static ApiError method_not_supported(const GroupResource& gr, const std::string& action);
  // The 405 of a verb the server does not serve on a resource or collection.
  static ApiError method_not_allowed();
  // A path nothing serves: what Go's mux answers, as kube-apiserver words it.
  static ApiError not_found_route();
  // kcp's 404 for a workspace that does not exist (or may not be seen).
  static ApiError cluster_not_found(const std::string& cluster);
  static ApiError unsupported_media_type(const std::string& type, const std::vector<std::string>& accepted);
  static ApiError not_acceptable(const std::vector<std::string>& accepted);
  static ApiError request_entity_too_large(const std::string& message);
  static ApiError internal(const std::string& why);
  static ApiError expired(const std::string& message);
  static ApiError unauthorized();
  static ApiError service_unavailable(const std::string& message);
  // A failure without a metav1 error constructor: the plain error kube
  // turns into a Status with the given code and no reason.
  static ApiError unknown(int code, std::string message);
  // The 400 Go's JSON decoder gives for a value of the wrong type: "json:
  // cannot unmarshal number into Go struct field ObjectMeta.metadata.name of
  // type string".
  static ApiError type_mismatch(const Json& value, const std::string& field, const std::string& go_type);
};

// What Go's JSON decoder calls the type of `value` in its errors ("json:
// cannot unmarshal <this> into ..."): string, number, bool, array, object.
const char* go_json_type(const Json& value);

// The Status body of `e` (the only encoder of errors).
Json status_json(const ApiError& e);
HttpResponse status_response(const ApiError& e);
// A metav1.Status of success (deletes that leave nothing to show).
HttpResponse success_status(const Json& details);
// JSON text of `v`, never throwing: what is not UTF-8 (messages quote what
// clients sent) is replaced. Every answer body is encoded here.
std::string encode_json(const Json& v);
HttpResponse json_response(int code, const Json& body);

}  // namespace pmesh::server
