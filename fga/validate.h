// Whether a model means something, judged as OpenFGA's typesystem judges it
// when a model is written (pkg/typesystem: NewAndValidate): schema version,
// unique types, reserved and malformed names, rewrites that name existing
// relations, tuplesets that are direct relations of plain types, type
// restrictions that exist and match assignability, an entrypoint for every
// relation, and no cycle through computed usersets alone. Messages are
// OpenFGA's. Beyond OpenFGA: conditions are refused (pmesh evaluates no CEL).
//
// Thread safety: pure function.
#pragma once

#include "fga/model.h"

namespace pmesh::fga {

// Throws FgaError (invalid_authorization_model) at the first problem, in
// OpenFGA's order: types sorted, relations sorted.
void validate(const Model& m);

}  // namespace pmesh::fga
