#include "stdlib/field_error.h"

#include <algorithm>

#include "stdlib/text.h"

namespace pmesh {

namespace {

std::string value_text(const Json& v) {
  if (v.is_string()) return go_quote(v.get<std::string>());
  if (v.is_null()) return "null";
  if (v.is_array() && std::all_of(v.begin(), v.end(), [](const Json& e) { return e.is_string(); })) {
    // Go's %#v of a []string.
    std::string out = "[]string{";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + go_quote(v[i].get<std::string>());
    return out + "}";
  }
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}


}  // namespace

std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    append_go_escaped(out, c);
  }
  return out + "\"";
}

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

std::optional<FieldError> FieldError::from_value(const Json& v) {
  if (!v.is_object()) return std::nullopt;
  auto text = [&](const char* key) -> const std::string* {
    auto it = v.find(key);
    return it != v.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string *type = text("fieldError"), *field = text("field"), *detail = text("detail");
  if (!type || !field || field->empty()) return std::nullopt;
  const std::string d = detail ? *detail : "";
  if (*type == "FieldValueInvalid") return invalid(*field, v.value("value", Json()), d);
  if (*type == "FieldValueRequired") return required(*field, d);
  if (*type == "FieldValueForbidden") return forbidden(*field, d);
  return std::nullopt;
}


}  // namespace pmesh
