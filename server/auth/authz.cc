#include "server/auth/authz.h"

#include <algorithm>
#include <set>

#include "fga/lower.h"
#include "server/auth/service_account_tokens.h"
#include "stdlib/text.h"

namespace pmesh::server {

std::string cannot(const UserInfo& user, const std::string& verb, const RequestInfo& info) {
  std::string resource = info.subresource.empty() ? info.resource : info.resource + "/" + info.subresource;
  return "User \"" + user.name + "\" cannot " + verb + " resource \"" + resource + "\" in API group \"" + info.group + "\" " +
         (info.ns.empty() ? "at the cluster scope" : "in the namespace \"" + info.ns + "\"");
}

std::string user_object(const std::string& name) {
  std::string u = name;
  for (char& c : u)
    if (c == ':') c = '.';
  return "user:" + u;
}

std::string model_user(const UserInfo& user) {
  std::string home = home_cluster(user), ns, name;
  if (!home.empty() && parse_service_account_username(user.name, &ns, &name))
    return user_object("system:kcp:serviceaccount:" + home + ":" + ns + ":" + name);
  return user_object(user.name);
}

namespace {

// Whether `t`, a tuple of a store's model, names `who` or everyone.
bool names(const engine::TupleView& t, std::string_view who) {
  return std::any_of(t.args.begin(), t.args.end(), [&](std::string_view a) { return a == who || a == "user:*"; });
}

}  // namespace

std::function<bool(const engine::TupleView&)> Authorizer::access_depends_on(const UserInfo& user, std::string cluster) const {
  std::string decided_by = store_of(cluster);
  return [this, who = model_user(user), cluster = std::move(cluster), decided_by](const engine::TupleView& t) mutable {
    if (t.relation == "rbac_binding" || t.relation == "rbac_role_perm") return !t.args.empty() && t.args[0] == cluster;
    if (!fga::is_store_relation(t.relation) || t.args.empty() || !names(t, who)) return false;
    std::string now = store_of(cluster);
    if (now == decided_by) return t.args[0] == now;
    decided_by = std::move(now);
    return true;
  };
}

std::function<std::string(const engine::TupleView&)> Authorizer::orgs_seen_depend_on(const UserInfo& user) const {
  return [this, who = model_user(user)](const engine::TupleView& t) -> std::string {
    if (!fga::is_store_relation(t.relation) || t.args.empty() || !names(t, who)) return "";
    return engine_.state().second_arg("store_org", std::string(t.args[0]));
  };
}

int Authorizer::index_tuples_by_user(engine::Engine& engine) {
  return engine.mutable_state().add_index({true, fga::kTupleRelation, {"3"}});
}

std::vector<std::string> Authorizer::orgs_user_may_see(const UserInfo& user) const {
  // An index no rule needs, made on first use.
  int by_user = index_tuples_by_user(engine_);
  // A store at a time: its tuples are one range of the bucket (in key
  // order, the store first), skipped past once one is found, so an owner's
  // many tuples naming everyone cost every user's list one step, not one
  // per tuple.
  std::vector<std::string> stores;
  for (const std::string& who : {model_user(user), std::string("user:*")}) {
    std::string key = engine::State::index_key({engine::Json(who)}), from;
    while (true) {
      std::string store;
      engine_.state().lookup_tuples(by_user, key, [&](const engine::FactKey& fact) {
        store = std::string(engine::view_tuple_fact(fact.str()).args.at(0));
        return false;
      }, from);
      if (store.empty()) break;
      from = engine::tuple_fact(fga::kTupleRelation, {store}) + static_cast<char>(engine::kFactSep + 1);
      stores.push_back(std::move(store));
    }
  }
  std::set<std::string> orgs;
  for (const auto& store : stores)
    if (std::string org = engine_.state().second_arg("store_org", store); !org.empty()) orgs.insert(std::move(org));
  return {orgs.begin(), orgs.end()};
}

std::string collection_relation(const std::string& verb, const std::string& group, const std::string& plural) {
  std::string g = group.empty() ? "core" : group;
  // As the security-operator's authorization model generation cuts it.
  std::string longest = "create_" + g + "_" + plural;
  if (longest.size() > 50) g = g.substr(longest.size() - 50);
  for (char& c : g)
    if (c == '.') c = '_';
  return verb + "_" + g + "_" + plural;
}

std::string bound_type(const std::string& group, const std::string& plural, const std::string& singular) {
  std::string create = collection_relation("create", group, plural);
  return create.substr(7, create.size() - 7 - plural.size() - 1) + "_" + singular;
}

bool Authorizer::where(const std::string& workspace, std::string* account, std::string* store) const {
  *account = engine_.state().second_arg("workspace_account", workspace);
  *store = account->empty() ? "" : engine_.state().second_arg("account_store", *account);
  return !store->empty();
}

std::string Authorizer::store_of(const std::string& workspace) const {
  std::string account, store;
  where(workspace, &account, &store);
  return store;
}

bool Authorizer::may_bind(const std::string& consumer, const std::string& export_path, const std::string& export_name) const {
  std::string id = engine_.state().second_arg("cluster_id", export_path);
  std::string exported = "apis_kcp_io_apiexport:" + id + "/" + export_name;
  if (id.empty() || !engine_.has_tuple("policed_export", {exported})) return true;
  std::string account, store;
  return where(consumer, &account, &store) && ask_(store, exported, "bind", account, nullptr);
}

bool Authorizer::can(const UserInfo& user, const std::string& relation, const std::string& workspace) const {
  if (!in_scope(user, workspace)) return false;
  std::string account, store;
  return where(workspace, &account, &store) && ask_(store, model_user(user), relation, account, nullptr);
}

std::string Authorizer::relation_for(const std::string& verb, const RequestInfo& info, const std::string& store,
                                     const std::string& account, const std::string& subject, bool* allowed) const {
  // A token is its ServiceAccount's rights: minting one is for those who
  // manage the account's identities (kube treats it as impersonation).
  if (info.group.empty() && info.resource == "serviceaccounts" && info.subresource == "token") {
    *allowed = ask_(store, subject, "manage_iam_roles", account, nullptr);
    return "manage_iam_roles";
  }
  // An export's content (its virtual workspace: the exported resources in
  // every workspace bound to it) is the export's workspace's content: read
  // as the account is read, written as it is updated, deleted (one object
  // or a collection) as it is.
  if (info.group == "apis.kcp.io" && info.resource == "apiexports" && info.subresource == "content") {
    std::string rel = "update";
    if (verb == "get" || verb == "list") rel = "get";
    else if (verb == "watch") rel = "watch";
    else if (verb == "delete" || verb == "deletecollection") rel = "delete";
    *allowed = ask_(store, subject, rel, account, nullptr);
    return rel;
  }
  bool collection = verb == "create" || ((verb == "list" || verb == "watch") && info.name.empty());
  if (!collection) {
    // A named object of a bound resource is an object of its own in the
    // model (`<group>_<singular>:<cluster id>/[<namespace>/]<name>`), with
    // roles of its own; its parents make the account's owners and members its.
    if (const dsl::KindDecl* k = engine_.kinds().by_resource(info.cluster, info.group, info.version, info.resource);
        k && k->runtime && !info.name.empty()) {
      std::string id = engine_.state().second_arg("cluster_id", info.cluster);
      std::string object = bound_type(info.group, info.resource, k->singular) + ":" + id + "/" + (info.ns.empty() ? "" : info.ns + "/") + info.name;
      bool defined = false;
      *allowed = !id.empty() && ask_(store, subject, verb, object, &defined);
      if (defined && *allowed) return verb;
    }
    *allowed = ask_(store, subject, verb, account, nullptr);
    return verb;
  }
  std::string rel = collection_relation(verb, info.group, info.resource);
  bool defined = false;
  // A bound namespaced resource's collections are the namespace's
  // (`core_namespace:<cluster id>/<namespace>`, whose parent is the account).
  if (!info.ns.empty()) {
    std::string id = engine_.state().second_arg("cluster_id", info.cluster);
    *allowed = !id.empty() && ask_(store, subject, rel, "core_namespace:" + id + "/" + info.ns, &defined);
    if (defined) return rel;
  }
  *allowed = ask_(store, subject, rel, account, &defined);
  if (defined) return rel;
  // A kind the model has no relations for (one bound at run time): what
  // members may do with the account's objects.
  rel = verb == "create" ? "update" : "get";
  *allowed = ask_(store, subject, rel, account, nullptr);
  return rel;
}

std::vector<std::string> Authorizer::rbac_subjects(const UserInfo& user, const std::string& cluster) const {
  // A ServiceAccount of another workspace matches nothing here (kcp).
  if (!in_scope(user, cluster)) return {};
  std::vector<std::string> out = {"User:" + user.name};
  for (const auto& g : user.groups) out.push_back("Group:" + g);
  std::string ns, name;
  if (parse_service_account_username(user.name, &ns, &name)) out.push_back("ServiceAccount:" + ns + ":" + name);
  return out;
}

void Authorizer::rbac_grants(const UserInfo& user, const std::string& cluster, const std::string& ns,
                             const std::function<bool(const std::vector<std::string>&)>& fn) const {
  // The join of a subject's bindings with their roles' rights
  // (stdlib/rbac.rules), made here rather than stored.
  const engine::State& st = engine_.state();
  auto exists = [&](const engine::FactKey& fact) {
    const engine::TupleEntry* t = st.tuple(fact);
    return t && t->exists();
  };
  for (const auto& subject : rbac_subjects(user, cluster)) {
    bool more = true;
    std::vector<std::string> prefix = {cluster, subject};
    if (!ns.empty()) prefix.push_back(ns);
    st.scan_tuples_with("rbac_binding", prefix, [&](const engine::FactKey& binding) {
      if (!exists(binding)) return true;
      auto b = engine::parse_tuple_fact(binding).second;  // cluster, subject, ns, role kind, role ns, role
      st.scan_tuples_with("rbac_role_perm", {cluster, b[3], b[4], b[5]}, [&](const engine::FactKey& perm) {
        if (!exists(perm)) return true;
        auto p = engine::parse_tuple_fact(perm).second;  // cluster, kind, ns, role, verb, group, resource, name
        if (b[2] != "*" && p[6].rfind("nonresource:", 0) == 0) return true;
        more = fn({cluster, subject, b[2], p[4], p[5], p[6], p[7]});
        return more;
      });
      return more;
    });
    if (!more) return;
  }
}

void Authorizer::rbac_grants_applying(const UserInfo& user, const std::string& cluster, const std::string& ns,
                                      const std::function<bool(const std::vector<std::string>&)>& fn) const {
  bool more = true;
  auto each = [&](const std::vector<std::string>& g) { return more = fn(g); };
  rbac_grants(user, cluster, "*", each);
  if (more && !ns.empty()) rbac_grants(user, cluster, ns, each);
}

bool Authorizer::rbac_visible(const UserInfo& user, const std::string& cluster) const {
  bool any = false;
  rbac_grants(user, cluster, "", [&](const std::vector<std::string>&) { return !(any = true); });
  return any;
}

std::optional<Decision> Authorizer::required_groups_deny(const UserInfo& user, const std::string& cluster) const {
  if (cluster == "*") return std::nullopt;
  std::string ns, name;
  if (parse_service_account_username(user.name, &ns, &name)) return std::nullopt;  // as kcp: always let through
  for (const char* admin : {"system:kcp:logical-cluster-admin", "system:kcp:external-logical-cluster-admin"})
    if (user.in_group(admin)) return std::nullopt;
  const Json* lc = engine_.get({"LogicalCluster", cluster, "", "cluster"});
  const Json* value = lc ? engine::find_fields(*lc, {"metadata", "annotations", "authorization.kcp.io/required-groups"}) : nullptr;
  if (!value || !value->is_string()) return std::nullopt;
  // As kcp's code reads it (its docs say the reverse): alternatives split by
  // ";", each a set of groups split by "," that the user must all be in;
  // kcp's admins and workspace bootstrapper always qualify.
  std::vector<std::string> alternatives = split(value->get<std::string>(), ';');
  alternatives.push_back("system:kcp:admin");
  alternatives.push_back("system:kcp:tenancy:workspace-bootstrapper");
  for (const auto& alternative : alternatives) {
    bool all = true;
    for (const auto& g : split(alternative, ',')) all = all && user.in_group(g);
    if (all) return std::nullopt;
  }
  return Decision{false, 403, "user is not a member of required groups: " + value->get<std::string>()};
}

bool Authorizer::rbac_allows(const UserInfo& user, const std::string& verb, const RequestInfo& info) const {
  // kube's RBAC rule matching: `*` anywhere; a subresource only by
  // `resource/sub` or `*/sub`; resourceNames only for a request that names one.
  auto resource_ok = [&](const std::string& r) {
    if (r == "*") return true;
    if (info.subresource.empty()) return r == info.resource;
    return r == info.resource + "/" + info.subresource || r == "*/" + info.subresource;
  };
  // A request outside a namespace: only ClusterRoleBindings grant it.
  bool allowed = false;
  rbac_grants_applying(user, info.cluster, info.ns, [&](const std::vector<std::string>& g) {
    // cluster, subject, ns, verb, group, resource, name
    allowed = (g[3] == "*" || g[3] == verb) && (g[4] == "*" || g[4] == info.group) && resource_ok(g[5]) &&
              (g[6] == "*" || (!info.name.empty() && g[6] == info.name));
    return !allowed;
  });
  return allowed;
}

Decision Authorizer::decide(const UserInfo& user, const std::string& verb, const RequestInfo& info) const {
  Decision d = decide_access(user, verb, info);
  // kcp's required groups close a workspace to who could otherwise get in;
  // who could not still learns nothing (404).
  if (d.allowed && !user.privileged())
    if (auto denied = required_groups_deny(user, info.cluster)) {
      if (info.kind == RequestInfo::Kind::kObject) denied->message = cannot(user, verb, info) + ": " + denied->message;
      return *denied;
    }
  return d;
}

Decision Authorizer::decide_access(const UserInfo& user, const std::string& verb, const RequestInfo& info) const {
  // A ServiceAccount is somebody in its own workspace only, a scoped user in
  // its scopes, as in kcp; anywhere else nobody, and the workspace unseen.
  if (!in_scope(user, info.cluster)) return {false, 404, ""};
  if (user.privileged()) return {true, 200, ""};
  const std::string subject = model_user(user);
  std::string account, store;
  bool placed = info.cluster != "*" && where(info.cluster, &account, &store);
  // Those the model lets get in the workspace, or RBAC grants anything in it, know it exists.
  auto may_get = [&] { return (placed && ask_(store, subject, "get", account, nullptr)) || rbac_visible(user, info.cluster); };
  // Discovery, OpenAPI and version: what any authenticated client needs,
  // in the workspaces it can see (elsewhere they would tell that it exists).
  if (info.kind != RequestInfo::Kind::kObject) {
    if (info.cluster == "root" || info.cluster == "root:orgs" || info.cluster == "*" || may_get()) return {true, 200, ""};
    return {false, 404, ""};
  }
  // As kube's authorizer words a denial, with the workspace it happened in.
  std::string what = cannot(user, verb, info);
  auto denied = [&](const std::string& where) { return Decision{false, 403, what + ": " + where}; };
  if (info.cluster == "*") return denied("not allowed across all workspaces");
  // RBAC in the workspace, beside the model (as kcp with the authorization
  // webhook): its bindings are the workspace's writers' (who may bind only
  // what they hold), so they count in root and root:orgs too.
  if (rbac_allows(user, verb, info)) return {true, 200, ""};
  std::string in_ws = "not allowed in workspace \"" + info.cluster + "\"";
  bool org_accounts = info.cluster == "root:orgs" && info.group == "core.platform-mesh.io" && info.resource == "accounts";
  if (org_accounts && !info.name.empty() && verb != "create") {
    // An organization is decided by its own account, in its own store; to
    // those who may not get it, it does not exist.
    std::string org_account, org_store;
    if (!where("root:orgs:" + info.name, &org_account, &org_store)) return {false, 404, ""};
    if (ask_(org_store, subject, verb, org_account, nullptr)) return {true, 200, ""};
    if (!ask_(org_store, subject, "get", org_account, nullptr)) return {false, 404, ""};
    return denied(in_ws);
  }
  // root, and in root:orgs everything but organizations, are the platform's.
  if (info.cluster == "root" || (info.cluster == "root:orgs" && !org_accounts)) return denied(in_ws);
  if (!placed) return may_get() ? denied(in_ws) : Decision{false, 404, ""};
  bool allowed = false;
  relation_for(verb, info, store, account, subject, &allowed);
  if (allowed) return {true, 200, ""};
  if (info.cluster != "root:orgs" && !may_get()) return {false, 404, ""};
  return denied(in_ws);
}

}  // namespace pmesh::server
