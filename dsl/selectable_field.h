// apiextensions' selectableFields (a CustomResourceDefinition's versions,
// and kcp's APIResourceSchema's alike): the fields a custom resource's field
// selectors may name besides metadata.name and metadata.namespace, and kube's
// validation of them (ValidateCustomResourceSelectableFields, with the CEL
// library's ValidFieldPath for the paths), in its words. Beside
// printer_column.h: both are what a CRD version says of how its kind is
// served.
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "stdlib/field_error.h"

namespace pmesh::dsl {

// At most this many per version.
constexpr size_t kMaxSelectableFields = 8;

// The field label of a selectable field's jsonPath (".spec.color" gives
// "spec.color"), or "" for a path kube refuses whatever the schema: not a
// dot-separated path of fields, or one into metadata.
std::string selectable_field_label(const std::string& json_path);

// The errors in the selectableFields of each of `versions` (a spec's
// `versions`; `path` names it, "spec.versions"): a path that is missing,
// does not resolve in the version's schema (a field it does not declare,
// array notation), points into metadata or at a type other than string,
// boolean or integer, or is named twice; more than kMaxSelectableFields.
FieldErrors selectable_fields_errors(const Json& versions, const std::string& path);

}  // namespace pmesh::dsl
