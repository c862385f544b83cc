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

namespace pmesh::server {

using Json = nlohmann::json;

// A group and resource ("configmaps", "accounts.core.platform-mesh.io").
struct GroupResource {
  std::string group, resource;
  std::string to_string() const { return group.empty() ? resource : resource + "." + group; }
};

// One invalid field, as field.Error: its path, what is wrong, the value.
struct FieldError {
  enum class Type { kInvalid, kRequired, kForbidden, kTooLong, kTooMany, kNotSupported, kDuplicate, kTypeInvalid };
  Type type = Type::kInvalid;
  std::string field;  // "metadata.labels", "spec.type"
  Json value;         // the bad value (Invalid, NotSupported, Duplicate, TypeInvalid)
  std::string detail;
  std::string shown;  // the value as Go prints it, when not as JSON would ("0x0")

  static FieldError invalid(std::string field, Json value, std::string detail);
  static FieldError invalid_shown(std::string field, std::string shown, std::string detail);
  static FieldError required(std::string field, std::string detail = "");
  static FieldError forbidden(std::string field, std::string detail);
  static FieldError too_long(std::string field, size_t max);
  static FieldError not_supported(std::string field, Json value, const std::vector<std::string>& supported);
  static FieldError type_invalid(std::string field, Json value, std::string detail);

  // "Invalid value: \"x\": detail", as field.Error.ErrorBody.
  std::string body() const;
  // "metadata.name: Invalid value: ...".
  std::string message() const { return field + ": " + body(); }
  // The cause's reason: FieldValueInvalid, FieldValueRequired, ...
  std::string reason() const;
};
using FieldErrors = std::vector<FieldError>;

struct ApiError {
  int code = 500;
  std::string reason;  // "" is kube's StatusReasonUnknown
  std::string message;
  Json details;  // null, or {name, group, kind, causes, retryAfterSeconds}

  static ApiError bad_request(std::string message);
  static ApiError not_found(const GroupResource& gr, const std::string& name);
  static ApiError already_exists(const GroupResource& gr, const std::string& name);
  static ApiError conflict(const GroupResource& gr, const std::string& name, const std::string& why);
  // 422 "<Kind> \"name\" is invalid: ..."; `kind` is the Kind, `group` its group.
  static ApiError invalid(const std::string& group, const std::string& kind, const std::string& name,
                          const FieldErrors& errors);
  static ApiError forbidden(const GroupResource& gr, const std::string& name, const std::string& why);
  static ApiError method_not_supported(const GroupResource& gr, const std::string& action);
  // The 405 of a verb the server does not serve on a resource or collection.
  static ApiError method_not_allowed();
  // A path nothing serves: what Go's mux answers, as kube-apiserver words it.
  static ApiError not_found_route();
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
