// TokenRequest: `POST .../namespaces/<ns>/serviceaccounts/<name>/token`
// (`kubectl create token`), as kube-apiserver's serviceaccounts/token
// subresource answers it: a token for the ServiceAccount, for the API's
// audience unless others are asked for, valid `spec.expirationSeconds`
// (default 3600, at least 600, at most 2^32), optionally bound to a Secret
// (it dies with it). Pods and Nodes, which pmesh does not serve, are not
// found. The caller is authorized before (authz.h).
//
// Thread safety: reads the engine; call on the engine's thread.
#pragma once

#include <ctime>

#include "engine/engine.h"
#include "server/api/request_info.h"
#include "server/auth/service_account_tokens.h"
#include "server/http/http_server.h"

namespace pmesh::server {

// Whether `info` names the token subresource of a ServiceAccount.
bool is_token_request(const RequestInfo& info);

// The TokenRequest answered (201 with status.token), or the error.
HttpResponse token_request(const ServiceAccountTokens& tokens, const engine::Engine& engine, const RequestInfo& info,
                           const HttpRequest& http, std::time_t now);

}  // namespace pmesh::server
