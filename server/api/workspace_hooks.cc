// kcp's initializing and terminating virtual workspaces:
//
//   /services/initializingworkspaces/<initializer>/clusters/*/apis/core.kcp.io/v1alpha1/logicalclusters
//   /services/initializingworkspaces/<initializer>/clusters/<name>/apis/core.kcp.io/v1alpha1/logicalclusters/cluster[/status]
//   /services/initializingworkspaces/<initializer>/clusters/<name>/...   the workspace's content, as its owner
//   /services/terminatingworkspaces/<terminator>/clusters/...            the same, without content
//
// An external controller that initializes (or tears down) workspaces of a
// WorkspaceType lists and watches the logical clusters waiting for it, does
// its work in them, and finishes by removing itself from the
// LogicalCluster's status.initializers (status.terminators). As kcp's:
// authorized by the `initialize` (`terminate`) verb on the WorkspaceType in
// its workspace; a cluster that is not waiting for the initializer is not
// there; an update may only remove the caller's own entry (422 otherwise,
// with kcp's message); the content is reached as the workspace's owner (its
// owner annotation), while the cluster waits.
//
// pmesh derives a LogicalCluster's status from rules (policies/
// workspaces.rules: what is left of spec.initializers once `initialized`
// holds for it), so finishing records the fact the rules read: a stored
// tuple `initialized(<path>, <initializer>)` (`terminated` for
// terminators), which goes with the cluster (Engine::delete_cluster_contents).
#include "server/api/api_server.h"

#include "engine/json_path.h"
#include "server/api/present.h"
#include "server/registry/patch.h"

