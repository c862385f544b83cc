#include "server/openfga/platform_model.h"

#include <set>

#include "server/auth/authz.h"
#include "stdlib/embedded.h"

namespace pmesh::server {

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
