// SelfSubjectAccessReview: what `kubectl auth can-i` asks, answered for the
// requester by the same Authorizer that decides requests.
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

// The review answered (201), or a 400 for a body that is not one.
HttpResponse self_subject_access_review(const Authorizer& authz, const UserInfo& who, const RequestInfo& info,
                                        const HttpRequest& http);

}  // namespace pmesh::server
