// OpenFGA's questions answered from the relations a lowered model keeps
// materialized in an engine: check is a lookup, list-objects and list-users
// a range over one relation. Requests are validated as OpenFGA validates
// them (types and relations the model defines, well-formed users and
// objects); problems raise FgaError with OpenFGA's codes.
//
// Thread safety: reads the engine; call where engine reads are allowed.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "fga/lower.h"
#include "fga/model.h"

namespace pmesh::fga {

// Whether a tuple may be written under `model`: OpenFGA's write validation
// (the object's type defines the relation, the user is of a type the
// relation's restrictions name). Throws FgaError(validation_error).
void validate_tuple(const Model& model, const std::string& user, const std::string& relation, const std::string& object);

// Whether (user, relation, object) is a question the model can answer (an
// assertion): well formed, of types and relations it defines. Throws FgaError.
void validate_question(const Model& model, const std::string& user, const std::string& relation, const std::string& object);

// check, list-objects and list-users fail as OpenFGA's do where resolving
// them would need more than `depth_limit` levels (resolution.h); 0 asks the
// relations alone, without a limit.
bool check(const engine::Engine& e, const ModelView& m, const std::string& user, const std::string& relation,
           const std::string& object, int depth_limit = kResolveNodeLimit);

// Objects of `type` to which `user` has `relation`, sorted.
std::vector<std::string> list_objects(engine::Engine& e, const ModelView& m, const std::string& type,
                                      const std::string& relation, const std::string& user,
                                      int depth_limit = kResolveNodeLimit);

// A user filter of list-users: a type, or a userset type (`group#member`).
struct UserFilter {
  std::string type, relation;
};
// The users that have `relation` to `object`, as OpenFGA's ListUsers
// answers them: {"object": {type, id}}, {"userset": {type, id, relation}},
// {"wildcard": {type}}.
nlohmann::json list_users(const engine::Engine& e, const ModelView& m, const std::string& object,
                          const std::string& relation, const std::vector<UserFilter>& filters,
                          int depth_limit = kResolveNodeLimit);

// OpenFGA's Expand: the userset tree of `relation` on `object`, one level
// deep ({"root": {"name": "doc:1#viewer", "union": {"nodes": [...]}}}),
// the direct users being the tuples the model admits.
nlohmann::json expand(const engine::Engine& e, const ModelView& m, const std::string& object, const std::string& relation);

// A user as list-users writes it, back to the string a tuple holds.
std::string user_string(const nlohmann::json& user);

}  // namespace pmesh::fga
