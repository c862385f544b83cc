// Kubernetes' field errors (k8s.io/apimachinery/pkg/util/validation/field):
// a field's path, what is wrong with it and the value, with kube's wording.
// Validation in every layer reports them (the server's strategies, the
// schemas of kinds, the engine for what rules derive); the server's Status
// encoder turns them into a 422's causes.
//
// Thread safety: values; pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pmesh {

using Json = nlohmann::json;

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
  // The error a value of stdlib.validation's functions (validation.rules)
  // names: {fieldError: "FieldValueInvalid", field, value, detail}, and
  // Required and Forbidden alike. Nullopt for any other value.
  static std::optional<FieldError> from_value(const Json& v);
};
using FieldErrors = std::vector<FieldError>;

// Go's %q of a string, as kube's field errors quote bad values.
std::string go_quote(const std::string& s);

}  // namespace pmesh
