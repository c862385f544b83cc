// A kind's structural schema (OpenAPI v3, as a CRD's openAPIV3Schema)
// applied to an object, in the order kube-apiserver applies a custom
// resource's: unknown fields pruned, then defaults, then validation. The
// server's strategies apply it to what users write; the engine validates
// what rules derive.
//
// Pruning drops what the schema does not name (except under
// x-kubernetes-preserve-unknown-fields, and an embedded resource's
// apiVersion, kind and metadata) and nulls of fields that are not
// nullable. Validation covers types (x-kubernetes-int-or-string
// included), nullable, required, enum, pattern (RE2, the syntax of Go's
// regexp, linear in the input), formats, min/max length, items,
// properties and values, multipleOf, additionalProperties, and list types
// (set, map with its keys); errors carry kube's field paths and messages
// (apiextensions-apiserver's kubeOpenAPIResultToFieldErrors). Schemas with
// x-kubernetes-validations are the caller's to refuse
// (dsl/kind_schema.h): pmesh does not evaluate CEL.
//
// Thread safety: pure functions; patterns are compiled into a per-thread cache.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "stdlib/field_error.h"

namespace pmesh::engine {

// Drops from `object` the fields `schema` does not allow (apiVersion, kind
// and metadata are the caller's); returns their paths ("spec.foo").
std::vector<std::string> prune_unknown_fields(const Json& schema, Json& object);

// Sets the schema's defaults where fields are missing.
void apply_schema_defaults(const Json& schema, Json& object);

// Which top-level sections a write may change, and so which are checked:
// through /status the status alone, through the main resource all but a
// status subresource's status (in pmesh rules write status).
enum class Sections { kAll, kAllButStatus, kStatus };

// The schema's complaints about `object` in `sections` (metadata, apiVersion
// and kind are ObjectMeta's; a schema for metadata constrains only the name,
// as for a CRD).
FieldErrors validate_against_schema(const Json& schema, const Json& object, Sections sections = Sections::kAll);
// The same for a kind's shared schema, read once per thread into a form
// that validates without looking keywords up (kept while the schema lives).
FieldErrors validate_against_schema(const std::shared_ptr<const Json>& schema, const Json& object,
                                    Sections sections = Sections::kAll);

// The same for a change from `before` to `after`: only the top-level
// sections that differ are checked (an object's other sections were checked
// when they were written). With no object before, all of `after`.
FieldErrors validate_changes_against_schema(const Json& schema, const Json& before, const Json& after);
FieldErrors validate_changes_against_schema(const std::shared_ptr<const Json>& schema, const Json& before,
                                            const Json& after);

}  // namespace pmesh::engine