namespace pmesh::server {

using engine::string_field;

namespace {

// The relations of finished hooks, as policies/workspaces.rules declares them.
constexpr const char* kInitializedRelation = "initialized";
constexpr const char* kTerminatedRelation = "terminated";

std::vector<std::string> strings_at(const Json& o, const std::vector<std::string>& path) {
  std::vector<std::string> out;
  if (const Json* v = engine::find_fields(o, path); v && v->is_array())
    for (const auto& x : *v)
      if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

std::optional<HttpResponse> ApiServer::workspace_hook(const HttpRequest& http, const Target& target, const UserInfo& user,
                                                      const std::shared_ptr<Stream>& stream) {
  const VirtualWorkspacePath& vw = *target.virtual_workspace;
  bool initializing = vw.kind == VirtualWorkspacePath::Kind::kInitializing;
  const std::string& hook = vw.hook;
  const char* field = initializing ? "initializers" : "terminators";
  if (!target.info) return status_response(target.error);
  const RequestInfo& info = *target.info;

  // kcp names a hook after its type, "<type's workspace>:<type>".
  size_t colon = hook.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hook.size()) return status_response(ApiError::not_found_route());
  std::string type_path = reached(hook.substr(0, colon)), type_name = hook.substr(colon + 1);
  const GroupResource types{"tenancy.kcp.io", "workspacetypes"};
  const RequestInfo type = object_request(type_path, types.group, types.resource, "", type_name);
  const char* verb_needed = initializing ? "initialize" : "terminate";
  Decision d = authz_.decide(user, verb_needed, type);
  if (!d.allowed && d.code == 404) return status_response(ApiError::not_found(types, type_name));
  if (!d.allowed) return status_response(ApiError::forbidden(types, type_name, d.message));

  const dsl::KindDecl* lc_kind = engine_.kinds().declared("LogicalCluster");
  if (!lc_kind) return status_response(ApiError::not_found_route());
  // Whether the cluster at `path` waits for this hook: initializing, or
  // its workspace being deleted (the rules keep the cluster, without a
  // deletion time of its own, until its terminators are done).
  auto waiting = [this, hook, initializing, field](const std::string& path) -> const Json* {
    const Json* lc = engine_.get({"LogicalCluster", path, "", "cluster"});
    if (!lc || !has(strings_at(*lc, {"status", field}), hook)) return nullptr;
    if (initializing) return string_field(*engine::find_fields(*lc, {"status"}), "phase") == "Initializing" ? lc : nullptr;
    size_t colon = path.rfind(':');
    const Json* ws = colon == std::string::npos ? nullptr : engine_.get({"Workspace", path.substr(0, colon), "", path.substr(colon + 1)});
    const Json* deleting = ws ? engine::find_fields(*ws, {"metadata", "deletionTimestamp"}) : nullptr;
    return deleting && !deleting->is_null() ? lc : nullptr;
  };
  bool lc_request = info.kind == RequestInfo::Kind::kObject && info.group == lc_kind->group && info.resource == lc_kind->plural;

  if (info.wildcard()) {
    // Only the logical clusters waiting for the hook, read-only.
    if (info.kind != RequestInfo::Kind::kObject) return discovery(http, info, {lc_kind});
    if (!lc_request || info.version != lc_kind->version) return status_response(ApiError::not_found_route());
  } else if (!lc_request) {
    // The workspace's content, while it waits, as the one who made it.
    // (Terminators have no content access, as in kcp.)
    const Json* lc = initializing ? waiting(info.cluster) : nullptr;
    if (!lc)
      return status_response(ApiError{403, "Forbidden",
                                       std::string(initializing ? "initializer" : "terminator") + " \"" + hook + "\" cannot access this workspace", nullptr});
    const Json* owner = engine::find_fields(*lc, {"spec", "owner"});
    std::string parent = owner ? names_.path_of(string_field(*owner, "cluster")) : "";
    const Json* ws = parent.empty() ? nullptr : engine_.get({"Workspace", parent, "", owner ? string_field(*owner, "name") : ""});
    const Json* recorded = ws ? engine::find_fields(*ws, {"metadata", "annotations", "experimental.tenancy.kcp.io/owner"}) : nullptr;
    Json who = recorded && recorded->is_string() ? Json::parse(recorded->get<std::string>(), nullptr, false) : Json();
    if (!who.is_object() || string_field(who, "username").empty())
      return status_response(ApiError::internal("LogicalCluster " + names_.name_of(info.cluster) + "|cluster had no user recorded"));
    UserInfo as{string_field(who, "username"), string_field(who, "uid"), strings_at(who, {"groups"}), {}};
    if (const Json* extra = engine::find_fields(who, {"extra"}); extra && extra->is_object())
      for (const auto& [k, v] : extra->items()) as.extra[k] = strings_at(*extra, {k});
    Target inner;
    inner.info = info;
    return authenticated(http, inner, as, stream);
  }

  ApiError error;
  ApiRequest req;
  req.info = info;
  req.user = user;
  req.kind = lc_kind;
  auto verb = info.kind == RequestInfo::Kind::kObject ? verb_of(http, info, &error) : std::optional<Verb>(Verb::kGet);
  if (!verb) return status_response(error);
  req.verb = *verb;
  if (info.kind != RequestInfo::Kind::kObject) return discovery(http, info, {lc_kind});
  if (!info.wildcard() && (info.name != "cluster" || !waiting(info.cluster)))
    return status_response(ApiError::not_found({lc_kind->group, lc_kind->plural}, info.name.empty() ? "cluster" : info.name));
  if (req.verb == Verb::kGet || req.verb == Verb::kList || req.verb == Verb::kWatch) {
    req.set_visible_by_key([waiting](std::string_view cluster, std::string_view, std::string_view name) {
      return name == "cluster" && waiting(std::string(cluster));
    });
    return objects(http, std::move(req), stream, [this, user, type, verb_needed]() { return authz_.decide(user, verb_needed, type).allowed; },
                   type.cluster);
  }
  if (info.wildcard() || (req.verb != Verb::kUpdate && req.verb != Verb::kPatch))
    return status_response(ApiError::method_not_supported(req.gr(), verb_name(req.verb)));

  // Finishing: an update whose status drops the caller's own entry.
  if (auto e = decode_object_request(http, &req)) return status_response(*e);
  const Json* lc = waiting(info.cluster);
  Json current = present(engine_, names_, *lc);
  Json next;
  if (req.verb == Verb::kUpdate) {
    next = req.body ? *req.body : Json::object();
    std::string rv = next.contains("metadata") ? string_field(next["metadata"], "resourceVersion") : "";
    if (!rv.empty() && rv != string_field(current["metadata"], "resourceVersion"))
      return status_response(ApiError::stale({lc_kind->group, lc_kind->plural}, "cluster"));
  } else if (auto patched = apply_patch(current, req.body ? *req.body : Json::object(), req.patch_type, &error)) {
    next = std::move(*patched);
  } else {
    return status_response(error);
  }
  std::vector<std::string> before = strings_at(current, {"status", field}), after = strings_at(next, {"status", field});
  if (before.size() != after.size() + 1 || has(after, hook))
    return status_response(ApiError::invalid(
        "tenancy.kcp.io", "Workspace", "cluster",
        {FieldError::invalid(std::string("status.") + field, after,
                                   std::string("only removing the \"") + hook + "\" " + (initializing ? "initializer" : "terminator") +
                                       " is supported")}));
  if (req.write.dry_run) return json_response(200, next);
  engine::Result r = engine_.apply({engine::Op::add_tuple(initializing ? kInitializedRelation : kTerminatedRelation, {info.cluster, hook})});
  if (!r.ok) return status_response(ApiError::internal(r.message));
  // The last terminator gone, the cluster is gone: the answer is what was asked.
  const Json* now = engine_.get({"LogicalCluster", info.cluster, "", "cluster"});
  return resources_.published(std::move(r), json_response(200, now ? present(engine_, names_, *now) : next));
}

}  // namespace pmesh::server
