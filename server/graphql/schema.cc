#include "server/graphql/schema.h"

namespace pmesh::graphql {

const char* const kJsonStringScalar = "JSONString";
const char* const kStringMapScalar = "StringMapInput";

namespace {

TypeRef list_nn(const std::string& n) { return nn(TypeRef::list(nn(named(n)))); }

Field make_field(std::string name, TypeRef type, std::string description = "") {
  Field f;
  f.key = name;
  f.name = std::move(name);
  f.type = std::move(type);
  f.description = std::move(description);
  return f;
}

InputValue include_deprecated() {
  return {"includeDeprecated", "", named("Boolean"), Json(false), "includeDeprecated"};
}

Type object(std::string name, std::vector<Field> fields, std::string description = "") {
  Type t;
  t.kind = Type::Kind::kObject;
  t.name = std::move(name);
  t.fields = std::move(fields);
  t.description = std::move(description);
  return t;
}

// A value as a GraphQL literal, for defaultValue.
std::string literal(const Json& v) {
  if (v.is_object()) {
    std::string out = "{";
    for (const auto& [k, x] : v.items()) out += (out.size() > 1 ? ", " : "") + k + ": " + literal(x);
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (const auto& x : v) out += (out.size() > 1 ? ", " : "") + literal(x);
    return out + "]";
  }
  return v.dump();
}

Json input_values(const std::vector<InputValue>& values) {
  Json out = Json::array();
  for (const auto& v : values)
    out.push_back({{"name", v.name},
                   {"description", v.description.empty() ? Json() : Json(v.description)},
                   {"type", v.type.to_string()},
                   {"defaultValue", v.default_value ? Json(literal(*v.default_value)) : Json()},
                   {"isDeprecated", false},
                   {"deprecationReason", nullptr}});
  return out;
}

}  // namespace

const char* type_kind_name(Type::Kind k) {
  switch (k) {
    case Type::Kind::kScalar: return "SCALAR";
    case Type::Kind::kObject: return "OBJECT";
    case Type::Kind::kInterface: return "INTERFACE";
    case Type::Kind::kUnion: return "UNION";
    case Type::Kind::kEnum: return "ENUM";
    case Type::Kind::kInputObject: return "INPUT_OBJECT";
  }
  return "SCALAR";
}

const InputValue* Field::arg(const std::string& n) const {
  for (const auto& a : args)
    if (a.name == n) return &a;
  return nullptr;
}

const Field* Type::field(const std::string& n) const {
  for (const auto& f : fields)
    if (f.name == n) return &f;
  return nullptr;
}

const InputValue* Type::input_field(const std::string& n) const {
  for (const auto& f : input_fields)
    if (f.name == n) return &f;
  return nullptr;
}

Schema::Schema() {
  auto scalar = [this](const char* name, const char* description) {
    Type t;
    t.name = name;
    t.description = description;
    add(std::move(t));
  };
  // graphql-js's descriptions of the built-in scalars.
  scalar("String", "The `String` scalar type represents textual data, represented as UTF-8 character sequences. The String type is most often used by GraphQL to represent free-form human-readable text.");
  scalar("Int", "The `Int` scalar type represents non-fractional signed whole numeric values. Int can represent values between -(2^31) and 2^31 - 1.");
  scalar("Float", "The `Float` scalar type represents signed double-precision fractional values as specified by [IEEE 754](https://en.wikipedia.org/wiki/IEEE_floating_point).");
  scalar("Boolean", "The `Boolean` scalar type represents `true` or `false`.");
  scalar("ID", "The `ID` scalar type represents a unique identifier, often used to refetch an object or as key for a cache. The ID type appears in a JSON response as a String; however, it is not intended to be human-readable. When expected as an input type, any string (such as `\"4\"`) or integer (such as `4`) input value will be accepted as an ID.");

  Type kind;
  kind.kind = Type::Kind::kEnum;
  kind.name = "__TypeKind";
  kind.description = "An enum describing what kind of type a given `__Type` is.";
  kind.enum_values = {"SCALAR", "OBJECT", "INTERFACE", "UNION", "ENUM", "INPUT_OBJECT", "LIST", "NON_NULL"};
  add(kind);
  Type location;
  location.kind = Type::Kind::kEnum;
  location.name = "__DirectiveLocation";
  location.description = "A Directive can be adjacent to many parts of the GraphQL language, a __DirectiveLocation describes one such possible adjacencies.";
  location.enum_values = {"QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD",
                          "INLINE_FRAGMENT", "VARIABLE_DEFINITION", "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION",
                          "ARGUMENT_DEFINITION", "INTERFACE", "UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT",
                          "INPUT_FIELD_DEFINITION"};
  add(location);

  add(object("__Schema",
             {make_field("description", named("String")), make_field("types", list_nn("__Type")), make_field("queryType", nn(named("__Type"))),
              make_field("mutationType", named("__Type")), make_field("subscriptionType", named("__Type")),
              make_field("directives", list_nn("__Directive"))},
             "A GraphQL Schema defines the capabilities of a GraphQL server. It exposes all available types and directives on the server, as well as the entry points for query, mutation, and subscription operations."));
  Field fields = make_field("fields", TypeRef::list(nn(named("__Field"))));
  fields.args = {include_deprecated()};
  Field enum_values = make_field("enumValues", TypeRef::list(nn(named("__EnumValue"))));
  enum_values.args = {include_deprecated()};
  Field input_fields = make_field("inputFields", TypeRef::list(nn(named("__InputValue"))));
  input_fields.args = {include_deprecated()};
  add(object("__Type",
             {make_field("kind", nn(named("__TypeKind"))), make_field("name", named("String")), make_field("description", named("String")),
              make_field("specifiedByURL", named("String")), fields, make_field("interfaces", TypeRef::list(nn(named("__Type")))),
              make_field("possibleTypes", TypeRef::list(nn(named("__Type")))), enum_values, input_fields,
              make_field("ofType", named("__Type")), make_field("isOneOf", named("Boolean"))},
             "The fundamental unit of any GraphQL Schema is the type. There are many kinds of types in GraphQL as represented by the `__TypeKind` enum."));
  Field args = make_field("args", list_nn("__InputValue"));
  args.args = {include_deprecated()};
  add(object("__Field",
             {make_field("name", nn(named("String"))), make_field("description", named("String")), args,
              make_field("type", nn(named("__Type"))), make_field("isDeprecated", nn(named("Boolean"))),
              make_field("deprecationReason", named("String"))},
             "Object and Interface types are described by a list of Fields, each of which has a name, potentially a list of arguments, and a return type."));
  add(object("__InputValue",
             {make_field("name", nn(named("String"))), make_field("description", named("String")), make_field("type", nn(named("__Type"))),
              make_field("defaultValue", named("String")), make_field("isDeprecated", nn(named("Boolean"))),
              make_field("deprecationReason", named("String"))},
             "Arguments provided to Fields or Directives and the input fields of an InputObject are represented as Input Values which describe their type and optionally a default value."));
  add(object("__EnumValue",
             {make_field("name", nn(named("String"))), make_field("description", named("String")),
              make_field("isDeprecated", nn(named("Boolean"))), make_field("deprecationReason", named("String"))},
             "One possible value for a given Enum. Enum values are unique values, not a placeholder for a string or numeric value. However an Enum value is returned in a JSON response as a string."));
  add(object("__Directive",
             {make_field("name", nn(named("String"))), make_field("description", named("String")),
              make_field("isRepeatable", nn(named("Boolean"))), make_field("locations", list_nn("__DirectiveLocation")), args},
             "A Directive provides a way to describe alternate entry points to a schema."));

  InputValue condition{"if", "", nn(named("Boolean")), std::nullopt, "if"};
  condition.description = "Included when true.";
  directives_.push_back({"include", "Directs the executor to include this field or fragment only when the `if` argument is true.",
                         {"FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT"}, {condition}});
  condition.description = "Skipped when true.";
  directives_.push_back({"skip", "Directs the executor to skip this field or fragment when the `if` argument is true.",
                         {"FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT"}, {condition}});
  directives_.push_back({"deprecated", "Marks an element of a GraphQL schema as no longer supported.",
                         {"FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INPUT_FIELD_DEFINITION", "ENUM_VALUE"},
                         {{"reason", "", named("String"), Json("No longer supported"), "reason"}}});
  typename_ = make_field("__typename", nn(named("String")));
  schema_ = make_field("__schema", nn(named("__Schema")));
  type_ = make_field("__type", named("__Type"));
  type_.args = {{"name", "", nn(named("String")), std::nullopt, "name"}};
  directives_.push_back({"specifiedBy", "Exposes a URL that specifies the behavior of this scalar.", {"SCALAR"},
                         {{"url", "The URL that specifies the behavior of this scalar.", nn(named("String")), std::nullopt, "url"}}});
}

Type& Schema::add(Type t) {
  std::string name = t.name;
  return types_.emplace(name, std::move(t)).first->second;
}

const Type* Schema::type(const std::string& name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : &it->second;
}

Type* Schema::mutable_type(const std::string& name) {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : &it->second;
}

const Field* Schema::field(const Type& parent, const std::string& name) const {
  if (const Field* f = parent.field(name)) return f;
  if (name == "__typename") return &typename_;
  if (parent.name != query) return nullptr;
  if (name == "__schema") return &schema_;
  if (name == "__type") return &type_;
  return nullptr;
}

const DirectiveDef* Schema::directive(const std::string& name) const {
  for (const auto& d : directives_)
    if (d.name == name) return &d;
  return nullptr;
}

bool Schema::is_input(const TypeRef& t) const {
  const Type* n = type(t.named_type());
  return n && (n->kind == Type::Kind::kScalar || n->kind == Type::Kind::kEnum || n->kind == Type::Kind::kInputObject);
}

bool Schema::is_leaf(const TypeRef& t) const {
  const Type* n = type(t.named_type());
  return n && (n->kind == Type::Kind::kScalar || n->kind == Type::Kind::kEnum);
}

Json Schema::introspect_schema(const std::string& f) const {
  if (f == "description") return nullptr;
  if (f == "queryType") return query;
  if (f == "mutationType") return mutation.empty() ? Json() : Json(mutation);
  if (f == "subscriptionType") return subscription.empty() ? Json() : Json(subscription);
  if (f == "types") {
    Json out = Json::array();
    for (const auto& [name, t] : types_) out.push_back(name);
    return out;
  }
  if (f == "directives") {
    Json out = Json::array();
    for (const auto& d : directives_)
      out.push_back({{"name", d.name},
                     {"description", d.description},
                     {"isRepeatable", false},
                     {"locations", d.locations},
                     {"args", input_values(d.args)}});
    return out;
  }
  return nullptr;
}

Json Schema::introspect_type(const std::string& w, const std::string& f, bool include_deprecated) const {
  (void)include_deprecated;  // nothing is deprecated
  bool non_null = !w.empty() && w.back() == '!';
  bool list = !non_null && !w.empty() && w.front() == '[';
  if (f == "kind") return non_null ? "NON_NULL" : list ? "LIST" : type_kind_name(type(w) ? type(w)->kind : Type::Kind::kScalar);
  if (f == "ofType") {
    if (non_null) return w.substr(0, w.size() - 1);
    if (list) return w.substr(1, w.size() - 2);
    return nullptr;
  }
  if (non_null || list) return nullptr;
  const Type* t = type(w);
  if (!t) return nullptr;
  if (f == "name") return t->name;
  if (f == "description") return t->description.empty() ? Json() : Json(t->description);
  if (f == "specifiedByURL" || f == "isOneOf") return f == "isOneOf" && t->kind == Type::Kind::kInputObject ? Json(false) : Json();
  if (f == "interfaces") return t->kind == Type::Kind::kObject ? Json::array() : Json();
  if (f == "possibleTypes") return nullptr;
  if (f == "fields") {
    if (t->kind != Type::Kind::kObject) return nullptr;
    Json out = Json::array();
    for (const auto& x : t->fields)
      out.push_back({{"name", x.name},
                     {"description", x.description.empty() ? Json() : Json(x.description)},
                     {"args", input_values(x.args)},
                     {"type", x.type.to_string()},
                     {"isDeprecated", false},
                     {"deprecationReason", nullptr}});
    return out;
  }
  if (f == "inputFields") return t->kind == Type::Kind::kInputObject ? input_values(t->input_fields) : Json();
  if (f == "enumValues") {
    if (t->kind != Type::Kind::kEnum) return nullptr;
    Json out = Json::array();
    for (const auto& v : t->enum_values)
      out.push_back({{"name", v}, {"description", nullptr}, {"isDeprecated", false}, {"deprecationReason", nullptr}});
    return out;
  }
  return nullptr;
}

}  // namespace pmesh::graphql
