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
// Beyond its own resources, the export reaches what its permission claims
// ask and the consumers accepted (kcp's boundAPIAuthorizer and claim
// labels): in a workspace whose binding applied the claim
// (policies/bindings.rules: claim_applied), the verbs both the binding and
// the export name (literally: "*" on one side and "get" on the other allow
// nothing), and only the objects the accepted selector selects; a write
// that would leave an object outside it is forbidden. And, read-only, the
// APIBindings to the export.
//
// A claim of another export's resource names it by that export's identity
// hash: it reaches the objects of workspaces whose binding of the resource
// has that identity (the rules decide it), never a same-named resource of
// a third export.
#include <set>

#include "engine/json_path.h"
#include "server/api/api_server.h"
#include "stdlib/builtins.h"

namespace pmesh::server {

namespace {

using engine::string_field;

// Whether `cluster` binds the resource `group`/`resource` from the export
// named `export_name` in the logical cluster `export_cluster` (a name):
// the rules' export_serves (policies/bindings.rules), so the resource, not
// just the export: an export that later offers what another export's
// binding serves there does not reach those objects.
bool binds(const engine::Engine& engine, const std::string& cluster, const std::string& export_cluster,
           const std::string& export_name, const std::string& group, const std::string& resource) {
  return engine.has_tuple("export_serves", {cluster, export_cluster, export_name, group, resource});
}

// Each tuple of `relation` (export_serves, claim_applied: the consumer's
// workspace first, then the export's cluster and name, group, resource) about
// group/resource of the export.
void for_each_consumer(const engine::Engine& engine, const std::string& relation, const std::string& export_cluster,
                       const std::string& export_name, const std::string& group, const std::string& resource,
                       const std::function<void(const engine::TupleView&)>& fn) {
  engine.state().scan_tuples(relation, [&](const engine::FactKey& f) {
    const engine::TupleEntry* t = engine.state().tuple(f);
    engine::TupleView v = engine::view_tuple_fact(f);
    if (t && t->exists() && v.args.size() >= 5 && v.args[1] == export_cluster && v.args[2] == export_name &&
        v.args[3] == group && v.args[4] == resource)
      fn(v);
    return true;
  });
}

// The workspaces where the export serves the resource (binds() of each),
// every object there seen.
ApiRequest::ClusterFilters serving_clusters(const engine::Engine& engine, const std::string& export_cluster,
                                            const std::string& export_name, const std::string& group, const std::string& resource) {
  ApiRequest::ClusterFilters out;
  for_each_consumer(engine, "export_serves", export_cluster, export_name, group, resource,
                    [&](const engine::TupleView& v) { out.emplace(v.args[0], nullptr); });
  return out;
}

// Whether `binding` is to the export, as kcp tells (its reference's name,
// and the export's cluster name in its status).
bool binds_export(const Json& binding, const std::string& export_cluster, const std::string& export_name) {
  const Json* name = engine::find_fields(binding, {"spec", "reference", "export", "name"});
  const Json* cluster = engine::find_fields(binding, {"status", "apiExportClusterName"});
  return name && *name == export_name && cluster && *cluster == export_cluster;
}

// An APIBinding of `cluster` to the export.
const Json* binding_to(const engine::Engine& engine, const std::string& cluster, const std::string& export_cluster,
                       const std::string& export_name) {
  const Json* found = nullptr;
  engine.state().scan_objects(engine::object_prefix("APIBinding", &cluster), [&](const engine::FactKey&, const engine::ObjectEntry& e) {
    if (binds_export(*e.effective, export_cluster, export_name)) found = &*e.effective;
    return !found;
  });
  return found;
}

const Json& claims_of(const Json& object, const char* section) {
  static const Json none = Json::array();
  const Json* c = engine::find_fields(object, {section, "permissionClaims"});
  return c && c->is_array() ? *c : none;
}

std::set<std::string> verbs_of(const Json& claim) {
  std::set<std::string> out;
  if (const Json* v = engine::find_fields(claim, {"verbs"}); v && v->is_array())
    for (const auto& x : *v)
      if (x.is_string()) out.insert(x.get<std::string>());
  return out;
}

// A claim as one workspace's binding applied it: the verbs it grants and
// the objects its selector selects.
struct AppliedClaim {
  std::set<std::string> verbs;
  Json selector;

