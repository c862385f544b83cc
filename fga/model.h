// An OpenFGA authorization model (schema 1.1), as OpenFGA's API carries it.
//
// A model is a list of type definitions; each relation has a rewrite (the
// userset expression after `define r:`) and, where the rewrite is or holds
// `this`, the types that may be written directly (`[user, user:*,
// group#member]`). from_json() reads the API's JSON (the shape
// @openfga/syntax-transformer writes), to_json() writes it back the same
// way; the DSL has its own reader (dsl_parser.h). Both readers only check
// shape; validate.h checks meaning, with OpenFGA's messages.
//
// Thread safety: plain values.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pmesh::fga {

// The one error of this layer: what OpenFGA would answer, as its API's
// error `code` (validation_error, invalid_authorization_model, ...) and
// message.
struct FgaError : std::runtime_error {
  FgaError(std::string code, const std::string& message) : std::runtime_error(message), code(std::move(code)) {}
  std::string code;
};

// A type that may be written directly on a relation: `user`, `user:*`,
// `group#member`.
struct TypeRestriction {
  std::string type;
  std::string relation;  // group#member
  bool wildcard = false;  // user:*
  std::string condition;  // `with cond` (refused by validate: pmesh has no conditions)
  std::string to_string() const;  // as the DSL writes it
  bool operator==(const TypeRestriction& o) const {
    return type == o.type && relation == o.relation && wildcard == o.wildcard && condition == o.condition;
  }
};

struct Rewrite {
  enum class Kind { kThis, kComputed, kTupleToUserset, kUnion, kIntersection, kDifference };
  Kind kind = Kind::kThis;
  std::string relation;  // computed: the relation; tuple-to-userset: the relation on the related object
  std::string tupleset;  // tuple-to-userset: the relation holding the related objects
  std::vector<Rewrite> children;  // union, intersection; difference: {base, subtract}
};

struct RelationDef {
  std::string name;
  Rewrite rewrite;
  std::vector<TypeRestriction> directly_related;
};

struct TypeDef {
  std::string name;
  std::vector<RelationDef> relations;  // sorted by name, as OpenFGA's JSON map orders them
  const RelationDef* find(const std::string& relation) const;
};

struct Model {
  std::string schema_version = "1.1";
  std::vector<TypeDef> types;  // in the model's order
  nlohmann::json conditions = nlohmann::json::object();
  const TypeDef* find(const std::string& type) const;
  const RelationDef* find(const std::string& type, const std::string& relation) const;
};

// "type#relation", as OpenFGA names a relation in its messages and userset types.
inline std::string relation_ref(const std::string& type, const std::string& relation) {
  return type + "#" + relation;
}

// REQUIRES nothing of `j`: a body that is not a model raises FgaError
// (validation_error), as OpenFGA's request validation does.
Model from_json(const nlohmann::json& j);
nlohmann::json to_json(const Model& m);

// A tuple's parts: "type:id", "type:*", "type:id#relation".
struct Subject {
  std::string type, id, relation;
  bool wildcard() const { return id == "*"; }
  std::string object() const { return type + ":" + id; }
};
// Splits a user or object string; false when it has no `type:id` shape.
bool parse_subject(const std::string& s, Subject* out);

}  // namespace pmesh::fga
