// Kubernetes' protobuf encoding of the built-in kinds pmesh serves
// (ConfigMap, Secret, Namespace, ServiceAccount, Role, ClusterRole,
// RoleBinding, ClusterRoleBinding), of SelfSubjectAccessReview
// (what `kubectl auth can-i` asks) and of TokenRequest (`kubectl create
// token`), decoded to JSON.
//
// kubectl 1.32 and later send built-in kinds as protobuf
// ("k8s\0" + runtime.Unknown) and do not fall back to JSON when refused;
// they accept JSON responses. Only the fields these kinds have are decoded.
//
// Thread safety: pure.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace pmesh::server {

// nullopt and `error` set when `body` is not a protobuf object of a kind it knows.
std::optional<nlohmann::json> decode_protobuf_object(const std::string& body, std::string* error);

}  // namespace pmesh::server
