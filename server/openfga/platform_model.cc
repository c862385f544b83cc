#include "server/openfga/platform_model.h"

#include <set>

#include "stdlib/embedded.h"

namespace pmesh::server {

std::string collection_relation(const std::string& verb, const std::string& group, const std::string& plural) {
  std::string g = group.empty() ? "core" : group;
  // As the security-operator's authorization model generation cuts it.
  std::string longest = "create_" + g + "_" + plural;
  if (longest.size() > 50) g = g.substr(longest.size() - 50);
  for (char& c : g)
    if (c == '.') c = '_';
  return verb + "_" + g + "_" + plural;
}

std::vector<std::pair<std::string, std::string>> platform_model_files(const dsl::Program& program) {
  std::vector<std::pair<std::string, std::string>> files;
  std::string core;
  for (const auto& f : embedded_policies())
    if (std::string(f.path) == "policies/authorization/core.fga") core = f.text;
  files.push_back({"<embedded>/policies/authorization/core.fga", core});
  std::string generated = "module generated\n\nextend type core_platform-mesh_io_account\n  relations\n";
  std::set<std::string> seen;
  for (const auto& [name, kind] : program.kinds()) {
    for (const char* verb : {"create", "list", "watch"}) {
      std::string rel = collection_relation(verb, kind->group, kind->plural);
      if (core.find("define " + rel + ":") != std::string::npos || !seen.insert(rel).second) continue;
      // The security-operator's template: owners create, members list and watch.
      generated += "    define " + rel + (std::string(verb) == "create" ? ": owner\n" : ": member\n");
    }
  }
  files.push_back({"<generated>/kinds.fga", generated});
  return files;
}

}  // namespace pmesh::server
