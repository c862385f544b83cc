// OpenFGA's modeling language (the DSL) read into a Model.
//
//   model                              module core          (a module file:
//     schema 1.1                       extend type account   types and
//   type document                        relations           extensions, no
//     relations                            define x: owner   `model` header)
//       define viewer: [user, user:*, group#member] or editor or viewer from parent
//       define can_view: (viewer and allowed) but not blocked
//
// As OpenFGA's grammar has it, one relation mixes operators only through
// parentheses, and `but not` takes one subtrahend. Comments start with `#`
// at the start of a line or after a space. Several module files combine
// into one model as `fga model write` combines an fga.mod: types are
// unique, `extend type` adds relations to a type another file declares.
// Conditions (`condition name(...) {...}`) are read as far as to refuse
// them: pmesh evaluates no CEL.
//
// Errors are FgaError(validation_error) naming the file and line.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fga/model.h"

namespace pmesh::fga {

// `files`: (name, text) pairs; one file with a `model` header, or module files.
Model parse_dsl(const std::vector<std::pair<std::string, std::string>>& files);

// The model as DSL text (one file, no modules), as `fga model transform` writes it.
std::string to_dsl(const Model& m);

}  // namespace pmesh::fga
