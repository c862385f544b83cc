// rbac.authorization.k8s.io's kinds as kube-apiserver types, defaults and
// validates them: Role, ClusterRole, RoleBinding, ClusterRoleBinding.
//
//   decode     a 400 for a field of the wrong JSON type (Go's decoder's words)
//   default    a binding's roleRef.apiGroup and its subjects' apiGroups
//   validate   ValidatePolicyRule, ValidateRoleBinding(Subject), the
//              aggregation selectors, and on update "cannot change roleRef"
//
// What they grant is stdlib/rbac.rules'; whether their writer may grant it,
// server/auth/rbac_escalation.h's.
//
// Thread safety: pure functions.
#pragma once

#include <optional>

#include "dsl/ast.h"
#include "server/api/status.h"

namespace pmesh::server {

inline constexpr const char* kRbacGroup = "rbac.authorization.k8s.io";

bool rbac_kind(const dsl::KindDecl& kind);

std::optional<ApiError> decode_rbac(const dsl::KindDecl& kind, const Json& object);
void default_rbac(const dsl::KindDecl& kind, Json& object);
// `old` is null on create.
FieldErrors validate_rbac(const dsl::KindDecl& kind, const Json& object, const Json& old);

}  // namespace pmesh::server
