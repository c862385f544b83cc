#include "dsl/selectable_field.h"

#include <set>

#include "dsl/kind_schema.h"

namespace pmesh::dsl {

namespace {

// The schema a path resolves to in `schema` (a version's openAPIV3Schema),
// or the reason it does not, as the CEL library's ValidFieldPath gives it
// without array notation.
const Json* resolve(const Json& schema, const std::string& path, std::string* why) {
  const Json* at = &schema;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '[') return *why = "array notation is not allowed", nullptr;
    if (path[i] != '.') {
      size_t end = path.find_first_of(".[", i);
      return *why = "expected [ or . but got: " + path.substr(i, end == std::string::npos ? std::string::npos : end - i), nullptr;
    }
    if (++i == path.size()) return *why = "unexpected end of JSON path", nullptr;
    // A token runs to the next delimiter, or is one itself ("..").
    size_t end = path[i] == '.' || path[i] == '[' || path[i] == ']' ? i + 1 : path.find_first_of(".[]", i);
    if (end == std::string::npos) end = path.size();
    std::string field = path.substr(i, end - i);
    i = end;
    const Json* properties = at->is_object() && at->contains("properties") ? &(*at)["properties"] : nullptr;
    const Json* additional = at->is_object() && at->contains("additionalProperties") ? &(*at)["additionalProperties"] : nullptr;
    if (properties && properties->is_object()) {
      if (!properties->contains(field)) return *why = "does not refer to a valid field", nullptr;
      at = &(*properties)[field];
    } else if (additional && additional->is_object()) {
      at = additional;  // a map's key
    } else {
      return *why = "does not refer to a valid field", nullptr;
    }
  }
  return at;
}

}  // namespace

std::string selectable_field_label(const std::string& json_path) {
  if (json_path.size() < 2 || json_path[0] != '.') return "";
  std::string label = json_path.substr(1);
  size_t start = 0;
  while (true) {
    size_t dot = label.find('.', start);
    std::string_view field(label.data() + start, (dot == std::string::npos ? label.size() : dot) - start);
    if (field.empty() || field.find_first_of("[]") != std::string_view::npos) return "";
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (label == "metadata" || label.rfind("metadata.", 0) == 0) return "";
  return label;
}

FieldErrors selectable_fields_errors(const Json& versions, const std::string& path) {
  FieldErrors out;
  if (!versions.is_array()) return out;
  for (size_t v = 0; v < versions.size(); ++v) {
    const Json& version = versions[v];
    if (!version.is_object() || !version.contains("selectableFields") || !version["selectableFields"].is_array()) continue;
    const Json& fields = version["selectableFields"];
    std::string at = path + "[" + std::to_string(v) + "].selectableFields";
    if (fields.empty()) continue;
    const Json* schema = version_schema(version);
    if (!schema) {
      out.push_back(FieldError::invalid(at, "", "selectableFields may only be set when version.schema.openAPIV3Schema is not included"));
      continue;
    }
    std::set<std::string> unique;
    for (size_t i = 0; i < fields.size(); ++i) {
      std::string field_at = at + "[" + std::to_string(i) + "].jsonPath";
      std::string json_path = fields[i].is_object() && fields[i].contains("jsonPath") && fields[i]["jsonPath"].is_string()
                                  ? fields[i]["jsonPath"].get<std::string>()
                                  : "";
      if (json_path.empty()) {
        out.push_back(FieldError::required(field_at));
        continue;
      }
      std::string why;
      const Json* found = resolve(*schema, json_path, &why);
      if (!found) {
        out.push_back(FieldError::invalid(field_at, json_path, "is an invalid path: " + why));
        continue;
      }
      std::string label = json_path.substr(1);
      if (label == "metadata" || label.rfind("metadata.", 0) == 0)
        out.push_back(FieldError::invalid(field_at, json_path, "must not point to fields in metadata"));
      std::string type = found->is_object() && found->contains("type") && (*found)["type"].is_string() ? (*found)["type"].get<std::string>() : "";
      if (type != "string" && type != "boolean" && type != "integer")
        out.push_back(FieldError::invalid(field_at, json_path,
                                          "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed."));
      if (!unique.insert(label).second) {
        FieldError d;
        d.type = FieldError::Type::kDuplicate;
        d.field = field_at;
        d.value = json_path;
        out.push_back(std::move(d));
      }
    }
    if (unique.size() > kMaxSelectableFields) {
      FieldError many;
      many.type = FieldError::Type::kTooMany;
      many.field = at;
      many.value = static_cast<int64_t>(unique.size());
      many.detail = "must have at most " + std::to_string(kMaxSelectableFields) + " items";
      out.push_back(std::move(many));
    }
  }
  return out;
}

}  // namespace pmesh::dsl
