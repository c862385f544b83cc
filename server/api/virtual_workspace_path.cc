#include "server/api/virtual_workspace_path.h"

#include <vector>

namespace pmesh::server {

namespace {

// `n` non-empty segments after `prefix`, then the rest (from its '/').
std::optional<std::pair<std::vector<std::string>, std::string>> segments(const std::string& path, const std::string& prefix,
                                                                         size_t n) {
  if (path.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::vector<std::string> out;
  size_t at = prefix.size();
  for (size_t i = 0; i < n; ++i) {
    size_t slash = path.find('/', at);
    if (slash == std::string::npos || slash == at) return std::nullopt;
    out.push_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  std::string inner = path.substr(at - 1);
  if (inner.compare(0, 10, "/clusters/") != 0 || inner.size() == 10) return std::nullopt;
  return std::make_pair(std::move(out), std::move(inner));
}

}  // namespace

std::optional<VirtualWorkspacePath> parse_virtual_workspace_path(const std::string& path) {
  VirtualWorkspacePath out;
  if (auto s = segments(path, "/services/apiexport/", 2)) {
    out.kind = VirtualWorkspacePath::Kind::kApiExport;
    out.export_cluster = s->first[0];
    out.export_name = s->first[1];
    out.inner = std::move(s->second);
    return out;
  }
  for (auto [prefix, kind] : {std::make_pair("/services/initializingworkspaces/", VirtualWorkspacePath::Kind::kInitializing),
                              std::make_pair("/services/terminatingworkspaces/", VirtualWorkspacePath::Kind::kTerminating)})
    if (auto s = segments(path, prefix, 1)) {
      out.kind = kind;
      out.hook = s->first[0];
      out.inner = std::move(s->second);
      return out;
    }
  return std::nullopt;
}

}  // namespace pmesh::server
