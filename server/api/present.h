// Objects as the KRM API shows them.
//
// The engine keeps an object's logical cluster in `metadata.cluster`; the
// API shows it in kcp's `kcp.io/cluster` annotation instead, lists the rules
// that manage the object as managedFields, and leaves out a zero generation.
// Encoding replaces what is not UTF-8 (which the engine refuses to store) so
// that rendering never fails.
//
// Thread safety: reads the engine; call on the engine's thread.
#pragma once

#include <string>

#include "engine/engine.h"

namespace pmesh::server {

using Json = nlohmann::json;

Json present(const engine::Engine& engine, const Json& object);
// JSON text of `v`, never throwing on invalid UTF-8.
std::string encode_json(const Json& v);

}  // namespace pmesh::server
