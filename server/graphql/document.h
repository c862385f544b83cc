// A GraphQL executable document, as parsed (parser.h): operations and
// fragments, their selections, arguments, directives and values, each with
// where it stands in the text. And the layer's one error type.
//
// Names are kept as written; nothing here knows a schema (validation.h binds
// a document to one).
//
// Thread safety: values.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pmesh::graphql {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;  // responses keep the order GraphQL gives them

struct Location {
  int line = 0, column = 0;  // 1-based, as GraphQL's error locations
};

// What a GraphQL response's `errors` carries: a message, where in the
// document, and (for field errors) the response path.
struct Error {
  std::string message;
  std::vector<Location> locations;
  Json path;  // null, or an array of keys and indexes
};
// The `errors` entry of `e` (the only encoder of errors).
OrderedJson error_json(const Error& e);

// A type as a document or schema writes it: Name, [T] or T!.
struct TypeRef {
  enum class Wrap { kNamed, kList, kNonNull };
  Wrap wrap = Wrap::kNamed;
  std::string name;                   // kNamed
  std::shared_ptr<const TypeRef> of;  // kList, kNonNull

  static TypeRef named(std::string n);
  static TypeRef list(TypeRef t);
  static TypeRef non_null(TypeRef t);
  bool non_null_() const { return wrap == Wrap::kNonNull; }
  const std::string& named_type() const;  // the innermost name
  std::string to_string() const;          // as written: [String!]!
  bool operator==(const TypeRef& o) const;
};

struct ObjectField;

struct Value {
  enum class Kind { kVariable, kInt, kFloat, kString, kBoolean, kNull, kEnum, kList, kObject };
  Kind kind = Kind::kNull;
  std::string text;  // a variable's or enum's name, a number as written, a string's value
  bool boolean = false;
  std::vector<Value> list;
  std::vector<ObjectField> fields;  // an object literal's, in order
  Location loc;
};

struct ObjectField {
  std::string name;
  Value value;
};

struct Argument {
  std::string name;
  Value value;
  Location loc;
};

struct Directive {
  std::string name;
  std::vector<Argument> args;
  Location loc;
};

struct Selection;
using SelectionSet = std::vector<Selection>;

struct Selection {
  enum class Kind { kField, kFragmentSpread, kInlineFragment };
  Kind kind = Kind::kField;
  std::string alias;  // fields: "" when none
  std::string name;   // a field's name or a spread fragment's
  std::vector<Argument> args;
  std::vector<Directive> directives;
  std::string type_condition;  // inline fragments: "" when none
  bool has_selections = false;  // a field with `{ ... }`
  SelectionSet selections;
  Location loc;
  const std::string& response_key() const { return alias.empty() ? name : alias; }
};

struct VariableDefinition {
  std::string name;
  TypeRef type;
  std::optional<Value> default_value;
  Location loc;
};

enum class OperationType { kQuery, kMutation, kSubscription };
const char* operation_type_name(OperationType t);

struct Operation {
  OperationType type = OperationType::kQuery;
  std::string name;  // "" for an anonymous operation
  std::vector<VariableDefinition> variables;
  std::vector<Directive> directives;
  SelectionSet selections;
  Location loc;
};

struct Fragment {
  std::string name, type_condition;
  std::vector<Directive> directives;
  SelectionSet selections;
  Location loc;
};

struct Document {
  std::vector<Operation> operations;
  std::vector<Fragment> fragments;
  const Fragment* fragment(const std::string& name) const;
};

}  // namespace pmesh::graphql
