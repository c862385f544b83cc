#include "server/graphql/values.h"

#include <charconv>
#include <cmath>

#include "server/api/body.h"

namespace pmesh::graphql {
namespace {

std::string print_json(const Json& v) {
  if (v.is_object()) {
    std::string out = "{ ";
    bool first = true;
    for (const auto& [k, x] : v.items()) {
      out += (first ? "" : ", ") + k + ": " + print_json(x);
      first = false;
    }
    return out + " }";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + print_json(v[i]);
    return out + "]";
  }
  return v.dump();
}

bool is_int32(const Json& v) {
  if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    return v.is_number_unsigned() ? v.get<uint64_t>() <= 2147483647u : i >= -2147483648LL && i <= 2147483647LL;
  }
  return false;
}

// A scalar from JSON, as graphql-js's parseValue of each scalar.
std::optional<Json> scalar(const std::string& type, const Json& v, std::string* why) {
  if (type == "String") {
    if (v.is_string()) return v;
    *why = "String cannot represent a non string value: " + print_json(v);
  } else if (type == "Int") {
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) <= 2147483647.0)
      return Json(static_cast<int64_t>(v.get<double>()));
    if (is_int32(v)) return v;
    *why = v.is_number_integer() ? "Int cannot represent non 32-bit signed integer value: " + print_json(v)
                                 : "Int cannot represent non-integer value: " + print_json(v);
  } else if (type == "Float") {
    if (v.is_number()) return v;
    *why = "Float cannot represent non numeric value: " + print_json(v);
  } else if (type == "Boolean") {
    if (v.is_boolean()) return v;
    *why = "Boolean cannot represent a non boolean value: " + print_json(v);
  } else if (type == "ID") {
    if (v.is_string()) return v;
    if (v.is_number_integer()) return Json(v.dump());
    *why = "ID cannot represent value: " + print_json(v);
  } else if (type == kJsonStringScalar) {
    // The gateway's JSONString takes JSON text; a structured value is
    // taken as it is.
    if (!v.is_string()) return v;
    std::string error;
    auto parsed = server::parse_json(v.get_ref<const std::string&>(), &error);
    if (parsed) return parsed;
    *why = "JSONString cannot represent invalid JSON: " + print_json(v);
  } else if (type == kStringMapScalar) {
    if (v.is_object()) {
      for (const auto& [k, x] : v.items())
        if (!x.is_string()) {
          *why = "StringMapInput cannot represent a non string value at \"" + k + "\": " + print_json(x);
          return std::nullopt;
        }
      return v;
    }
    if (v.is_array()) {  // [{key, value}], as the gateway also takes it
      Json out = Json::object();
      for (const auto& e : v)
        if (e.is_object() && e.contains("key") && e["key"].is_string())
          out[e["key"].get<std::string>()] = e.contains("value") && e["value"].is_string() ? e["value"] : Json("");
      return out;
    }
    *why = "StringMapInput cannot represent value: " + print_json(v);
  } else {
    *why = "Unknown type \"" + type + "\".";
  }
  return std::nullopt;
}

// JSON of a literal with no variables, for scalars that take structures.
std::optional<Json> literal_json(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kVariable: return std::nullopt;
    case Value::Kind::kInt: {
      int64_t i = 0;
      auto [p, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), i);
      if (ec == std::errc()) return Json(i);
      return Json(std::stod(v.text));
    }
    case Value::Kind::kFloat: return Json(std::stod(v.text));
    case Value::Kind::kString:
    case Value::Kind::kEnum: return Json(v.text);
    case Value::Kind::kBoolean: return Json(v.boolean);
    case Value::Kind::kNull: return Json();
    case Value::Kind::kList: {
      Json out = Json::array();
      for (const auto& x : v.list) {
        auto j = literal_json(x);
        if (!j) return std::nullopt;
        out.push_back(*j);
      }
      return out;
    }
    case Value::Kind::kObject: {
      Json out = Json::object();
      for (const auto& [k, x] : v.fields) {
        auto j = literal_json(x);
        if (!j) return std::nullopt;
        out[k] = *j;
      }
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string print_value(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kVariable: return "$" + v.text;
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kEnum: return v.text;
    case Value::Kind::kString: return Json(v.text).dump();
    case Value::Kind::kBoolean: return v.boolean ? "true" : "false";
    case Value::Kind::kNull: return "null";
    case Value::Kind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < v.list.size(); ++i) out += (i ? ", " : "") + print_value(v.list[i]);
      return out + "]";
    }
    case Value::Kind::kObject: {
      std::string out = "{";
      for (size_t i = 0; i < v.fields.size(); ++i) out += (i ? ", " : "") + v.fields[i].name + ": " + print_value(v.fields[i].value);
      return out + "}";
    }
  }
  return "";
}

