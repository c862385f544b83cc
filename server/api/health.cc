#include "server/api/health.h"
#include <algorithm>

namespace pmesh::server {

namespace {

HttpResponse text(int status, std::string body) { return HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}, nullptr}; }

}  // namespace

HttpResponse health_response(const std::string& path, const std::map<std::string, std::string>& query,
                             const std::vector<HealthCheck>& checks) {
  size_t slash = path.find('/', 1);
  std::string endpoint = path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  if (slash != std::string::npos) {  // one check
    std::string name = path.substr(slash + 1);
    for (const auto& c : checks)
      if (c.name == name) {
        std::string why = c.failure();
        return why.empty() ? text(200, "ok") : text(500, "internal server error: " + name + " failed: reason withheld\n");
      }
    return text(404, "404 page not found\n");
  }
  std::vector<std::string> excluded;
  // Go's url.Values: `exclude` may repeat; the decoder keeps the first.
  if (auto it = query.find("exclude"); it != query.end()) excluded.push_back(it->second);
  bool verbose = query.count("verbose") > 0;
  std::string list;
  bool failed = false;
  std::vector<std::string> unmatched = excluded;
  for (const auto& c : checks) {
    auto ex = std::find(unmatched.begin(), unmatched.end(), c.name);
    if (std::find(excluded.begin(), excluded.end(), c.name) != excluded.end()) {
      if (ex != unmatched.end()) unmatched.erase(ex);
      list += "[+]" + c.name + " excluded: ok\n";
      continue;
    }
    std::string why = c.failure();
    failed |= !why.empty();
    list += why.empty() ? "[+]" + c.name + " ok\n" : "[-]" + c.name + " failed: reason withheld\n";
  }
  for (const auto& u : unmatched) list += "warn: some health checks cannot be excluded: no matches for \"" + u + "\"\n";
  if (failed) return text(500, list + endpoint + " check failed\n");
  return verbose ? text(200, list + endpoint + " check passed\n") : text(200, "ok");
}

}  // namespace pmesh::server
