// Where OpenFGA's Check goes from a relation, known from the model alone.
//
// OpenFGA resolves `check(user, T#R, object)` by dispatching sub-checks: to
// another relation of the object (a computed userset), to a relation of the
// objects a tupleset names (tuple-to-userset), and to the usersets written
// in a relation's tuples (`group:eng#member`). Each dispatch is one level
// of its resolution depth, and a check that needs a level at its limit
// (25, `resolveNodeLimit`) fails with authorization_model_resolution_too_complex.
// pmesh's relations are materialized and have no depth, so that limit is
// emulated (resolution.h); this graph says where it cannot matter:
//
//   - subjects: the kinds of user that can reach `T#R` at all (`U` for
//     `U:id` and `U:*`, `G#m` for usersets, among them those of every
//     relation `T#R` dispatches to, and its own). OpenFGA answers false at once,
//     at any depth, for a user no path reaches (its typesystem's PathExists).
//   - unbounded: relations from which a chain of dispatches can reach the
//     limit, because a cycle is reachable (parents of parents, nested
//     groups) or the longest chain is that long. For every other relation no
//     question is too complex, and a check stays one lookup.
//
// Thread safety: a plain value.
#pragma once

#include <map>
#include <set>
#include <string>

#include "fga/model.h"

namespace pmesh::fga {

// OpenFGA's default resolveNodeLimit.
inline constexpr int kResolveNodeLimit = 25;

struct DispatchGraph {
  std::map<std::string, std::set<std::string>> subjects;  // "T#R" -> {"U", "G#m"}
  std::set<std::string> unbounded;                        // "T#R"

  // Whether some chain of the model's rewrites leads from `user` to `T#R`.
  bool reachable(const std::string& type, const std::string& relation, const Subject& user) const;
  bool bounded(const std::string& type, const std::string& relation) const {
    return !unbounded.count(relation_ref(type, relation));
  }
};

// REQUIRES: validate(m) passed.
DispatchGraph dispatch_graph(const Model& m, int limit = kResolveNodeLimit);

}  // namespace pmesh::fga
