#include "server/api/api_server.h"

#include "server/api/health.h"

#include "server/api/discovery.h"
#include "server/api/present.h"
#include "server/auth/access_review.h"
#include "server/auth/impersonation.h"
#include "server/auth/rbac_escalation.h"
#include "server/auth/token_request.h"
#include "server/auth/token_review.h"

namespace pmesh::server {

namespace {


// What a workspace the user may not see answers: exactly what a missing one does.
ApiError unseen(const RequestInfo& info) {
  if (info.cluster == "root:orgs" && info.group == "core.platform-mesh.io" && info.resource == "accounts")
    return ApiError::not_found({"core.platform-mesh.io", "accounts"}, info.name);
  return ApiError::cluster_not_found(info.cluster);
}

}  // namespace

ApiServer::ApiServer(engine::Engine& engine, engine::DurableStore* store, boost::asio::io_context& io,
                     AfterCommit after_commit, Options options)
    : engine_(engine),
      store_(store),
      after_commit_(after_commit),
      options_(std::move(options)),
      authz_(engine, [this](const std::string& store, const std::string& user, const std::string& relation,
                            const std::string& object, bool* defined) {
        return fga_.store().ask(store, user, relation, object, defined);
      }),
      names_(engine),
      hub_(engine, names_, store, io, after_commit),
      resources_(engine, names_, store, hub_, io, after_commit),
      fga_(engine, [this](const engine::Result& r, HttpResponse answer) { return resources_.published(r, std::move(answer)); }),
      graphql_(io),
      metrics_(engine) {
  metrics_.set_watch_hub([this] { return hub_.size(); }, [this] { return hub_.events_sent(); },
                         [this] { return hub_.watches_rechecked(); }, [this] { return hub_.objects_rechecked(); });
  hub_.set_snapshots(&resources_.snapshots());
  // Organizations' stores come and go with the organizations; every store's
  // model is loaded again after a start (what its rule set derived is taken up
  // from the store).
  resources_.set_on_commit([this](const engine::Result& r) { fga_.committed(r); });
  // Platform Mesh's authorization webhook for bindings: an export under an
  // APIExportPolicy is bound only where the consumer's store says `bind`.
  // And kube's RBAC escalation prevention for Roles and bindings.
  resources_.set_admission([this](const ApiRequest& req, const Json& object) -> std::optional<ApiError> {
    if (req.kind && req.kind->group == "rbac.authorization.k8s.io") return rbac_escalation(authz_, req, object);
    if (!req.kind || req.kind->name != "APIBinding" || req.user.privileged()) return std::nullopt;
    const Json* ref = engine::find_fields(object, {"spec", "reference", "export"});
    std::string path = ref ? engine::string_field(*ref, "path") : "", name = ref ? engine::string_field(*ref, "name") : "";
    if (path.empty()) path = req.info.cluster;
    if (name.empty() || authz_.may_bind(req.info.cluster, path, name)) return std::nullopt;
    std::string op = req.verb == Verb::kCreate ? "create" : "update";
    return ApiError::forbidden(req.gr(), engine::string_field(object["metadata"], "name"),
                               "unable to " + op + " APIBinding: no permission to bind to export " + path + ":" + name);
  });
  for (const auto& problem : fga_.load())
    if (options_.log) options_.log("error", "authorization model: " + problem);
}

ApiServer::~ApiServer() { hub_.close_all(); }

HttpResponse ApiServer::transport_error(int code, const std::string& message) const {
  switch (code) {
    case 413: return status_response(ApiError::request_entity_too_large(message));
    case 431: return status_response(ApiError{431, "RequestHeaderFieldsTooLarge", message, nullptr});
    case 400: return status_response(ApiError::bad_request(message));
    default: return status_response(ApiError::internal(message));
  }
}

void ApiServer::observe(const std::string& method, const std::string& path, bool watch, int status, double seconds) {
  ApiError ignored;
  auto info = parse_request_path(path, &ignored);
  bool collection = info && info->kind == RequestInfo::Kind::kObject && info->name.empty();
  metrics_.request(request_verb(method, collection, watch), status, seconds);
}

std::optional<HttpResponse> ApiServer::refusal(const Decision& d, const RequestInfo& info, const GroupResource& gr,
                                               const std::string& name) const {
  if (!d.allowed && d.code == 404) return status_response(unseen(info));
  if (!d.allowed) return status_response(ApiError::forbidden(gr, name, d.message));
  if (!cluster_exists(info.cluster)) return status_response(unseen(info));
  return std::nullopt;
}

std::string ApiServer::reached(const std::string& cluster) const {
  std::string path = names_.path_of(cluster);
  return path.empty() ? cluster : path;
}

bool ApiServer::cluster_exists(const std::string& cluster) const {
  if (cluster == "root" || cluster == "*") return true;
  size_t colon = cluster.rfind(':');
  if (colon == std::string::npos) return false;
  return engine_.get({"Workspace", cluster.substr(0, colon), "", cluster.substr(colon + 1)}) != nullptr;
}

void ApiServer::log(const HttpRequest& http, const std::optional<HttpResponse>& res) const {
  if (!options_.log) return;
  bool write = http.method != "GET" && http.method != "HEAD";
  int code = res ? res->status : 200;
  if (res && res->later && !write) return;
  if (write || code >= 400 || !res || options_.log_reads)
    options_.log(code >= 500 ? "error" : code >= 400 ? "warning" : "info",
                 http.method + " " + http.target + " " + (res ? (res->later ? std::string("(when durable)") : std::to_string(code)) : std::string("watch")));
}

std::optional<HttpResponse> ApiServer::handle(const HttpRequest& http, const std::shared_ptr<Stream>& stream) {
  Target target;
  target.graphql = GraphqlGateway::workspace_of(http.path);
  if (auto vw = parse_virtual_workspace_path(http.path)) {
    target.info = parse_request_path(vw->inner, &target.error);
    if (!vw->export_cluster.empty()) vw->export_cluster = reached(vw->export_cluster);
    target.virtual_workspace = std::move(vw);
  } else if (!target.graphql) {
    target.info = parse_request_path(http.path, &target.error);
  }
  // `/clusters/<name>` is the cluster's path from here on (kcp's names).
  if (target.info) target.info->cluster = reached(target.info->cluster);
  if (target.graphql) target.graphql = reached(*target.graphql);
  if (target.info && target.info->kind == RequestInfo::Kind::kHealth) {
    std::vector<HealthCheck> checks = {{"ping", [] { return std::string(); }}};
    if (http.path.rfind("/readyz", 0) == 0)
      checks.push_back({"shutdown", [this] { return shutting_down_ ? std::string("the server is shutting down") : std::string(); }});
    return health_response(http.path, http.query, checks);
  }
  // A malformed workspace path is refused before anything else, as kcp's
  // WithClusterScope does; it names nothing that exists.
  bool fga = http.path == "/stores" || http.path.rfind("/stores/", 0) == 0;
  if (!target.info && target.error.code == 400 && !fga && !target.graphql) {
    std::optional<HttpResponse> res = status_response(target.error);
    log(http, res);
    return res;
  }
  if (!options_.authenticator) return acting_as(http, target, admin_user(), stream);
  std::string why;
  bool keys_unknown = false;
  auto user = options_.authenticator->authenticate(http.authorization, &why, &keys_unknown);
  if (!user && keys_unknown) {
    // The token names an OIDC key the server may not have yet: fetch the
    // keys off this thread, then try once more.
    HttpResponse later;
    later.later = [this, http, target, stream](Respond respond) {
      options_.authenticator->refresh_keys([this, http, target, stream, respond]() {
        std::string why2;
        auto again = options_.authenticator->authenticate(http.authorization, &why2, nullptr);
        if (!again) {
          if (options_.log) options_.log("warning", "unauthenticated request: " + why2);
          respond(status_response(ApiError::unauthorized()));
          return;
        }
        respond(acting_as(http, target, *again, stream));
      });
    };
    return later;
  }
  if (!user) {
    if (options_.log) options_.log("warning", "unauthenticated request: " + why + " (" + http.method + " " + http.target + ")");
    return status_response(ApiError::unauthorized());
  }
  return acting_as(http, target, *user, stream);
}

std::optional<HttpResponse> ApiServer::acting_as(const HttpRequest& http, const Target& target, const UserInfo& requester,
                                                 const std::shared_ptr<Stream>& stream) {
  // Impersonation is authorized in the request's workspace, by RBAC.
  std::string where = target.info ? target.info->cluster : "root";
  auto acting = impersonate(requester, http.impersonation,
                            [&](const std::string& group, const std::string& resource, const std::string& ns, const std::string& name) {
                              // Those who manage the workspace's identities too, as its cluster-admin in kcp.
                              return authz_.rbac_allows(requester, "impersonate", object_request(where, group, resource, ns, name)) ||
                                     authz_.can(requester, "manage_iam_roles", where);
                            });
  if (auto* refused = std::get_if<ApiError>(&acting)) {
    std::optional<HttpResponse> res = status_response(*refused);
    log(http, res);
    return res;
  }
  UserInfo& user = std::get<UserInfo>(acting);
  if (!http.impersonation.empty()) {
    // kcp's clients name the cluster by its name; pmesh keeps it as a path.
    if (auto it = user.extra.find(kClusterNameExtra); it != user.extra.end())
      for (auto& c : it->second) c = reached(c);
    // An impersonated ServiceAccount named without its workspace is this one's (kcp).
    std::string sa_ns, sa_name;
    if (parse_service_account_username(user.name, &sa_ns, &sa_name) && !user.extra.count(kClusterNameExtra))
      user.extra[kClusterNameExtra] = {where};
    // Whom RBAC let one impersonate is somebody in that workspace only (kcp's scopes).
    if (!requester.privileged()) user.extra[kScopesExtra].push_back("cluster:" + where);
  }
  // A ServiceAccount's request that names no workspace is for its own, as
  // kcp's in-cluster rewrite has it (a controller configured for one cluster).
  std::string home = home_cluster(user);
  bool api = http.path == "/api" || http.path == "/apis" || http.path.rfind("/api/", 0) == 0 || http.path.rfind("/apis/", 0) == 0;
  if (!home.empty() && api && !target.graphql) {
    Target own;
    own.info = parse_request_path("/clusters/" + home + http.path, &own.error);
    return authenticated(http, own, user, stream);
  }
  return authenticated(http, target, user, stream);
}

std::optional<HttpResponse> ApiServer::authenticated(const HttpRequest& http, const Target& target, const UserInfo& user,
                                                     const std::shared_ptr<Stream>& stream) {
  std::optional<HttpResponse> res;
  if (http.path == "/metrics") {
    // kube's bootstrap policy grants /metrics to system:monitoring; pmesh's
    // per-rule figures name the policies, so nobody else sees them.
    if (user.privileged() || user.in_group("system:monitoring"))
      res = HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.text(), {}, nullptr};
    else
      res = status_response(ApiError{403, "Forbidden", "forbidden: User \"" + user.name + "\" cannot get path \"/metrics\"", nullptr});
    log(http, res);
    return res;
  }
  if (http.path == "/stores" || http.path.rfind("/stores/", 0) == 0) {
    res = fga_.handle(http, user);
    log(http, res);
    return res;
  }
  // The ServiceAccount issuer's discovery, for whoever verifies its tokens.
  if (service_accounts_ && http.method == "GET" && (http.path == "/.well-known/openid-configuration" || http.path == "/openid/v1/jwks")) {
    bool jwks = http.path == "/openid/v1/jwks";
    res = HttpResponse{200, jwks ? "application/jwk-set+json" : "application/json",
                       (jwks ? service_accounts_->jwks() : service_accounts_->openid_configuration()).dump(), {}, nullptr};
    log(http, res);
    return res;
  }
  if (target.graphql) {
    res = graphql(http, *target.graphql, user, stream);
    log(http, res);
    return res;
  }
  if (target.virtual_workspace) {
    res = target.virtual_workspace->kind == VirtualWorkspacePath::Kind::kApiExport ? apiexport_content(http, target, user, stream)
                                                                                  : workspace_hook(http, target, user, stream);
    log(http, res);
    return res;
  }
  const std::optional<RequestInfo>& info = target.info;
  ApiError error;
  if (!info) {
    res = status_response(target.error);
  } else if (is_self_subject_access_review(http, *info)) {
    // Anyone may ask what they may do.
    res = self_subject_access_review(authz_, user, *info, http);
  } else if (is_self_subject_rules_review(http, *info)) {
    res = self_subject_rules_review(authz_, user, *info, http);
  } else if (is_self_subject_review(http, *info)) {
    // And who they are.
    res = self_subject_review(user, *info, [this](const std::string& path) { return names_.name_of(path); });
  } else if ((is_token_review(http, *info) && options_.authenticator) || is_subject_access_review(http, *info)) {
    // Reviews about others: for those who may create in the workspace.
    res = refusal(authz_.decide(user, "create", *info), *info, {info->group, info->resource}, "");
    if (!res && info->resource == "subjectaccessreviews") res = subject_access_review(authz_, *info, http);
    else if (!res)
      res = token_review(
          *options_.authenticator, http, [this](const std::string& line) { if (options_.log) options_.log("info", line); },
          [this](const std::string& path) { return names_.name_of(path); });
  } else if (info->kind != RequestInfo::Kind::kObject) {
    Decision d = authz_.decide(user, "get", *info);
    if (!d.allowed || !cluster_exists(info->cluster)) res = status_response(unseen(*info));
    else res = discovery(http, *info, engine_.kinds().in_cluster(info->cluster));
  } else {
    ApiRequest req;
    req.info = *info;
    req.user = user;
    auto verb = verb_of(http, *info, &error);
    if (!verb) {
      res = status_response(error);
    } else {
      req.verb = *verb;
      // A server-side apply of an object that does not exist creates it.
      std::string decided = verb_name(*verb);
      if (*verb == Verb::kPatch && media_type(http.content_type) == "application/apply-patch+yaml")
        if (const dsl::KindDecl* k = engine_.kinds().by_resource(info->cluster, info->group, info->version, info->resource))
          if (!engine_.get({k->key(), info->cluster, info->ns, info->name})) decided = "create";
      Decision d = *verb == Verb::kOther ? Decision{true, 200, ""} : authz_.decide(user, decided, *info);
      res = refusal(d, *info, req.gr(), info->name);
      if (!res && is_token_request(*info) && *verb == Verb::kCreate && service_accounts_)
        res = token_request(*service_accounts_, engine_, *info, http, std::time(nullptr));
      else if (!res) res = objects(http, std::move(req), stream);
    }
  }
  log(http, res);
  return res;
}

