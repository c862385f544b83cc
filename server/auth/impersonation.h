// Impersonation: a request that acts as another user (kube's
// Impersonate-User, Impersonate-Group, Impersonate-Uid and
// Impersonate-Extra-<key> headers, what `kubectl --as` sends).
//
// Each thing asked for is authorized against the requester with the verb
// `impersonate`, as kube-apiserver's WithImpersonation filter does: users,
// groups and service accounts (group ""), uids and user-extras
// (authentication.k8s.io). Members of `system:masters` may impersonate
// anyone; others what `may` allows (RBAC's `impersonate` in the request's
// workspace), never the group system:masters; whatever is refused is a 403 worded as kube words it, so a
// client never acts as itself while believing it acts as someone else.
//
// Thread safety: a pure function.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "server/api/status.h"
#include "server/auth/authn.h"

namespace pmesh::server {

// `headers`: the request's Impersonate-* headers as (lower-case name,
// value), in the order sent. Returns the requester itself when there are
// none, the user it acts as when each part is allowed, or the error.
// `may(group, resource, namespace, name)`: whether the requester may impersonate that.
using MayImpersonate = std::function<bool(const std::string& group, const std::string& resource, const std::string& ns,
                                          const std::string& name)>;
std::variant<UserInfo, ApiError> impersonate(const UserInfo& requester,
                                            const std::vector<std::pair<std::string, std::string>>& headers,
                                            const MayImpersonate& may = nullptr);

}  // namespace pmesh::server
