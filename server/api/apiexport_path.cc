#include "server/api/apiexport_path.h"

namespace pmesh::server {

std::optional<ApiExportPath> parse_apiexport_path(const std::string& path) {
  const std::string prefix = kApiExportPrefix;
  if (path.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  size_t a = prefix.size();
  size_t b = path.find('/', a);
  if (b == std::string::npos || b == a) return std::nullopt;
  size_t c = path.find('/', b + 1);
  if (c == std::string::npos || c == b + 1) return std::nullopt;
  ApiExportPath out{path.substr(a, b - a), path.substr(b + 1, c - b - 1), path.substr(c)};
  if (out.inner.compare(0, 10, "/clusters/") != 0 || out.inner.size() == 10) return std::nullopt;
  return out;
}

}  // namespace pmesh::server