std::optional<HttpResponse> ApiServer::graphql(const HttpRequest& http, const std::string& workspace, const UserInfo& user,
                                               const std::shared_ptr<Stream>& stream) {
  // The workspace's schema is its discovery: shown to those who may see
  // the workspace, and a missing workspace answers as an unseen one.
  ApiError error;
  auto info = workspace == "*" ? std::nullopt : parse_request_path("/clusters/" + workspace + "/api", &error);
  if (!info) return status_response(workspace == "*" ? ApiError::not_found_route() : error);
  Decision d = authz_.decide(user, "get", *info);
  if (!d.allowed || !cluster_exists(workspace)) return status_response(unseen(*info));
  auto serve = [this, user](const HttpRequest& r, const std::shared_ptr<Stream>& s) {
    Target t;
    t.info = parse_request_path(r.path, &t.error);
    return authenticated(r, t, user, s);
  };
  return graphql_.handle(http, workspace, engine_.kinds().in_cluster(workspace), serve, stream);
}

HttpResponse ApiServer::discovery(const HttpRequest& http, const RequestInfo& info, const std::vector<const dsl::KindDecl*>& ks) {
  switch (info.kind) {
    case RequestInfo::Kind::kHealth:
    case RequestInfo::Kind::kObject:
    case RequestInfo::Kind::kRoot:
      return json_response(200, {{"paths", {"/api", "/api/v1", "/apis", "/healthz", "/openapi/v3", "/version"}}});
    case RequestInfo::Kind::kVersion: return json_response(200, version_info());
    case RequestInfo::Kind::kApiVersions: return json_response(200, api_versions(options_.address));
    case RequestInfo::Kind::kGroupList: return json_response(200, group_list(ks));
    case RequestInfo::Kind::kGroup: {
      Json g = api_group(ks, info.group);
      return g.is_null() ? status_response(ApiError::not_found_route()) : json_response(200, g);
    }
    case RequestInfo::Kind::kResourceList: {
      Json l = resource_list(ks, info.group, info.version);
      return l.is_null() ? status_response(ApiError::not_found_route()) : json_response(200, l);
    }
    case RequestInfo::Kind::kOpenApiV2:
      if (http.accept.find("protobuf") != std::string::npos)
        return HttpResponse{200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", openapi_v2_protobuf(), {}, nullptr};
      return json_response(200, openapi_v2_json());
    case RequestInfo::Kind::kOpenApiV3: {
      if (info.openapi_rest.empty()) return json_response(200, openapi_v3_root(ks));
      Json doc = openapi_v3_group_version(ks, info.openapi_rest);
      return doc.is_null() ? status_response(ApiError::not_found_route()) : json_response(200, doc);
    }
  }
  return status_response(ApiError::not_found_route());
}

std::optional<HttpResponse> ApiServer::objects(const HttpRequest& http, ApiRequest req, const std::shared_ptr<Stream>& stream,
                                               std::function<bool()> watch_allowed, std::string watch_decided_in) {
  const RequestInfo& info = req.info;
  if (!req.kind)
    for (const auto* k : engine_.kinds().in_cluster(info.cluster))
      if (k->group == info.group && k->version == info.version && k->plural == info.resource) req.kind = k;
  if (!req.kind) return status_response(ApiError::not_found_route());
  bool namespaced = req.kind->scope == dsl::Scope::kNamespaced;
  if (!namespaced && !info.ns.empty()) return status_response(ApiError::not_found_route());
  if (!info.subresource.empty() && !(info.subresource == "status" && req.kind->status_subresource))
    return status_response(ApiError::not_found_route());
  if (req.verb == Verb::kOther) return status_response(ApiError::method_not_allowed());
  if (info.wildcard() && req.verb != Verb::kList && req.verb != Verb::kWatch) {
    ApiError e = ApiError::method_not_supported(req.gr(), verb_name(req.verb));
    e.message += " in the `*` logical cluster";
    return status_response(e);
  }
  // The all-namespaces collection is read-only.
  if (namespaced && info.ns.empty() && (req.verb == Verb::kCreate || req.verb == Verb::kDeleteCollection))
    return status_response(ApiError::method_not_allowed());
  if (auto e = decode_object_request(http, &req)) return status_response(*e);
  bool admin = req.user.privileged();
  WatchSpec access;
  bool organizations = !admin && info.cluster == "root:orgs" && info.group == "core.platform-mesh.io" &&
                       info.resource == "accounts" && (req.verb == Verb::kList || req.verb == Verb::kWatch);
  if (organizations) {
    // Lists and watches of organizations show those the user may get.
    req.set_visible_by_key([this, user = req.user](std::string_view cluster, std::string_view, std::string_view name) {
      return cluster != "root:orgs" || authz_.sees_org(user, std::string(name));
    });
    req.visible_candidates = [this, user = req.user]() { return authz_.orgs_user_may_see(user); };
  }
  if (req.verb == Verb::kWatch) {
    // What may change the watch's access: the whole of it, or (what other
    // organizations' stores hold) one organization's visibility.
    std::function<bool(const engine::TupleView&)> whole = req.visible_depends_on;
    std::function<std::string(const engine::TupleView&)> one;
    if (!admin) {
      RequestInfo scope = info;
      if (!watch_allowed) watch_decided_in = info.cluster;
      access.allowed = watch_allowed ? std::move(watch_allowed)
                                     : std::function<bool()>([this, user = req.user, scope]() { return authz_.decide(user, "watch", scope).allowed; });
      auto mine = authz_.access_depends_on(req.user, std::move(watch_decided_in));
      whole = whole ? [mine, theirs = std::move(whole)](const engine::TupleView& t) mutable { return mine(t) || theirs(t); }
                    : std::move(mine);
    }
    if (organizations) one = authz_.orgs_seen_depend_on(req.user);
    if (whole || one)
      access.access_depends_on = [whole = std::move(whole), one = std::move(one)](const engine::TupleView& t, std::string* object) mutable {
        if (whole && whole(t)) return true;
        if (one) *object = one(t);
        return !object->empty();
      };
  }
  return resources_.serve(req, stream, std::move(access));
}

}  // namespace pmesh::server