std::optional<Json> coerce_json(const Schema& s, const Json& value, const TypeRef& type, std::string* why) {
  if (type.wrap == TypeRef::Wrap::kNonNull) {
    if (value.is_null()) {
      *why = "Expected non-nullable type \"" + type.to_string() + "\" not to be null.";
      return std::nullopt;
    }
    return coerce_json(s, value, *type.of, why);
  }
  if (value.is_null()) return Json();
  if (type.wrap == TypeRef::Wrap::kList) {
    Json out = Json::array();
    if (!value.is_array()) {  // a single value is a list of one
      auto one = coerce_json(s, value, *type.of, why);
      if (!one) return std::nullopt;
      out.push_back(*one);
      return out;
    }
    for (const auto& item : value) {
      auto c = coerce_json(s, item, *type.of, why);
      if (!c) return std::nullopt;
      out.push_back(*c);
    }
    return out;
  }
  const Type* t = s.type(type.name);
  if (!t) {
    *why = "Unknown type \"" + type.name + "\".";
    return std::nullopt;
  }
  if (t->kind == Type::Kind::kScalar) return scalar(t->name, value, why);
  if (t->kind == Type::Kind::kEnum) {
    if (value.is_string())
      for (const auto& e : t->enum_values)
        if (e == value.get_ref<const std::string&>()) return value;
    *why = "Value " + print_json(value) + " does not exist in \"" + t->name + "\" enum.";
    return std::nullopt;
  }
  if (t->kind != Type::Kind::kInputObject) {
    *why = "Type \"" + t->name + "\" is not an input type.";
    return std::nullopt;
  }
  if (!value.is_object()) {
    *why = "Expected type \"" + t->name + "\" to be an object.";
    return std::nullopt;
  }
  Json out = Json::object();
  for (const auto& [k, v] : value.items())
    if (!t->input_field(k)) {
      *why = "Field \"" + k + "\" is not defined by type \"" + t->name + "\".";
      return std::nullopt;
    }
  for (const auto& f : t->input_fields) {
    auto it = value.find(f.name);
    if (it == value.end()) {
      if (f.default_value) out[f.key] = *f.default_value;
      else if (f.type.non_null_()) {
        *why = "Field \"" + f.name + "\" of required type \"" + f.type.to_string() + "\" was not provided.";
        return std::nullopt;
      }
      continue;
    }
    auto c = coerce_json(s, *it, f.type, why);
    if (!c) {
      *why = "At \"" + f.name + "\": " + *why;
      return std::nullopt;
    }
    out[f.key] = *c;
  }
  return out;
}

