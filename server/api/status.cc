#include "server/api/status.h"

#include <algorithm>
#include <cstdio>

namespace pmesh::server {

namespace {

// Go's %q of a string, which kube's field errors use for bad values.
std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string value_text(const Json& v) {
  if (v.is_string()) return go_quote(v.get<std::string>());
  if (v.is_null()) return "null";
  if (v.is_array() && std::all_of(v.begin(), v.end(), [](const Json& e) { return e.is_string(); })) {
    // Go's %#v of a []string.
    std::string out = "[]string{";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + go_quote(v[i].get<std::string>());
    return out + "}";
  }
  return encode_json(v);
}

Json details_of(const GroupResource& gr, const std::string& name) {
  Json d = Json::object();
  if (!name.empty()) d["name"] = name;
  if (!gr.group.empty()) d["group"] = gr.group;
  if (!gr.resource.empty()) d["kind"] = gr.resource;
  return d;
}

}  // namespace

FieldError FieldError::invalid(std::string field, Json value, std::string detail) {
  return {Type::kInvalid, std::move(field), std::move(value), std::move(detail), ""};
}
FieldError FieldError::invalid_shown(std::string field, std::string shown, std::string detail) {
  return {Type::kInvalid, std::move(field), nullptr, std::move(detail), std::move(shown)};
}
FieldError FieldError::required(std::string field, std::string detail) {
  return {Type::kRequired, std::move(field), nullptr, std::move(detail), ""};
}
FieldError FieldError::forbidden(std::string field, std::string detail) {
  return {Type::kForbidden, std::move(field), nullptr, std::move(detail), ""};
}
FieldError FieldError::too_long(std::string field, size_t max) {
  return {Type::kTooLong, std::move(field), nullptr, "must have at most " + std::to_string(max) + " bytes", ""};
}
FieldError FieldError::not_supported(std::string field, Json value, const std::vector<std::string>& supported) {
  std::string list;
  for (const auto& s : supported) list += (list.empty() ? "" : ", ") + go_quote(s);
  return {Type::kNotSupported, std::move(field), std::move(value), "supported values: " + list, ""};
}
FieldError FieldError::type_invalid(std::string field, Json value, std::string detail) {
  return {Type::kTypeInvalid, std::move(field), std::move(value), std::move(detail), ""};
}

std::string FieldError::body() const {
  std::string s;
  switch (type) {
    case Type::kRequired: s = "Required value"; break;
    case Type::kForbidden: s = "Forbidden"; break;
    case Type::kTooLong: s = "Too long"; break;
    // kube's field.TooMany shows the actual quantity when it has one.
    case Type::kTooMany: s = value.is_null() ? "Too many" : "Too many: " + value_text(value); break;
    case Type::kInvalid:
    case Type::kTypeInvalid: s = "Invalid value: " + (shown.empty() ? value_text(value) : shown); break;
    case Type::kNotSupported: s = "Unsupported value: " + value_text(value); break;
    case Type::kDuplicate: s = "Duplicate value: " + value_text(value); break;
  }
  if (!detail.empty()) s += ": " + detail;
  return s;
}

std::string FieldError::reason() const {
  switch (type) {
    case Type::kInvalid: return "FieldValueInvalid";
    case Type::kRequired: return "FieldValueRequired";
    case Type::kForbidden: return "FieldValueForbidden";
    case Type::kTooLong: return "FieldValueTooLong";
    case Type::kTooMany: return "FieldValueTooMany";
    case Type::kNotSupported: return "FieldValueNotSupported";
    case Type::kDuplicate: return "FieldValueDuplicate";
    case Type::kTypeInvalid: return "FieldValueTypeInvalid";
  }
  return "FieldValueInvalid";
}

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

ApiError ApiError::type_mismatch(const Json& value, const std::string& field, const std::string& go_type) {
  const char* t = value.is_string() ? "string" : value.is_number() ? "number" : value.is_boolean() ? "bool"
                  : value.is_array() ? "array" : "object";
  return bad_request(std::string("json: cannot unmarshal ") + t + " into Go struct field " + field + " of type " + go_type);
}

Json status_json(const ApiError& e) {
  Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()},
            {"status", "Failure"}, {"message", e.message}, {"code", e.code}};
  if (!e.reason.empty()) s["reason"] = e.reason;
  if (!e.details.is_null() && !e.details.empty()) s["details"] = e.details;
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
