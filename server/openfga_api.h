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
// their roles). Writes take `member` tuples only, from owners of the
// object's account (or admins).
//
// Thread safety: runs on the engine's thread.
#pragma once

#include <optional>
#include <string>

#include "engine/engine.h"
#include "server/authn.h"
#include "server/http_server.h"

namespace pmesh::server {

class OpenFgaApi {
 public:
  explicit OpenFgaApi(engine::Engine& engine) : engine_(engine) {}
  // nullopt when the path is not under /stores/.
  std::optional<HttpResponse> handle(const HttpRequest& req, const UserInfo& user);

 private:
  engine::Engine& engine_;
};

}  // namespace pmesh::server
