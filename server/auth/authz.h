// Authorization: may this user do this to what this request names?
//
// Decided by the relations the policies derive (policies/authz.rules): a
// request in a workspace is decided against the account the workspace
// belongs to (the Account whose workspace it is, or the nearest one above),
// by `can_<verb>(user:<name>, core_platform-mesh_io_account:<origin>/<name>)`.
// Members of `system:masters` may do anything. In root:orgs anyone
// authenticated may list organizations and create one; an organization
// itself is decided by its own account. A workspace the user may not even
// get answers NotFound, as if it did not exist.
//
// Thread safety: reads the engine; call on the engine's thread.
#pragma once

#include <string>

#include "engine/engine.h"
#include "server/api/request_info.h"
#include "server/auth/authn.h"

namespace pmesh::server {

struct Decision {
  bool allowed = false;
  int code = 403;  // 403 Forbidden, or 404 when the workspace must stay unseen
  std::string message;  // why not, as kube's authorizer words it
};

class Authorizer {
 public:
  explicit Authorizer(const engine::Engine& engine) : engine_(engine) {}

  // `verb`: get, list, watch, create, update, patch, delete.
  Decision decide(const UserInfo& user, const std::string& verb, const RequestInfo& info) const;
  // Whether the relation `can_<verb>` holds for `user` on the account that
  // `workspace` belongs to (false when it belongs to none).
  bool can(const UserInfo& user, const std::string& verb, const std::string& workspace) const;
  // Whether `user` may see organization `org` (in root:orgs lists).
  bool sees_org(const UserInfo& user, const std::string& org) const { return can(user, "get", "root:orgs:" + org); }

  const engine::Engine& engine() const { return engine_; }
  // The account object (core_platform-mesh_io_account:<origin>/<name>) a
  // workspace belongs to, or "".
  std::string account_of(const std::string& workspace) const;

 private:
  std::string origin_of(const std::string& cluster) const;

  const engine::Engine& engine_;
};

// "user:<name>", with colons as dots, as the security-operator writes users.
std::string user_object(const std::string& name);

}  // namespace pmesh::server
