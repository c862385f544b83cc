// Access reviews, answered by the same Authorizer that decides requests:
//
//   SelfSubjectAccessReview  what `kubectl auth can-i` asks, for the requester
//   SelfSubjectRulesReview   what `kubectl auth can-i --list` asks: the
//                            requester's RBAC rules in a namespace (and what
//                            everyone may), `incomplete` where the
//                            authorization model grants more than it can list
//   SubjectAccessReview      what a component (a webhook, the GraphQL
//                            gateway) asks about somebody else: spec.user,
//                            groups, uid, extra, as kube-apiserver takes them.
//                            A ServiceAccount named without its workspace is
//                            the workspace's own, as kcp has it.
//
// Both are asked in the workspace of the request's path.
//
// Thread safety: reads the engine; call on the engine's thread.
#pragma once

#include <optional>

#include "server/api/request_info.h"
#include "server/auth/authz.h"
#include "server/http/http_server.h"

namespace pmesh::server {

// Whether `info` and `http` are a SelfSubjectAccessReview create.
bool is_self_subject_access_review(const HttpRequest& http, const RequestInfo& info);

bool is_subject_access_review(const HttpRequest& http, const RequestInfo& info);
bool is_self_subject_rules_review(const HttpRequest& http, const RequestInfo& info);

// The review answered (201), or a 400 for a body that is not one.
HttpResponse self_subject_access_review(const Authorizer& authz, const UserInfo& who, const RequestInfo& info,
                                        const HttpRequest& http);

// The requester's rules in `spec.namespace` of the request's workspace (201), or a 400.
HttpResponse self_subject_rules_review(const Authorizer& authz, const UserInfo& who, const RequestInfo& info,
                                       const HttpRequest& http);

// The review of `spec.user` (201), or a 400. REQUIRES: the requester may
// create subjectaccessreviews in the workspace.
HttpResponse subject_access_review(const Authorizer& authz, const RequestInfo& info, const HttpRequest& http);

}  // namespace pmesh::server
