// Per-verb strategies: what a create or an update must be before the engine
// sees it, in the order kube-apiserver's handlers, admission and registry
// strategies check it.
//
// Create: types (400), type metadata matching the URL (400), the namespace
// the URL names (400 when the body names another; 404 when it does not
// exist, 403 while it terminates), system fields reset (uid, timestamps,
// generation, managedFields; status when the kind has a status
// subresource), generateName, ObjectMeta and the kind's own validation
// (422), no resourceVersion (kube's storage answers 500), size (413).
//
// Update (PUT, and a patch once applied): types (400), type metadata, name
// and namespace matching the URL (400), resourceVersion present (422),
// well-formed (400) and current (409), what may not change (uid: 422),
// status kept or, through /status, the only change; validation (422), size.
//
// Thread safety: reads the engine; call on the engine's thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/api/request.h"
#include "server/api/status.h"

namespace pmesh::server {

// The largest object pmesh stores: etcd's default request limit, which is
// what bounds an object in kube-apiserver.
constexpr size_t kMaxObjectBytes = 1536 * 1024;

// Turns a created body into the object to store, or the error to answer.
// `warnings` gets what kube would warn about (dropped unknown fields).
std::optional<ApiError> prepare_create(const engine::Engine& engine, const ApiRequest& req, Json& object,
                                       std::vector<std::string>* warnings);

// Turns an updated body (or a patched object) into the object to store.
// `rv_required`: a PUT must carry a resourceVersion; a patch that sets none
// updates whatever is current.
// What a body an update sends must say of its name: the URL's.
std::optional<ApiError> check_url_name(const Json& metadata, const std::string& name);
std::optional<ApiError> prepare_update(const ApiRequest& req, Json& object, const Json& current, bool rv_required, std::vector<std::string>* warnings);

// A random name for `generate_name`, as kube's SimpleNameGenerator makes
// one: the prefix (cut to 58 characters) and five random characters.
std::string generate_name(const std::string& generate_name);

}  // namespace pmesh::server
