// What a request URL names, in kcp's and Kubernetes' path layout:
//
//   /clusters/<path>/api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>
//   /clusters/<path>/apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
//   /clusters/<path>/api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
//   /clusters/<path>/version, /openapi/v2, /openapi/v3[/...]
//   /healthz, /livez, /readyz
//
// A path without /clusters/<path> is the root cluster; `*` as the cluster
// path lists and watches across all clusters. A cluster path that is not a
// kcp logical cluster path is a 400, as kcp's WithClusterScope answers; an
// object name that cannot name a stored object ("." or "..", "%" inside) is
// a 400, as kube's storage key functions answer.
//
// Thread safety: pure.
#pragma once

#include <optional>
#include <string>

#include "server/api/status.h"

namespace pmesh::server {

struct RequestInfo {
  enum class Kind { kRoot, kVersion, kApiVersions, kGroupList, kGroup, kResourceList, kOpenApiV2, kOpenApiV3, kObject, kHealth };
  Kind kind = Kind::kRoot;
  std::string cluster = "root";
  std::string group;    // "" for the core group
  std::string version;
  std::string resource;  // plural
  std::string ns;
  std::string name;
  std::string subresource;
  std::string openapi_rest;  // after /openapi/v3/
  bool namespaces_resource() const { return group.empty() && resource == "namespaces"; }
  bool wildcard() const { return cluster == "*"; }
};

// A request about objects, as an authorizer is asked it: `resource` may
// carry its subresource ("serviceaccounts/token").
RequestInfo object_request(const std::string& cluster, const std::string& group, const std::string& resource,
                           const std::string& ns, const std::string& name);

// What `path` names, or a 400 (malformed cluster or name) or 404 (no such
// route) in `error`.
std::optional<RequestInfo> parse_request_path(const std::string& path, ApiError* error);

// kcp's logical cluster paths: DNS labels (at most 63 characters) joined by
// ':' ("root:orgs:acme").
bool valid_cluster_path(const std::string& path);

// Why `name` cannot be a path segment naming an object (kube's
// path.IsValidPathSegmentName), or "" when it can.
std::string path_segment_problem(const std::string& name);

}  // namespace pmesh::server
