// The Kubernetes built-in kinds pmesh serves (ConfigMap, Secret, Namespace,
// ServiceAccount; RBAC's four in rbac_kinds.h) as
// kube-apiserver types and validates them: the Go types their fields decode
// into (a 400 for a wrong JSON type), defaults, and their validation
// (ValidateConfigMap, ValidateSecret, ValidateNamespace and the update
// variants) as field errors. Other kinds have none of this here.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dsl/ast.h"
#include "server/api/status.h"

namespace pmesh::server {

// Whether `kind` is one of kube's built-in types (the core group).
bool builtin_kind(const dsl::KindDecl& kind);

// Decodes `object` as its built-in type: a 400 for a field of the wrong
// type; unknown top-level fields are dropped (their names appended to
// `dropped`), write-only fields converted (a Secret's stringData).
std::optional<ApiError> decode_builtin(const dsl::KindDecl& kind, Json& object, std::vector<std::string>* dropped);
// Defaults on create (a Namespace's phase and finalizers and name label).
void default_builtin(const dsl::KindDecl& kind, Json& object);
// What kube sets on every write: a Namespace's name label, a binding's
// roleRef and subjects' apiGroups.
void default_every_write(const dsl::KindDecl& kind, Json& object);
// The kind's own validation; `old` is null on create.
FieldErrors validate_builtin(const dsl::KindDecl& kind, const Json& object, const Json& old);

// kube's IsConfigMapKey.
std::vector<std::string> config_key_problems(const std::string& key);

}  // namespace pmesh::server
