// A model's store read as that model sees it: the tuples it admits (a tuple
// whose type restriction a newer model dropped counts for nothing, as in
// OpenFGA) and the relations its rules keep materialized.
//
// Thread safety: reads the engine; call where engine reads are allowed.
#pragma once

#include <string>
#include <vector>

#include "engine/engine.h"
#include "fga/lower.h"
#include "fga/model.h"

namespace pmesh::fga {

// Whether one of `def`'s type restrictions admits a tuple's user.
bool admits(const RelationDef& def, const Subject& s);
bool admits(const std::vector<TypeRestriction>& restrictions, const Subject& s);

// The users of the tuples `object#rel` that `def` admits.
std::vector<std::string> direct_users(const engine::Engine& e, const ModelView& m, const RelationDef& def,
                                      const std::string& object, const std::string& rel);

// Whether `user` (parsed as `u`) is in `r` on `store`'s `object`: in one of
// its parts (materialized, or the tuples as written that a view admits),
// wildcards and their exceptions included.
bool holds(const engine::Engine& e, const LoweredRelation& r, const std::string& store, const std::string& object,
           const Subject& u, const std::string& user);

}  // namespace pmesh::fga
