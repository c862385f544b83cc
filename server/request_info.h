// What a request URL names, in kcp's and Kubernetes' path layout:
//
//   /clusters/<path>/api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>
//   /clusters/<path>/apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
//   /clusters/<path>/api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
//   /clusters/<path>/version, /openapi/v2, /openapi/v3[/...]
//
// A path without /clusters/<path> is the root cluster; `*` as the cluster
// path lists and watches across all clusters.
//
// Thread safety: pure.
#pragma once

#include <optional>
#include <string>

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
};

// nullopt for a path that names nothing.
std::optional<RequestInfo> parse_request_path(const std::string& path);

}  // namespace pmesh::server
