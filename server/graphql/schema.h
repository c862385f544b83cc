// A GraphQL schema: types, their fields and arguments, and what each root
// field of the Kubernetes API does (an Operation on a Resource).
//
// Built once per set of kinds (kube_schema.h) and then read only: requests
// share one schema through a shared_ptr. The introspection types (__Schema,
// __Type, ...) are part of every schema, so that introspection runs through
// the same executor as every other query.
//
// Thread safety: immutable after construction; safe to share.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/graphql/document.h"

namespace pmesh::graphql {

// Shorthands for the schemas built in code: named("String"), nn(t) is t!.
inline TypeRef named(const std::string& n) { return TypeRef::named(n); }
inline TypeRef nn(TypeRef t) { return TypeRef::non_null(std::move(t)); }

struct InputValue {
  std::string name, description;
  TypeRef type;
  std::optional<Json> default_value;  // as JSON (coerced like a variable's value)
  std::string key;                    // input object fields: the JSON key the name stands for
};

// What a root field of the Kubernetes API does.
enum class FieldOp {
  kNone,            // a plain field: the source's value under `key`
  kList,            // <Plural>(...)
  kGet,             // <Kind>(name, namespace)
  kGetYaml,         // <Kind>Yaml(name, namespace)
  kCreate,          // create<Kind>(object, namespace, dryRun)
  kUpdate,          // update<Kind>(name, object, namespace, dryRun): a merge patch
  kDelete,          // delete<Kind>(name, namespace, dryRun)
  kApplyYaml,       // applyYaml(yaml)
  kSubscribeOne,    // <group>_<version>_<kind>(name, ...)
  kSubscribeAll,    // <group>_<version>_<plural>(...)
  kTypeByCategory,  // typeByCategory(name): answered from the schema, no call
};

// The kind a root field works on.
struct Resource {
  std::string group, version, kind, plural;  // plural: the REST resource ("accounts")
  bool namespaced = false;
};

struct Field {
  std::string name, description;
  TypeRef type;
  std::vector<InputValue> args;
  std::string key;  // the JSON key of the source the field reads (names are sanitized); "" for the source itself
  FieldOp op = FieldOp::kNone;
  int resource = -1;  // index in Schema::resources
  const InputValue* arg(const std::string& n) const;
};

struct Type {
  enum class Kind { kScalar, kObject, kInterface, kUnion, kEnum, kInputObject };
  Kind kind = Kind::kScalar;
  std::string name, description;
  std::vector<Field> fields;             // objects
  std::vector<InputValue> input_fields;  // input objects
  std::vector<std::string> enum_values;  // enums
  const Field* field(const std::string& n) const;
  const InputValue* input_field(const std::string& n) const;
};
const char* type_kind_name(Type::Kind k);  // __TypeKind: SCALAR, OBJECT, ...

struct DirectiveDef {
  std::string name, description;
  std::vector<std::string> locations;
  std::vector<InputValue> args;
};

class Schema {
 public:
  // A schema with the built-in scalars, the introspection types and the
  // @skip, @include, @deprecated and @specifiedBy directives.
  Schema();

  // Adds `t`; REQUIRES: no type of that name yet (has()).
  Type& add(Type t);
  bool has(const std::string& name) const { return types_.count(name) > 0; }
  const Type* type(const std::string& name) const;
  Type* mutable_type(const std::string& name);
  const std::map<std::string, Type>& types() const { return types_; }
  const std::vector<DirectiveDef>& directives() const { return directives_; }
  const DirectiveDef* directive(const std::string& name) const;

  std::string query = "Query", mutation, subscription;  // root type names ("" when absent)
  std::vector<Resource> resources;
  // Category -> [{kind, group, version, scope}] of the kinds in it.
  std::map<std::string, Json> categories;

  // Whether `t` names a type usable as an input (scalars, enums, input
  // objects, wrapped) or as an output (all but input objects).
  bool is_input(const TypeRef& t) const;
  bool is_leaf(const TypeRef& t) const;  // scalars and enums

  // A field of `parent` by name, introspection's included: __typename on
  // every object, __schema and __type on the query root. Null if none.
  const Field* field(const Type& parent, const std::string& name) const;

  // A type as introspection shows it: `name` as written ("[String!]!") to
  // __Type's fields. null for a field's name that __Type does not have.
  Json introspect_type(const std::string& written, const std::string& field, bool include_deprecated) const;
  // __Schema's fields.
  Json introspect_schema(const std::string& field) const;

 private:
  std::map<std::string, Type> types_;
  std::vector<DirectiveDef> directives_;
  Field typename_, schema_, type_;  // the meta-fields
};

// The names of the scalars the gateway adds to the built-in ones.
extern const char* const kJsonStringScalar;  // any value, as JSON text
extern const char* const kStringMapScalar;   // an object of strings

}  // namespace pmesh::graphql
