// kube-apiserver's health endpoints: /healthz, /livez and /readyz, each a
// list of named checks. Plain asks answer `ok`; `?verbose` lists every check
// (`[+]ping ok`) and the verdict (`livez check passed`); `?exclude=NAME`
// skips one; `/livez/NAME` asks one. A failing check makes the answer 500,
// listing the checks with `[-]NAME failed: reason withheld` (the reason goes
// to the log, not to whoever asks: the endpoints are public, as kube's
// system:public-info-viewer makes them).
//
// Thread safety: call on the engine's thread; checks run there.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "server/http/http_server.h"

namespace pmesh::server {

struct HealthCheck {
  std::string name;
  std::function<std::string()> failure;  // empty when healthy
};

// REQUIRES: `path` starts with /healthz, /livez or /readyz.
HttpResponse health_response(const std::string& path, const std::map<std::string, std::string>& query,
                             const std::vector<HealthCheck>& checks);

}  // namespace pmesh::server
