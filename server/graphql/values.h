// Input values coerced to a schema's input types: variables from the
// request's JSON, and literals from the document (the specification's
// CoerceVariableValues and CoerceArgumentValues), with graphql-js's
// messages when they do not fit.
//
// The result is plain JSON in the API's terms: an input object's fields
// under the keys they stand for (InputValue::key), JSONString input parsed,
// absent fields left out.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>

#include "server/graphql/schema.h"

namespace pmesh::graphql {

// A variable's value (nullopt and `why` when it does not fit `type`).
std::optional<Json> coerce_json(const Schema& s, const Json& value, const TypeRef& type, std::string* why);

// A literal's value. `variables` holds the operation's coerced variables;
// null while validating, when any variable is taken to fit. A variable the
// operation does not provide is absent (nullopt with an empty `why`).
std::optional<Json> coerce_literal(const Schema& s, const Value& value, const TypeRef& type, const Json* variables,
                                   std::string* why);

// A literal as GraphQL prints it, for messages.
std::string print_value(const Value& v);

}  // namespace pmesh::graphql
