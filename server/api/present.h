// Objects as the KRM API shows them.
//
// The engine keeps an object's logical cluster in `metadata.cluster` (its
// path); the API shows the cluster's name in kcp's `kcp.io/cluster`
// annotation instead, lists the rules
// that manage the object as managedFields, and leaves out a zero generation.
//
// Thread safety: reads the engine; call on the engine's thread.
#pragma once

#include <string>

#include "engine/engine.h"
#include "server/api/cluster_names.h"

namespace pmesh::server {

using Json = nlohmann::json;

// `as`: the version the request named, when it is not the one stored (a
// bound kind's other served version, KindDecl::storage): only apiVersion
// changes, as a CRD's `None` conversion does.
Json present(const engine::Engine& engine, const ClusterNames& names, const Json& object, const dsl::KindDecl* as = nullptr);

}  // namespace pmesh::server
