// Objects as the KRM API shows them.
//
// The engine keeps an object's logical cluster in `metadata.cluster`; the
// API shows it in kcp's `kcp.io/cluster` annotation instead, lists the rules
// that manage the object as managedFields, and leaves out a zero generation.
//
// Thread safety: reads the engine; call on the engine's thread.
#pragma once

#include <string>

#include "engine/engine.h"

namespace pmesh::server {

using Json = nlohmann::json;

Json present(const engine::Engine& engine, const Json& object);

}  // namespace pmesh::server
