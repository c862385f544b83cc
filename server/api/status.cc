#include "server/api/status.h"

#include <algorithm>
#include <cstdio>

namespace pmesh::server {

namespace {

Json details_of(const GroupResource& gr, const std::string& name) {
  Json d = Json::object();
  if (!name.empty()) d["name"] = name;
  if (!gr.group.empty()) d["group"] = gr.group;
  if (!gr.resource.empty()) d["kind"] = gr.resource;
  return d;
}

}  // namespace

ApiError ApiError::bad_request(std::string message) { return {400, "BadRequest", std::move(message), nullptr}; }

ApiError ApiError::not_found(const GroupResource& gr, const std::string& name) {
  return {404, "NotFound", gr.to_string() + " " + go_quote(name) + " not found", details_of(gr, name)};
}

ApiError ApiError::already_exists(const GroupResource& gr, const std::string& name) {
  return {409, "AlreadyExists", gr.to_string() + " " + go_quote(name) + " already exists", details_of(gr, name)};
}

ApiError ApiError::conflict(const GroupResource& gr, const std::string& name, const std::string& why) {
  return {409, "Conflict", "Operation cannot be fulfilled on " + gr.to_string() + " " + go_quote(name) + ": " + why,
          details_of(gr, name)};
}

ApiError ApiError::stale(const GroupResource& gr, const std::string& name) {
  return conflict(gr, name, "the object has been modified; please apply your changes to the latest version and try again");
}

ApiError ApiError::cluster_not_found(const std::string& cluster) {
  return {404, "NotFound", "logical cluster \"" + cluster + "\" not found", nullptr};
}

ApiError ApiError::invalid(const std::string& group, const std::string& kind, const std::string& name,
                           const FieldErrors& errors) {
  Json causes = Json::array();
  for (const auto& e : errors) causes.push_back({{"reason", e.reason()}, {"message", e.body()}, {"field", e.field}});
  std::string qualified = group.empty() ? kind : kind + "." + group;
  std::string message = qualified + " " + go_quote(name) + " is invalid";
  if (errors.size() == 1) {
    message += ": " + errors[0].message();
  } else if (!errors.empty()) {
    message += ": [";
    for (size_t i = 0; i < errors.size(); ++i) message += (i ? ", " : "") + errors[i].message();
    message += "]";
  }
  Json details = {{"kind", kind}, {"causes", causes}};
  if (!name.empty()) details["name"] = name;
  if (!group.empty()) details["group"] = group;
  return {422, "Invalid", message, details};
}

ApiError ApiError::forbidden(const GroupResource& gr, const std::string& name, const std::string& why) {
  std::string message = gr.resource.empty() ? "forbidden: " + why
                        : name.empty()      ? gr.to_string() + " is forbidden: " + why
                                            : gr.to_string() + " " + go_quote(name) + " is forbidden: " + why;
  return {403, "Forbidden", message, details_of(gr, name)};
}

ApiError ApiError::not_found_route() {
  return {404, "NotFound", "the server could not find the requested resource",
          {{"causes", Json::array({{{"reason", "UnexpectedServerResponse"}, {"message", "404 page not found"}}})}}};
}

ApiError ApiError::method_not_allowed() {
  return {405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nullptr};
}

ApiError ApiError::method_not_supported(const GroupResource& gr, const std::string& action) {
  return {405, "MethodNotAllowed", action + " is not supported on resources of kind " + go_quote(gr.to_string()),
          details_of(gr, "")};
}

ApiError ApiError::unsupported_media_type(const std::string& type, const std::vector<std::string>& accepted) {
  std::string list;
  for (const auto& a : accepted) list += (list.empty() ? "" : ", ") + a;
  (void)type;
  return {415, "UnsupportedMediaType",
          "the body of the request was in an unknown format - accepted media types include: " + list, nullptr};
}

ApiError ApiError::not_acceptable(const std::vector<std::string>& accepted) {
  std::string list;
  for (const auto& a : accepted) list += (list.empty() ? "" : ", ") + a;
  return {406, "NotAcceptable", "only the following media types are accepted: " + list, nullptr};
}

ApiError ApiError::request_entity_too_large(const std::string& message) {
  return {413, "RequestEntityTooLarge", "Request entity too large: " + message, nullptr};
}

ApiError ApiError::internal(const std::string& why) {
  return {500, "InternalError", "Internal error occurred: " + why, {{"causes", Json::array({{{"message", why}}})}}};
}

ApiError ApiError::expired(const std::string& message) { return {410, "Expired", message, nullptr}; }

ApiError ApiError::unauthorized() { return {401, "Unauthorized", "Unauthorized", nullptr}; }

ApiError ApiError::service_unavailable(const std::string& message) {
  return {503, "ServiceUnavailable", message, nullptr};
}

ApiError ApiError::unknown(int code, std::string message) { return {code, "", std::move(message), nullptr}; }

const char* go_json_type(const Json& value) {
  return value.is_string() ? "string" : value.is_number() ? "number" : value.is_boolean() ? "bool" : value.is_array() ? "array" : "object";
}

ApiError ApiError::type_mismatch(const Json& value, const std::string& field, const std::string& go_type) {
  return bad_request(std::string("json: cannot unmarshal ") + go_json_type(value) + " into Go struct field " + field + " of type " + go_type);
}

Json status_json(const ApiError& e) {
  Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()},
            {"status", "Failure"}, {"message", e.message}, {"code", e.code}};
  if (!e.reason.empty()) s["reason"] = e.reason;
  if (!e.details.is_null() && !e.details.empty()) s["details"] = e.details;
  if (!e.continue_token.empty()) s["metadata"]["continue"] = e.continue_token;
  return s;
}

std::string encode_json(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

HttpResponse json_response(int code, const Json& body) { return {code, "application/json", encode_json(body), {}, nullptr}; }

HttpResponse status_response(const ApiError& e) { return json_response(e.code, status_json(e)); }

HttpResponse success_status(const Json& details) {
  Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}, {"status", "Success"}};
  if (!details.is_null()) s["details"] = details;
  return json_response(200, s);
}

}  // namespace pmesh::server