  bool allows(const std::string& verb) const { return verbs.count(verb) || verbs.count("*"); }
  // A selector kcp's labeler could not read selects nothing.
  bool selects(const Json& object) const {
    if (!selector.is_object()) return false;
    if (selector.value("matchAll", false) == true) return true;
    const Json* labels = engine::find_fields(object, {"metadata", "labels"});
    try {
      return label_selector_matches(selector, labels ? *labels : Json());
    } catch (const std::exception&) {
      return false;
    }
  }
};

// A claim as the rules grant it (claim_applied's last argument: the verbs
// and the selector); none if it does not read as one.
std::optional<AppliedClaim> claim_of_grant(std::string_view text) {
  Json grant = Json::parse(text, nullptr, false);
  if (!grant.is_object()) return std::nullopt;
  return AppliedClaim{verbs_of(grant), grant.value("selector", Json())};
}

// The claim `cluster`'s binding applied for group/resource.
std::optional<AppliedClaim> applied_claim(const engine::Engine& engine, const std::string& cluster, const std::string& export_cluster,
                                          const std::string& export_name, const std::string& group, const std::string& resource) {
  std::optional<AppliedClaim> out;
  engine.state().scan_tuples_with("claim_applied", {cluster, export_cluster, export_name, group, resource}, [&](const engine::FactKey& fact) {
    out = claim_of_grant(engine::view_tuple_fact(fact).args.back());
    return !out;
  });
  return out;
}

// The workspaces whose binding applied a claim of group/resource that
// allows `verb`, each with the claim's selector (a copy: the filter runs on
// a reader thread).
ApiRequest::ClusterFilters claiming_clusters(const engine::Engine& engine, const std::string& export_cluster,
                                             const std::string& export_name, const std::string& group,
                                             const std::string& resource, const std::string& verb) {
  ApiRequest::ClusterFilters out;
  std::set<std::string, std::less<>> decided;
  for_each_consumer(engine, "claim_applied", export_cluster, export_name, group, resource, [&](const engine::TupleView& v) {
    // A workspace's first readable grant decides, as applied_claim takes it.
    if (v.args.size() != 6 || decided.count(v.args[0])) return;
    auto claim = claim_of_grant(v.args[5]);
    if (!claim) return;
    decided.emplace(v.args[0]);
    if (claim->allows(verb))
      out.emplace(std::string(v.args[0]), [claim = *claim](const Json& object) { return claim.selects(object); });
  });
  return out;
}

// The kinds of what the export claims: the declared kinds of each claim
// without an identity, every served version; for a claim of another
// export's resource (its identity hash), that export's kinds of the
// resource (export_identity finds it).
std::vector<const dsl::KindDecl*> claimed_kinds(const engine::Engine& engine, const Json& export_object) {
  std::vector<const dsl::KindDecl*> out;
  const std::vector<const dsl::KindDecl*> declared = engine.kinds().in_cluster("");
  for (const auto& c : claims_of(export_object, "spec")) {
    std::string group = string_field(c, "group"), resource = string_field(c, "resource"), identity = string_field(c, "identityHash");
    if (identity.empty()) {
      for (const dsl::KindDecl* k : declared)
        if (k->group == group && k->plural == resource) out.push_back(k);
      continue;
    }
    engine.state().scan_tuples_with("export_identity", {identity}, [&](const engine::FactKey& fact) {
      auto args = engine::parse_tuple_fact(fact).second;
      for (const dsl::KindDecl* k : engine.kinds().exported(engine.state(), args[1], args[2]))
        if (k->group == group && k->plural == resource) out.push_back(k);
      return false;
    });
  }
  return out;
}

// Which changes of `relation` (workspace, export's cluster, export, group,
// resource, ...) may change what a view of that resource through the
// export shows.
std::function<bool(const engine::TupleView&)> about(const char* relation, const std::string& export_cluster,
                                                      const std::string& export_name, const std::string& group,
                                                      const std::string& resource) {
  return [=](const engine::TupleView& t) {
    return t.relation == relation && t.args.size() >= 5 && t.args[1] == export_cluster && t.args[2] == export_name &&
           t.args[3] == group && t.args[4] == resource;
  };
}

const dsl::KindDecl* find_kind(const std::vector<const dsl::KindDecl*>& kinds, const RequestInfo& info) {
  for (const auto* k : kinds)
    if (k->group == info.group && k->version == info.version && k->plural == info.resource) return k;
  return nullptr;
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
  const Json* export_object = engine_.get({"APIExport", export_path, "", vw.export_name});
  if (!export_object || !cluster_exists(export_path)) return status_response(ApiError::not_found(exports, vw.export_name));
  if (!d.allowed)
    return status_response(ApiError::forbidden({info.group, info.resource}, info.name,
                                               d.message + ": API export: \"" + vw.export_name + "\", workspace: \"" +
                                                   names_.name_of(export_path) + "\""));

  std::string export_cluster = names_.name_of(export_path), export_name = vw.export_name;
  std::vector<const dsl::KindDecl*> kinds = engine_.kinds().exported(engine_.state(), export_path, export_name);
  std::vector<const dsl::KindDecl*> claimed = claimed_kinds(engine_, *export_object);
  std::vector<const dsl::KindDecl*> bindings;
  for (const auto* k : engine_.kinds().in_cluster(""))
    if (k->group == "apis.kcp.io" && k->plural == "apibindings") bindings.push_back(k);
  auto unbound = [&] { return status_response(ApiError::cluster_not_found(info.cluster)); };
  if (!info.wildcard() && !binding_to(engine_, info.cluster, export_cluster, export_name)) return unbound();
  if (info.kind != RequestInfo::Kind::kObject) {
    std::vector<const dsl::KindDecl*> all = kinds;
    all.insert(all.end(), claimed.begin(), claimed.end());
    all.insert(all.end(), bindings.begin(), bindings.end());
    return discovery(http, info, all);
  }

  ApiRequest req;
  req.info = info;
  req.user = user;
  req.verb = *verb;
  auto watch_allowed = [this, user, content]() { return authz_.decide(user, "watch", content).allowed; };
  if ((req.kind = find_kind(kinds, info))) {
    std::string group = req.kind->group, resource = req.kind->plural;
    // In one workspace, the kind as it serves it (its binding's declaration).
    if (!info.wildcard()) {
      if (!binds(engine_, info.cluster, export_cluster, export_name, group, resource)) return unbound();
      if (!(req.kind = engine_.kinds().by_resource(info.cluster, info.group, info.version, info.resource)))
        return status_response(ApiError::not_found_route());
    }
    req.visible = [this, export_cluster, export_name, group, resource](const Json& object) {
      return binds(engine_, string_field(object["metadata"], "cluster"), export_cluster, export_name, group, resource);
    };
    // Lists go off the engine's thread with the workspaces decided here.
    if (!info.wildcard()) req.visible_clusters = [cluster = info.cluster]() { return ApiRequest::ClusterFilters{{cluster, nullptr}}; };
    else
      req.visible_clusters = [this, export_cluster, export_name, group, resource]() {
        return serving_clusters(engine_, export_cluster, export_name, group, resource);
      };
    req.visible_depends_on = about("export_serves", export_cluster, export_name, group, resource);
    return objects(http, std::move(req), stream, watch_allowed, content.cluster);
  }

  if ((req.kind = find_kind(claimed, info))) {
    std::string group = req.kind->group, resource = req.kind->plural, verb_asked = verb_name(req.verb);
    auto claim_in = [this, export_cluster, export_name, group, resource](const std::string& cluster) {
      return applied_claim(engine_, cluster, export_cluster, export_name, group, resource);
    };
    req.visible_depends_on = about("claim_applied", export_cluster, export_name, group, resource);
    if (!info.wildcard()) {
      auto claim = claim_in(info.cluster);
      if (!claim || !claim->allows(verb_asked))
        return status_response(ApiError::forbidden(req.gr(), info.name,
                                                   cannot(user, verb_asked, info) + ": failed to find suitable reason to allow access in APIBinding"));
      // Another export's resource: as the workspace's binding serves it.
      if (req.kind->runtime && !(req.kind = engine_.kinds().by_resource(info.cluster, info.group, info.version, info.resource)))
        return status_response(ApiError::not_found_route());
      req.visible = [claim = *claim](const Json& object) { return claim.selects(object); };
      req.writable = req.visible;
      req.visible_clusters = [cluster = info.cluster, visible = req.visible]() { return ApiRequest::ClusterFilters{{cluster, visible}}; };
    } else {
      // Across workspaces, the objects of those whose claim allows the verb.
      req.visible = [claim_in, verb_asked](const Json& object) {
        auto claim = claim_in(string_field(object["metadata"], "cluster"));
        return claim && claim->allows(verb_asked) && claim->selects(object);
      };
      req.visible_clusters = [this, export_cluster, export_name, group, resource, verb_asked]() {
        return claiming_clusters(engine_, export_cluster, export_name, group, resource, verb_asked);
      };
    }
    return objects(http, std::move(req), stream, watch_allowed, content.cluster);
  }

  if ((req.kind = find_kind(bindings, info))) {
    // A provider reads the bindings to its export; writing them would let
    // it accept its own claims.
    if (req.verb != Verb::kGet && req.verb != Verb::kList && req.verb != Verb::kWatch)
      return status_response(ApiError::forbidden(req.gr(), info.name,
                                                 cannot(user, verb_name(req.verb), info) +
                                                     ": write access to APIBinding is not allowed from virtual workspace"));
    req.visible = [export_cluster, export_name](const Json& object) { return binds_export(object, export_cluster, export_name); };
    // A function of the binding alone: lists are rendered off the engine's thread.
    req.visible_clusters = [visible = req.visible]() { return ApiRequest::ClusterFilters{{"*", visible}}; };
    return objects(http, std::move(req), stream, watch_allowed, content.cluster);
  }
  return status_response(ApiError::not_found_route());
}

}  // namespace pmesh::server
