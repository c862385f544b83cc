// authentication.k8s.io's reviews, as kube-apiserver answers them:
//
//   TokenReview        whom a bearer token names (spec.token, spec.audiences):
//                      what components such as the GraphQL gateway and
//                      webhooks ask; for those who may `create tokenreviews`
//                      in the workspace (authz.h).
//   SelfSubjectReview  who the requester is (`kubectl auth whoami`); anyone.
//
// A failed TokenReview says why in status.error, as kube's does.
//
// Thread safety: call on the engine's thread (ServiceAccount tokens are
// checked against the store).
#pragma once

#include "server/api/request_info.h"
#include "server/auth/authn.h"
#include "server/http/http_server.h"

namespace pmesh::server {

bool is_token_review(const HttpRequest& http, const RequestInfo& info);
bool is_self_subject_review(const HttpRequest& http, const RequestInfo& info);

// The name kcp shows for the logical cluster at a path (a ServiceAccount's
// `authentication.kubernetes.io/cluster-name`, which pmesh keeps as a path).
using ClusterNameOf = std::function<std::string(const std::string& path)>;

// 201 with the review's status, or a 400 for a body that is not one.
HttpResponse token_review(const Authenticator& authn, const HttpRequest& http, const std::function<void(const std::string&)>& log,
                          const ClusterNameOf& name_of = nullptr);
HttpResponse self_subject_review(const UserInfo& who, const RequestInfo& info, const ClusterNameOf& name_of = nullptr);

// A user as the reviews write one ({username, uid, groups, extra}).
nlohmann::json user_info_json(const UserInfo& u, const ClusterNameOf& name_of = nullptr);

}  // namespace pmesh::server
