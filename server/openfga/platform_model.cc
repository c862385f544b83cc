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
  // Namespaces, as the security-operator generates them: what bound
  // namespaced resources extend; an account's owners and members are its
  // namespaces' (authz.rules writes each namespace's parent).
  generated +=
      "\ntype core_namespace\n  relations\n"
      "    define parent: [core_platform-mesh_io_account]\n"
      "    define member: [role#assignee] or owner or member from parent\n"
      "    define owner: [role#assignee] or owner from parent\n"
      "    define get: member\n    define update: member\n    define delete: member\n"
      "    define patch: member\n    define watch: member\n";
  files.push_back({"<generated>/kinds.fga", generated});
  return files;
}

std::string bound_api_module(const std::string& group, const std::string& plural, const std::string& singular,
                             const std::string& scope) {
  std::string create = collection_relation("create", group, plural);
  bool namespaced = scope == "Namespaced";
  std::string owner_type = namespaced ? "core_namespace" : "core_platform-mesh_io_account";
  std::string m = "module " + plural + "\n\nextend type " + owner_type + "\n  relations\n";
  m += "    define " + create + ": owner\n";
  m += "    define " + collection_relation("list", group, plural) + ": member\n";
  m += "    define " + collection_relation("watch", group, plural) + ": member\n";
  m += "\ntype " + bound_type(group, plural, singular) + "\n  relations\n";
  m += "    define parent: [" + owner_type + "]\n";
  m += "    define member: [role#assignee] or owner or member from parent\n";
  m += "    define owner: [role#assignee] or owner from parent\n";
  for (const char* v : {"get", "update", "delete", "patch", "watch"}) m += std::string("    define ") + v + ": member\n";
  m += "    define manage_iam_roles: owner\n    define get_iam_roles: member\n    define get_iam_users: member\n";
  return m;
}

}  // namespace pmesh::server
