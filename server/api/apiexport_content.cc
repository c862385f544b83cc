// kcp's APIExport virtual workspace:
//
//   /services/apiexport/<export cluster>/<export>/clusters/*/...       every workspace bound to the export
//   /services/apiexport/<export cluster>/<export>/clusters/<name>/...  one of them
//
// A provider's controller, given only the URL of the export's endpoint
// slice, lists, watches and writes the exported resources in every
// consumer's workspace through it. As kcp's: the caller needs the request's
// verb on the export's `apiexports/content` in the export's workspace
// (kcp's content authorizer asks that of RBAC; here it is the workspace's
// authorization, the model or RBAC), and then acts in the consumers'
// workspaces without their authorization: binding the export granted it.
// Discovery shows the export's resources whether or not anyone binds them;
// a workspace that does not bind the export is not there (404), and the
// wildcard lists, watches (with resume from the change log) only the bound
// ones, an object leaving the view when its workspace's binding goes.
//
// Not yet: permission claims (kcp serves the claimed resources the
// bindings accepted here too) and resources told apart by identity.
#include "server/api/api_server.h"

namespace pmesh::server {

namespace {

// Whether `cluster` binds the resource `group`/`resource` from the export
// named `export_name` in the logical cluster `export_cluster` (a name):
// the rules' export_serves (policies/bindings.rules), so the resource, not
// just the export: an export that later offers what another export's
// binding serves there does not reach those objects.
bool binds(const engine::Engine& engine, const std::string& cluster, const std::string& export_cluster,
           const std::string& export_name, const std::string& group, const std::string& resource) {
  return engine.has_tuple("export_serves", {cluster, export_cluster, export_name, group, resource});
}

// Whether `cluster` binds the export at all (any of its resources).
bool binds_any(const engine::Engine& engine, const std::string& cluster, const std::string& export_cluster,
               const std::string& export_name, const std::vector<const dsl::KindDecl*>& kinds) {
  for (const auto* k : kinds)
    if (binds(engine, cluster, export_cluster, export_name, k->group, k->plural)) return true;
  return false;
}

}  // namespace

std::optional<HttpResponse> ApiServer::apiexport_content(const HttpRequest& http, const Target& target, const UserInfo& user,
                                                         const std::shared_ptr<Stream>& stream) {
  const VirtualWorkspacePath& vw = *target.virtual_workspace;
  if (!target.info) return status_response(target.error);
  const RequestInfo& info = *target.info;
  const std::string& export_path = vw.export_cluster;
  ApiError error;
  std::optional<Verb> verb;
  if (info.kind == RequestInfo::Kind::kObject) {
    verb = verb_of(http, info, &error);
    if (!verb) return status_response(error);
  }
  // kcp's content authorizer: the request's verb on apiexports/content.
  RequestInfo content = object_request(export_path, "apis.kcp.io", "apiexports/content", "", vw.export_name);
  Decision d = authz_.decide(user, verb ? verb_name(*verb) : "get", content);
  const GroupResource exports{"apis.kcp.io", "apiexports"};
  // Who may not see the export's workspace learns nothing about it.
  if (!d.allowed && d.code == 404) return status_response(ApiError::not_found(exports, vw.export_name));
  if (!engine_.get({"APIExport", export_path, "", vw.export_name}) || !cluster_exists(export_path))
    return status_response(ApiError::not_found(exports, vw.export_name));
  if (!d.allowed)
    return status_response(ApiError::forbidden({info.group, info.resource}, info.name,
                                               d.message + ": API export: \"" + vw.export_name + "\", workspace: \"" +
                                                   names_.name_of(export_path) + "\""));

  std::string export_cluster = names_.name_of(export_path), export_name = vw.export_name;
  std::vector<const dsl::KindDecl*> kinds = engine_.kinds().exported(engine_.state(), export_path, export_name);
  auto unbound = [&] { return status_response(ApiError::cluster_not_found(info.cluster)); };
  if (!info.wildcard() && !binds_any(engine_, info.cluster, export_cluster, export_name, kinds)) return unbound();
  if (info.kind != RequestInfo::Kind::kObject) return discovery(http, info, kinds);

  ApiRequest req;
  req.info = info;
  req.user = user;
  req.verb = *verb;
  for (const auto* k : kinds)
    if (k->group == info.group && k->version == info.version && k->plural == info.resource) req.kind = k;
  if (!req.kind) return status_response(ApiError::not_found_route());
  std::string group = req.kind->group, resource = req.kind->plural;
  // In one workspace, the kind as it serves it (its binding's declaration).
  if (!info.wildcard()) {
    if (!binds(engine_, info.cluster, export_cluster, export_name, group, resource)) return unbound();
    if (!(req.kind = engine_.kinds().by_resource(info.cluster, info.group, info.version, info.resource)))
      return status_response(ApiError::not_found_route());
  }
  req.visible = [this, export_cluster, export_name, group, resource](const std::string& cluster, const std::string&) {
    return binds(engine_, cluster, export_cluster, export_name, group, resource);
  };
  return objects(http, std::move(req), stream, [this, user, content]() { return authz_.decide(user, "watch", content).allowed; });
}

}  // namespace pmesh::server