std::optional<Json> coerce_literal(const Schema& s, const Value& value, const TypeRef& type, const Json* variables,
                                   std::string* why) {
  if (value.kind == Value::Kind::kVariable) {
    if (!variables) return Json();  // validating: any variable fits here
    auto it = variables->find(value.text);
    if (it == variables->end()) {
      why->clear();
      return std::nullopt;
    }
    if (it->is_null() && type.non_null_()) {
      *why = "Variable \"$" + value.text + "\" of non-null type \"" + type.to_string() + "\" must not be null.";
      return std::nullopt;
    }
    return *it;
  }
  auto expected = [&](const std::string& detail) {
    *why = "Expected value of type \"" + type.to_string() + "\", found " + print_value(value) + (detail.empty() ? "." : "; " + detail);
    return std::nullopt;
  };
  if (type.wrap == TypeRef::Wrap::kNonNull) {
    if (value.kind == Value::Kind::kNull) return expected("");
    auto c = coerce_literal(s, value, *type.of, variables, why);
    // Messages name the type as written, with its `!`.
    std::string inner = "Expected value of type \"" + type.of->to_string() + "\"";
    if (!c && why->rfind(inner, 0) == 0) *why = "Expected value of type \"" + type.to_string() + "\"" + why->substr(inner.size());
    return c;
  }
  if (value.kind == Value::Kind::kNull) return Json();
  if (type.wrap == TypeRef::Wrap::kList) {
    Json out = Json::array();
    if (value.kind != Value::Kind::kList) {
      auto one = coerce_literal(s, value, *type.of, variables, why);
      if (!one) return std::nullopt;
      out.push_back(*one);
      return out;
    }
    for (const auto& item : value.list) {
      auto c = coerce_literal(s, item, *type.of, variables, why);
      if (!c) {
        if (why->empty()) c = Json();  // an absent variable in a list is null
        else return std::nullopt;
      }
      out.push_back(*c);
    }
    return out;
  }
  const Type* t = s.type(type.name);
  if (!t) return expected("Unknown type.");
  if (t->kind == Type::Kind::kEnum) {
    if (value.kind == Value::Kind::kEnum)
      for (const auto& e : t->enum_values)
        if (e == value.text) return Json(e);
    *why = value.kind == Value::Kind::kEnum ? "Value \"" + value.text + "\" does not exist in \"" + t->name + "\" enum."
                                            : "Enum \"" + t->name + "\" cannot represent non-enum value: " + print_value(value) + ".";
    return std::nullopt;
  }
  if (t->kind == Type::Kind::kScalar) {
    // Literals keep their GraphQL types: "5" is no Int, 5 no String.
    std::string detail;
    bool structured = t->name == kJsonStringScalar || t->name == kStringMapScalar;
    if (t->name == "String" && value.kind != Value::Kind::kString) return expected("String cannot represent a non string value: " + print_value(value));
    if (t->name == "Boolean" && value.kind != Value::Kind::kBoolean) return expected("Boolean cannot represent a non boolean value: " + print_value(value));
    if (t->name == "Int" && value.kind != Value::Kind::kInt) return expected("Int cannot represent non-integer value: " + print_value(value));
    if (t->name == "Float" && value.kind != Value::Kind::kInt && value.kind != Value::Kind::kFloat)
      return expected("Float cannot represent non numeric value: " + print_value(value));
    if (t->name == "ID" && value.kind != Value::Kind::kString && value.kind != Value::Kind::kInt)
      return expected("ID cannot represent a non-string and non-integer value: " + print_value(value));
    if (structured && variables == nullptr && !literal_json(value)) return Json();  // variables inside: checked when known
    auto j = structured ? literal_json(value) : std::optional<Json>(value.kind == Value::Kind::kString ? Json(value.text) : *literal_json(value));
    if (!j) {
      // A structure with variables in it, for a scalar that takes structures.
      Json out = value.kind == Value::Kind::kList ? Json::array() : Json::object();
      auto sub = [&](const Value& x) { return coerce_literal(s, x, TypeRef::named(kJsonStringScalar), variables, why); };
      if (value.kind == Value::Kind::kList) {
        for (const auto& x : value.list) out.push_back(sub(x).value_or(Json()));
      } else {
        for (const auto& [k, x] : value.fields) {
          auto c = sub(x);
          if (c) out[k] = *c;
        }
      }
      return out;
    }
    auto c = scalar(t->name, *j, &detail);
    if (!c) return expected(detail);
    return c;
  }
  if (t->kind != Type::Kind::kInputObject) return expected("");
  if (value.kind != Value::Kind::kObject) return expected("");
  Json out = Json::object();
  for (const auto& [k, v] : value.fields)
    if (!t->input_field(k)) {
      *why = "Field \"" + k + "\" is not defined by type \"" + t->name + "\".";
      return std::nullopt;
    }
  for (const auto& f : t->input_fields) {
    const Value* given = nullptr;
    for (const auto& [k, v] : value.fields)
      if (k == f.name) given = &v;
    std::optional<Json> c;
    if (given) {
      c = coerce_literal(s, *given, f.type, variables, why);
      if (!c && !why->empty()) return std::nullopt;
    }
    if (!c) {
      if (f.default_value) c = *f.default_value;
      else if (f.type.non_null_()) {
        *why = "Field \"" + t->name + "." + f.name + "\" of required type \"" + f.type.to_string() + "\" was not provided.";
        return std::nullopt;
      } else {
        continue;
      }
    }
    out[f.key] = *c;
  }
  return out;
}

}  // namespace pmesh::graphql
