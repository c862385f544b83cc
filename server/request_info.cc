#include "server/request_info.h"

#include <vector>

namespace pmesh::server {

std::optional<RequestInfo> parse_request_path(const std::string& path) {
  std::vector<std::string> seg;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) seg.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  RequestInfo info;
  size_t i = 0;
  if (seg.size() >= 2 && seg[0] == "clusters") {
    info.cluster = seg[1];
    i = 2;
  }
  auto rest = [&](size_t k) { return seg.size() - k; };
  if (rest(i) == 0) return info;
  const std::string& head = seg[i];
  if (head == "healthz" || head == "livez" || head == "readyz") {
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
    return std::nullopt;
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
    return std::nullopt;
  }
  if (k == seg.size()) {
    info.kind = RequestInfo::Kind::kResourceList;
    return info;
  }
  info.kind = RequestInfo::Kind::kObject;
  // namespaces/<ns>/<resource>... ; but /api/v1/namespaces[/<name>[/status]] is the Namespace kind itself.
  if (seg[k] == "namespaces" && seg.size() - k >= 3) {
    info.ns = seg[k + 1];
    k += 2;
  }
  info.resource = seg[k];
  if (k + 1 < seg.size()) info.name = seg[k + 1];
  if (k + 2 < seg.size()) info.subresource = seg[k + 2];
  if (k + 3 < seg.size()) return std::nullopt;
  return info;
}

}  // namespace pmesh::server
