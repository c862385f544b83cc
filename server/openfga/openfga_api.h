// An OpenFGA-compatible HTTP API over the relations the policies derive, so
// that tools written for OpenFGA can ask pmesh (and grant membership):
//
//   POST /stores/{store}/check         {"tuple_key": {user, relation, object}} -> {"allowed": bool}
//   POST /stores/{store}/list-objects  {"type", "relation", "user"}           -> {"objects": [...]}
//   POST /stores/{store}/read          {"tuple_key": {user?, relation?, object?}} -> {"tuples": [{"key": ...}]}
//   POST /stores/{store}/write         {"writes": {"tuple_keys": [...]}, "deletes": {"tuple_keys": [...]}}
//
// Relations are the model's: get, list, watch, create, update, patch and
// delete (the policies' can_<verb>), member and owner (their resolved
// members and owners), parent, assignee. A store is an organization (its
// name, as the security-operator keeps one store per organization): it
// sees the tuples whose object is one of that organization's accounts (or
// their roles). Writes take `member` and `bind` tuples only, from owners of
// the object's account (or admins). A store answers only users who may read
// its organization; to others it is exactly like a store that does not
// exist (404 store_id_not_found).
//
// Thread safety: runs on the engine's thread.
#pragma once

#include <optional>
#include <string>

#include <functional>

#include "engine/engine.h"
#include "server/auth/authn.h"
#include "server/auth/authz.h"
#include "server/http/http_server.h"

namespace pmesh::server {

class OpenFgaApi {
 public:
  // `committed(result, answer)` publishes a write and returns the answer to
  // send once it is durable.
  using Committed = std::function<HttpResponse(const engine::Result&, HttpResponse)>;
  OpenFgaApi(engine::Engine& engine, Committed committed) : engine_(engine), authz_(engine), committed_(std::move(committed)) {}
  // nullopt when the path is not under /stores/.
  std::optional<HttpResponse> handle(const HttpRequest& req, const UserInfo& user);

 private:
  engine::Engine& engine_;
  Authorizer authz_;
  Committed committed_;
};

}  // namespace pmesh::server
