// What a kind's OpenAPI v3 schema may hold for pmesh to enforce it: pmesh
// validates structural schemas (server/registry/schema_validation.h) but
// does not evaluate CEL, and a rule it skipped would accept what kube
// refuses — so a schema with x-kubernetes-validations is refused where it
// is declared, and writes to a bound kind whose schema has them fail.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsl/ast.h"
#include "dsl/diagnostics.h"

namespace pmesh::dsl {

// Where `schema` asks for what pmesh cannot enforce ("x-kubernetes-validations
// (CEL) at spec.x"); empty when it can enforce all of it.
std::vector<std::string> unsupported_schema_features(const nlohmann::json& schema);

// A kind declaration's `schema` (its object's OpenAPI v3 schema, as a CRD's
// openAPIV3Schema, written as literal data), with its problems reported;
// null when it has any.
std::shared_ptr<const nlohmann::json> kind_schema(const Expr& e, DiagnosticSink& diags);

// `schema` cut down to what defaulting reads: the `properties`, `items`
// and `additionalProperties` that lead to a `default`, and those defaults.
// Defaulting an object by it does what defaulting by `schema` does, without
// walking the (usually many) fields that have none. Null when no field has
// a default.
std::shared_ptr<const nlohmann::json> schema_defaults(const nlohmann::json& schema);

// The schema of a version of an APIResourceSchema or CRD (its
// `schema.openAPIV3Schema`, or `schema` itself); null when it has none.
const nlohmann::json* version_schema(const nlohmann::json& version);

// A value's type as OpenAPI (and go-openapi's messages) name it: string,
// boolean, integer, number, array, object or null.
std::string schema_type_of(const nlohmann::json& v);

}  // namespace pmesh::dsl
