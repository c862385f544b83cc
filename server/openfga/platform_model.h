// Platform Mesh's authorization model, as organizations' stores hold it:
// the core module the security-operator ships
// (policies/authorization/core.fga) and, as the security-operator
// generates them for the resources it serves, `create_/list_/watch_`
// relations on the account for every kind the platform declares.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "dsl/program.h"

namespace pmesh::server {

// The model's module files: the embedded core module and one generated for
// `program`'s kinds.
std::vector<std::pair<std::string, std::string>> platform_model_files(const dsl::Program& program);

// The module the security-operator generates when an organization binds a
// resource (internal/subroutine/authorization_model_generation.go):
// create_/list_/watch_ relations on the account (cluster-scoped) or the
// namespace (namespaced), and a type `<group>_<singular>` of its own.
std::string bound_api_module(const std::string& group, const std::string& plural, const std::string& singular,
                             const std::string& scope);

}  // namespace pmesh::server
