// kube's RBAC escalation prevention: nobody grants, through a Role,
// ClusterRole or binding, what they do not hold themselves.
//
//   Role, ClusterRole     its rules must be held by the writer (in the
//                         Role's namespace, or across the workspace), unless
//                         RBAC grants them `escalate` on the role; a
//                         ClusterRole with an aggregationRule needs every
//                         right (`*` on `*`), as kube's "cluster-admin".
//   RoleBinding,          the rules of the role it names (aggregation
//   ClusterRoleBinding    included) must be held where the binding grants
//                         them, unless RBAC grants the writer `bind` on that
//                         role; a role that does not exist is NotFound.
//
// Those the model lets manage the workspace's identities
// (`manage_iam_roles`: its owners, whom kcp would make the workspace's
// cluster-admin) hold everything in it. Otherwise held means allowed by
// this server's authorization (the model or RBAC, authz.h) for a concrete
// right, and granted by RBAC with the same wildcards for a right with `*`.
// Refusals are kube's 403 ("user "bob" (groups=[...]) is attempting to
// grant RBAC permissions not currently held:" and the missing rules).
//
// Thread safety: reads the engine; call on the engine's thread.
#pragma once

#include <optional>

#include "engine/engine.h"
#include "server/api/request.h"
#include "server/api/status.h"
#include "server/auth/authz.h"

namespace pmesh::server {

// The refusal of `req` writing `object` (an RBAC kind), if it escalates.
std::optional<ApiError> rbac_escalation(const Authorizer& authz, const ApiRequest& req, const Json& object);

}  // namespace pmesh::server
