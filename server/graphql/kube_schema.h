// The GraphQL schema of one workspace, generated from the OpenAPI v3
// schemas its discovery publishes, as platform-mesh's
// kubernetes-graphql-gateway generates it (gateway/schema in its source):
//
//   query    { <group> { <version> { <Plural>(...) <Kind>(...) <Kind>Yaml(...) } } }
//            core kinds directly under { v1 { ... } }
//   mutation { <group> { <version> { create<Kind> update<Kind> delete<Kind> } } applyYaml }
//   subscription { <group>_<version>_<kind>(...) <group>_<version>_<plural>(...) }
//   typeByCategory(name) { kind group version scope }: the kinds of a category
//
// Groups are sanitized (`core.platform-mesh.io` -> core_platform_mesh_io),
// types named <Pascal(group_version)><Kind> with nested types after their
// field paths, objects without properties as JSONString and string maps as
// StringMapInput. Arguments, their defaults and descriptions are the
// gateway's.
//
// Thread safety: pure functions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dsl/ast.h"
#include "server/graphql/schema.h"

namespace pmesh::graphql {

// `group` as a GraphQL name: what is not [_a-zA-Z0-9] becomes `_`, and a
// leading digit gets a `_` before it.
std::string sanitize_name(const std::string& group);

// The schema of a workspace whose kinds are `kinds`.
std::shared_ptr<const Schema> kube_schema(const std::vector<const dsl::KindDecl*>& kinds);

// A key that changes whenever kube_schema(kinds) would: for caching.
// REQUIRES: `kinds` are the engine's declarations (immutable, never freed).
std::string kube_schema_key(const std::vector<const dsl::KindDecl*>& kinds);

}  // namespace pmesh::graphql
