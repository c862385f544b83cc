// OpenFGA's resolution depth limit, emulated over materialized relations.
//
// OpenFGA answers a check by walking the model from the object down, one
// level per dispatch (dispatch_graph.h), and fails with
// authorization_model_resolution_too_complex when the walk needs a level at
// its limit. pmesh has the answer in one lookup, but answers what OpenFGA
// answers: where a relation is unbounded (on or above a cycle, or with a
// chain as long as the limit), the walk is replayed in OpenFGA's three-valued
// logic (allowed, denied, too complex; a union is allowed if any branch is,
// too complex if none is and one was; an intersection denied if any branch
// is; an exclusion as OpenFGA's table), with its cycle rule (a node already
// on the path is denied). The materialized relations guide it: branches that
// hold are taken first, so an allowed answer within the limit costs the
// length of its shortest chain. A denied answer costs what OpenFGA's walk
// costs: all that the model can reach from the object, once per node.
//
// Where pmesh differs: results found for a node are reused at any depth at
// which they still hold (OpenFGA's check cache reuses them at any depth),
// and a walk of more than kMaxResolutionSteps nodes is too complex (OpenFGA
// would run into its deadline).
//
// Thread safety: reads the engine; call where engine reads are allowed.
#pragma once

#include <cstddef>
#include <string>

#include "engine/engine.h"
#include "fga/lower.h"

namespace pmesh::fga {

inline constexpr std::size_t kMaxResolutionSteps = 100000;

// OpenFGA's error for a question past the limit.
[[noreturn]] void resolution_too_complex();

// Throws resolution_too_complex() where OpenFGA's check of (user, relation,
// object) would stop at `limit`. REQUIRES: the question was validated.
void check_resolution(const engine::Engine& e, const ModelView& m, const std::string& user, const std::string& relation,
                      const std::string& object, int limit);

// OpenFGA's walk itself, for a userset user (`group:eng#member`): a userset
// is in every relation whose walk reaches its own node (a parent folder's
// viewers are viewers; `define admin: member` holds `group:g#member` in
// group:g's admin), which the materialized relations hold only where tuples
// say so. Allowed or denied; throws resolution_too_complex() as above (no
// depth limit when `limit` is 0; the step limit stays).
bool walk_check(const engine::Engine& e, const ModelView& m, const std::string& user, const std::string& relation,
                const std::string& object, int limit);

// List-objects' part of the same rule: the objects of `type` whose walk for
// `relation` reaches the userset user's own node and is allowed, found by
// walking the dispatch edges backwards from that node (through the tuples
// that name it). Throws as walk_check().
std::vector<std::string> objects_reaching(engine::Engine& e, const ModelView& m, const Subject& userset,
                                          const std::string& type, const std::string& relation, int limit);

// The same for list-objects: each object found is checked, sharing one walk.
void list_objects_resolution(const engine::Engine& e, const ModelView& m, const std::vector<std::string>& objects,
                             const std::string& relation, const std::string& user, int limit);

// List-users' part of the rule: for a userset filter (`group#member`), the
// usersets of that type and relation whose own node the walk from
// (object, relation) reaches and that are allowed. Throws as walk_check().
std::vector<std::string> usersets_reached(const engine::Engine& e, const ModelView& m, const std::string& object,
                                          const std::string& relation, const Subject& filter, int limit);

// The same for list-users, which expands every branch from the object
// toward users of `filter` (a type, or `group#member`): too complex when
// that expansion reaches the limit, whatever it finds.
void list_users_resolution(const engine::Engine& e, const ModelView& m, const std::string& object,
                           const std::string& relation, const Subject& filter, int limit);

}  // namespace pmesh::fga
