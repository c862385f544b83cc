#include "server/authz.h"

#include "engine/documents.h"
#include "server/protobuf_body.h"

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
std::string resource_name(const RequestInfo& info) {
  return info.group.empty() ? info.resource : info.resource + "." + info.group;
}

}  // namespace

std::string user_object(const std::string& name) {
  std::string u = name;
  for (char& c : u)
    if (c == ':') c = '.';
  return "user:" + u;
}

std::string Authorizer::verb_of(const std::string& method, const RequestInfo& info, bool watch) {
  if (method == "GET" || method == "HEAD") return watch ? "watch" : info.name.empty() ? "list" : "get";
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return "delete";
  return "get";
}

// The generated id of a logical cluster: kcp's logical cluster name.
std::string Authorizer::origin_of(const std::string& cluster) const {
  if (cluster == "root") return "root";
  const engine::Json* ws = engine_.get({"Workspace", parent_of(cluster), "", base_of(cluster)});
  if (!ws || !ws->contains("spec") || !(*ws)["spec"].contains("cluster")) return "";
  return (*ws)["spec"]["cluster"].get<std::string>();
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
  std::string what = "User \"" + user.name + "\" cannot " + verb + " resource \"" + resource_name(info) + "\"";
  if (info.cluster == "*") return {false, 403, what + " across all workspaces"};
  if (info.cluster == "root:orgs" && info.group == "core.platform-mesh.io" && info.resource == "accounts") {
    // Organizations: anyone may list them (seeing their own) and create one.
    if (verb == "list" || verb == "watch" || verb == "create") return {true, 200, ""};
    std::string ws = "root:orgs:" + info.name;
    if (can(user, verb, ws)) return {true, 200, ""};
    if (!can(user, "get", ws)) return {false, 404, ""};
    return {false, 403, what + " \"" + info.name + "\" in workspace \"root:orgs\""};
  }
  if (can(user, verb, info.cluster)) return {true, 200, ""};
  if (info.cluster == "root" || info.cluster == "root:orgs" || !can(user, "get", info.cluster)) {
    // Outside their reach a workspace does not exist.
    if (info.cluster == "root" || info.cluster == "root:orgs")
      return {false, 403, what + " in workspace \"" + info.cluster + "\""};
    return {false, 404, ""};
  }
  return {false, 403, what + " in workspace \"" + info.cluster + "\""};
}

std::optional<HttpResponse> AccessControl::review(const HttpRequest& req, const UserInfo& who) const {
  auto info = parse_request_path(req.path);
  if (!info || info->kind != RequestInfo::Kind::kObject || info->group != "authorization.k8s.io" ||
      info->resource != "selfsubjectaccessreviews" || req.method != "POST")
    return std::nullopt;
  nlohmann::json body;
  std::string err;
  if (req.content_type.find("protobuf") != std::string::npos) {
    auto decoded = decode_protobuf_object(req.body, &err);
    if (!decoded) return status_response(400, "BadRequest", err);
    body = *decoded;
  } else {
    body = nlohmann::json::parse(req.body, nullptr, false);
  }
  if (!body.is_object()) return status_response(400, "BadRequest", "the body must be a SelfSubjectAccessReview");
  const auto& attrs = body.value("spec", nlohmann::json::object()).value("resourceAttributes", nlohmann::json());
  bool allowed = true;
  std::string reason;
  if (attrs.is_object()) {
    RequestInfo asked;
    asked.kind = RequestInfo::Kind::kObject;
    asked.cluster = info->cluster;
    asked.group = attrs.value("group", "");
    asked.version = attrs.value("version", "");
    asked.resource = attrs.value("resource", "");
    asked.name = attrs.value("name", "");
    asked.ns = attrs.value("namespace", "");
    Decision d = authz_.decide(who, attrs.value("verb", "get"), asked);
    allowed = d.allowed;
    reason = allowed ? "allowed by the relations of policies/authz.rules" : d.message;
  }
  body["apiVersion"] = "authorization.k8s.io/v1";
  body["kind"] = "SelfSubjectAccessReview";
  body["metadata"] = {{"creationTimestamp", nullptr}};
  body["status"] = {{"allowed", allowed}};
  if (!reason.empty()) body["status"]["reason"] = reason;
  return HttpResponse{201, "application/json", body.dump()};
}

std::optional<HttpResponse> AccessControl::admit(HttpRequest& req, UserInfo* who, std::string* log) const {
  auto info = parse_request_path(req.path);
  if (info && info->kind == RequestInfo::Kind::kHealth) return std::nullopt;
  auto user = authn_.authenticate(req.authorization, log);
  if (!user) return status_response(401, "Unauthorized", "Unauthorized");
  *who = *user;
  if (!info) return std::nullopt;  // the API answers 404
  // Anyone may ask what they may do.
  if (info->group == "authorization.k8s.io" && info->resource == "selfsubjectaccessreviews") return std::nullopt;
  auto w = req.query.find("watch");
  bool watch = w != req.query.end() && (w->second == "true" || w->second == "True" || w->second == "1");
  std::string verb = Authorizer::verb_of(req.method, *info, watch);
  // A server-side apply of an object that does not exist creates it.
  bool apply_creates = false;
  if (verb == "patch" && req.content_type.find("apply-patch") != std::string::npos &&
      info->kind == RequestInfo::Kind::kObject)
    if (const dsl::KindDecl* k = authz_.engine().kinds().by_resource(info->cluster, info->group, info->version, info->resource))
      apply_creates = !authz_.engine().get({k->key(), info->cluster, info->ns, info->name});
  Decision d = authz_.decide(*user, apply_creates ? "create" : verb, *info);
  if (!d.allowed && d.code == 404) {
    if (info->cluster == "root:orgs")
      return status_response(404, "NotFound", "accounts.core.platform-mesh.io \"" + info->name + "\" not found");
    return status_response(404, "NotFound", "logical cluster \"" + info->cluster + "\" not found");
  }
  if (!d.allowed) return status_response(403, "Forbidden", d.message);
  // Lists and watches of organizations show those the user may get.
  if ((verb == "list" || verb == "watch") && !user->in_group("system:masters") &&
      (info->cluster == "root:orgs" || info->cluster == "*") && info->resource == "accounts") {
    req.visible = [this, u = *user](const std::string& cluster, const std::string& name) {
      return cluster != "root:orgs" || authz_.can(u, "get", "root:orgs:" + name);
    };
  }
  // An organization's creator is who creates it (its owner, by authz.rules):
  // with a create, or with a server-side apply of one that does not exist yet.
  if ((verb == "create" || apply_creates) && info->cluster == "root:orgs" && info->resource == "accounts" &&
      !user->in_group("system:masters")) {
    std::vector<engine::Document> docs;
    std::string err;
    if (engine::parse_documents(req.body, "request", &docs, &err) && docs.size() == 1 && docs[0].object.is_object()) {
      docs[0].object["spec"]["creator"] = user->name;
      req.body = docs[0].object.dump();  // JSON is YAML too: an apply patch stays one
      if (verb == "create") req.content_type = "application/json";
    }
  }
  return std::nullopt;
}

}  // namespace pmesh::server
