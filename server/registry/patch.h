// Patches applied to an object, as kube-apiserver's patch handler applies
// them: JSON patch (RFC 6902; a failing operation is a 422, and `copy` may
// duplicate at most 10 MiB, kube's JSONPatchMaxCopyBytes), JSON merge patch
// (RFC 7386), strategic merge patch (for the built-in kinds pmesh serves,
// whose fields have no merge keys, the same as a merge patch) and
// server-side apply (the applied configuration merged over the object; pmesh
// keeps no per-manager field sets).
//
// Thread safety: pure functions.
#pragma once

#include <optional>

#include "server/api/request.h"
#include "server/api/status.h"

namespace pmesh::server {

constexpr size_t kMaxJsonPatchCopyBytes = 10 * 1024 * 1024;

std::optional<Json> apply_patch(const Json& current, const Json& patch, PatchType type, ApiError* error);

}  // namespace pmesh::server
