#include "server/api/request_info.h"

#include <vector>

#include "stdlib/kube_validation.h"
#include "stdlib/text.h"

namespace pmesh::server {

bool valid_cluster_path(const std::string& path) {
  for (const auto& segment : split(path, ':'))
    if (!dns1123_label_problems(segment).empty()) return false;
  return true;
}

std::string path_segment_problem(const std::string& name) {
  std::string why;
  for (const auto& p : path_segment_problems(name)) why += (why.empty() ? "" : ";") + p;
  return why;
}

RequestInfo object_request(const std::string& cluster, const std::string& group, const std::string& resource,
                           const std::string& ns, const std::string& name) {
  RequestInfo info;
  info.kind = RequestInfo::Kind::kObject;
  info.cluster = cluster;
  info.group = group;
  size_t slash = resource.find('/');
  info.resource = resource.substr(0, slash);
  if (slash != std::string::npos) info.subresource = resource.substr(slash + 1);
  info.ns = ns;
  info.name = name;
  return info;
}

std::optional<RequestInfo> parse_request_path(const std::string& path, ApiError* error) {
  std::vector<std::string> seg;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) seg.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  auto none = [&]() {
    *error = ApiError::not_found_route();
    return std::nullopt;
  };
  RequestInfo info;
  size_t i = 0;
  if (!seg.empty() && seg[0] == "clusters") {
    if (seg.size() < 2) return none();
    info.cluster = seg[1];
    if (info.cluster != "*" && !valid_cluster_path(info.cluster)) {
      *error = ApiError::bad_request("invalid cluster: \"" + info.cluster + "\" does not match the regex");
      return std::nullopt;
    }
    i = 2;
  }
  auto rest = [&](size_t k) { return seg.size() - k; };
  if (rest(i) == 0) return info;
  const std::string& head = seg[i];
  if ((head == "healthz" || head == "livez" || head == "readyz") && i == 0) {
    info.kind = RequestInfo::Kind::kHealth;
    return info;
  }
  if (head == "version" && rest(i) == 1) {
    info.kind = RequestInfo::Kind::kVersion;
    return info;
  }
  if (head == "openapi") {
    if (rest(i) >= 2 && seg[i + 1] == "v2") {
      info.kind = RequestInfo::Kind::kOpenApiV2;
      return info;
    }
    if (rest(i) >= 2 && seg[i + 1] == "v3") {
      info.kind = RequestInfo::Kind::kOpenApiV3;
      for (size_t k = i + 2; k < seg.size(); ++k) info.openapi_rest += (k > i + 2 ? "/" : "") + seg[k];
      return info;
    }
    return none();
  }
  size_t k;
  if (head == "api") {
    if (rest(i) == 1) {
      info.kind = RequestInfo::Kind::kApiVersions;
      return info;
    }
    info.version = seg[i + 1];
    k = i + 2;
  } else if (head == "apis") {
    if (rest(i) == 1) {
      info.kind = RequestInfo::Kind::kGroupList;
      return info;
    }
    info.group = seg[i + 1];
    if (rest(i) == 2) {
      info.kind = RequestInfo::Kind::kGroup;
      return info;
    }
    info.version = seg[i + 2];
    k = i + 3;
  } else {
    return none();
  }
  if (k == seg.size()) {
    info.kind = RequestInfo::Kind::kResourceList;
    return info;
  }
  info.kind = RequestInfo::Kind::kObject;
  // namespaces/<ns>/<resource>... ; but namespaces[/<name>[/status|finalize]] is the Namespace kind itself
  // (kube's namespaceSubresources).
  if (seg[k] == "namespaces" && seg.size() - k >= 3 && seg[k + 2] != "status" && seg[k + 2] != "finalize") {
    info.ns = seg[k + 1];
    k += 2;
  }
  info.resource = seg[k];
  if (k + 1 < seg.size()) info.name = seg[k + 1];
  if (k + 2 < seg.size()) info.subresource = seg[k + 2];
  if (k + 3 < seg.size()) return none();
  if (!info.name.empty())
    if (std::string why = path_segment_problem(info.name); !why.empty()) {
      *error = ApiError::bad_request("Name parameter invalid: \"" + info.name + "\": " + why);
      return std::nullopt;
    }
  if (!info.ns.empty())
    if (std::string why = path_segment_problem(info.ns); !why.empty()) {
      *error = ApiError::bad_request("Namespace parameter invalid: \"" + info.ns + "\": " + why);
      return std::nullopt;
    }
  return info;
}

}  // namespace pmesh::server
