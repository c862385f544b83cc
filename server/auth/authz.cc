#include "server/auth/authz.h"

namespace pmesh::server {

namespace {

std::string parent_of(const std::string& path) {
  size_t c = path.rfind(':');
  return c == std::string::npos ? "" : path.substr(0, c);
}
std::string base_of(const std::string& path) {
  size_t c = path.rfind(':');
  return c == std::string::npos ? path : path.substr(c + 1);
}

}  // namespace

std::string user_object(const std::string& name) {
  std::string u = name;
  for (char& c : u)
    if (c == ':') c = '.';
  return "user:" + u;
}

// The generated id of a logical cluster: kcp's logical cluster name.
std::string Authorizer::origin_of(const std::string& cluster) const {
  if (cluster == "root") return "root";
  const engine::Json* ws = engine_.get({"Workspace", parent_of(cluster), "", base_of(cluster)});
  const engine::Json* id = ws ? engine::find_fields(*ws, {"spec", "cluster"}) : nullptr;
  return id && id->is_string() ? id->get<std::string>() : "";
}

std::string Authorizer::account_of(const std::string& workspace) const {
  for (std::string p = workspace; !parent_of(p).empty(); p = parent_of(p)) {
    if (!engine_.get({"Account", parent_of(p), "", base_of(p)})) continue;
    std::string origin = origin_of(parent_of(p));
    if (origin.empty()) return "";
    return "core_platform-mesh_io_account:" + origin + "/" + base_of(p);
  }
  return "";
}

bool Authorizer::can(const UserInfo& user, const std::string& verb, const std::string& workspace) const {
  std::string acct = account_of(workspace);
  return !acct.empty() && engine_.has_tuple("can_" + verb, {user_object(user.name), acct});
}

Decision Authorizer::decide(const UserInfo& user, const std::string& verb, const RequestInfo& info) const {
  if (user.in_group("system:masters")) return {true, 200, ""};
  // Discovery, OpenAPI and version: what any authenticated client needs,
  // in the workspaces it can see (elsewhere they would tell that it exists).
  if (info.kind != RequestInfo::Kind::kObject) {
    if (info.cluster == "root" || info.cluster == "root:orgs" || info.cluster == "*" || can(user, "get", info.cluster))
      return {true, 200, ""};
    return {false, 404, ""};
  }
  // As kube's authorizer words a denial, with the workspace it happened in.
  std::string resource = info.subresource.empty() ? info.resource : info.resource + "/" + info.subresource;
  std::string what = "User \"" + user.name + "\" cannot " + verb + " resource \"" + resource + "\" in API group \"" +
                     info.group + "\" " + (info.ns.empty() ? "at the cluster scope" : "in the namespace \"" + info.ns + "\"");
  auto denied = [&](const std::string& where) { return Decision{false, 403, what + ": " + where}; };
  if (info.cluster == "*") return denied("not allowed across all workspaces");
  std::string in_ws = "not allowed in workspace \"" + info.cluster + "\"";
  if (info.cluster == "root:orgs" && info.group == "core.platform-mesh.io" && info.resource == "accounts") {
    // Organizations: anyone may list them (seeing their own) and create one.
    if (verb == "list" || verb == "watch" || verb == "create") return {true, 200, ""};
    std::string ws = "root:orgs:" + info.name;
    if (can(user, verb, ws)) return {true, 200, ""};
    if (!can(user, "get", ws)) return {false, 404, ""};
    return denied(in_ws);
  }
  if (can(user, verb, info.cluster)) return {true, 200, ""};
  // Outside their reach a workspace does not exist; root and root:orgs are
  // known to everyone.
  if (info.cluster == "root" || info.cluster == "root:orgs") return denied(in_ws);
  if (!can(user, "get", info.cluster)) return {false, 404, ""};
  return denied(in_ws);
}

}  // namespace pmesh::server
