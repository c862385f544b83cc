#include "server/auth/rbac_escalation.h"

#include <map>
#include <set>

#include "engine/json_path.h"

namespace pmesh::server {

namespace {

using engine::string_field;

// One right: a verb on (group, resource, name), `*` as written; a
// non-resource URL is resource "nonresource:<url>" (stdlib/rbac.rules).
struct Perm {
  std::string verb, group, resource, name;
  bool operator<(const Perm& o) const {
    return std::tie(verb, group, resource, name) < std::tie(o.verb, o.group, o.resource, o.name);
  }
};

std::vector<std::string> strings(const Json& o, const char* key) {
  std::vector<std::string> out;
  if (o.is_object() && o.contains(key) && o[key].is_array())
    for (const auto& x : o[key])
      if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

std::set<Perm> perms_of_rules(const Json& rules) {
  std::set<Perm> out;
  if (!rules.is_array()) return out;
  for (const auto& r : rules) {
    auto urls = strings(r, "nonResourceURLs"), names = strings(r, "resourceNames");
    if (names.empty()) names = {"*"};
    for (const auto& v : strings(r, "verbs")) {
      for (const auto& u : urls) out.insert({v, "", "nonresource:" + u, "*"});
      if (!urls.empty()) continue;
      for (const auto& g : strings(r, "apiGroups"))
        for (const auto& res : strings(r, "resources"))
          for (const auto& n : names) out.insert({v, g, res, n});
    }
  }
  return out;
}

// What a stored role permits, aggregation included (rbac_role_perm).
std::set<Perm> perms_of_role(const engine::Engine& e, const std::string& cluster, const std::string& kind, const std::string& ns,
                             const std::string& name, bool* found) {
  std::set<Perm> out;
  *found = e.get({kind, cluster, kind == "Role" ? ns : "", name}) != nullptr;
  e.state().scan_tuples_with("rbac_role_perm", {cluster, kind, kind == "Role" ? ns : "", name}, [&](const engine::FactKey& fact) {
    const engine::TupleEntry* t = e.state().tuple(fact);
    if (!t || !t->exists()) return true;
    auto a = engine::parse_tuple_fact(fact).second;
    out.insert({a[4], a[5], a[6], a[7]});
    return true;
  });
  return out;
}

bool covers(const std::string& have, const std::string& want) { return have == "*" || have == want; }

bool resource_covers(const std::string& have, const std::string& want) {
  if (covers(have, want)) return true;
  size_t slash = want.find('/');
  return slash != std::string::npos && have == "*" + want.substr(slash);
}

// Whether `user`'s RBAC grants in `cluster` (across it, or in `ns`) cover `p`, wildcards as wildcards.
bool rbac_covers(const Authorizer& authz, const UserInfo& user, const std::string& cluster, const std::string& ns, const Perm& p) {
  bool held = false;
  authz.rbac_grants_applying(user, cluster, ns, [&](const std::vector<std::string>& g) {
    held = covers(g[3], p.verb) && covers(g[4], p.group) && resource_covers(g[5], p.resource) && covers(g[6], p.name);
    return !held;
  });
  return held;
}

// REQUIRES: `user` is not one who holds everything in the workspace.
bool holds(const Authorizer& authz, const UserInfo& user, const std::string& cluster, const std::string& ns, const Perm& p) {
  bool wild = p.verb == "*" || p.group == "*" || p.resource == "*" || p.resource.find('*') != std::string::npos ||
              p.resource.rfind("nonresource:", 0) == 0;
  // The model has no wildcards to compare: RBAC's must cover them.
  if (wild) return rbac_covers(authz, user, cluster, ns, p);
  return authz.decide(user, p.verb, object_request(cluster, p.group, p.resource, ns, p.name == "*" ? "" : p.name)).allowed;
}

// Go's %q of a []string: ["a" "b"].
std::string q(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + Json(v[i]).dump();
  return out + "]";
}

// kube's CompactString of the missing rules, merged by (group, resource, name).
std::string describe(const std::vector<Perm>& missing) {
  std::map<std::tuple<std::string, std::string, std::string>, std::set<std::string>> merged;
  for (const auto& p : missing) merged[{p.group, p.resource, p.name}].insert(p.verb);
  std::set<std::string> lines;
  for (const auto& [k, verbs] : merged) {
    auto [group, resource, name] = k;
    std::vector<std::string> vs(verbs.begin(), verbs.end());
    if (resource.rfind("nonresource:", 0) == 0) {
      lines.insert("{NonResourceURLs:" + q({resource.substr(12)}) + ", Verbs:" + q(vs) + "}");
      continue;
    }
    std::string s = "{APIGroups:" + q({group}) + ", Resources:" + q({resource});
    if (name != "*") s += ", ResourceNames:" + q({name});
    lines.insert(s + ", Verbs:" + q(vs) + "}");
  }
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}

}  // namespace

std::optional<ApiError> rbac_escalation(const Authorizer& authz, const ApiRequest& req, const Json& object) {
  if (!req.kind || req.kind->group != "rbac.authorization.k8s.io" || req.user.privileged()) return std::nullopt;
  const std::string& kind = req.kind->name;
  const std::string& cluster = req.info.cluster;
  std::string name = string_field(object["metadata"], "name"), ns = req.info.ns;
  GroupResource gr{req.info.group, req.info.resource};
  // What `user` may do to an RBAC object, by RBAC alone (the model has no such verbs).
  auto rbac_may = [&](const std::string& verb, const std::string& resource, const std::string& object_ns, const std::string& object_name) {
    return authz.rbac_allows(req.user, verb, object_request(cluster, "rbac.authorization.k8s.io", resource, object_ns, object_name));
  };
  // Who manages a workspace's identities holds everything in it, as kcp
  // makes a workspace's owner its cluster-admin.
  bool holds_all = authz.can(req.user, "manage_iam_roles", cluster);
  std::set<Perm> wanted;
  if (kind == "Role" || kind == "ClusterRole") {
    if (holds_all || rbac_may("escalate", req.info.resource, ns, name)) return std::nullopt;
    const Json* agg = engine::find_fields(object, {"aggregationRule"});
    if (kind == "ClusterRole" && agg && !agg->is_null() && !holds(authz, req.user, cluster, "", {"*", "*", "*", "*"}))
      return ApiError::forbidden(gr, name, "must have cluster-admin privileges to use the aggregationRule");
    wanted = perms_of_rules(object.value("rules", Json()));
  } else {
    const Json ref = object.value("roleRef", Json::object());
    std::string rk = string_field(ref, "kind"), rn = string_field(ref, "name");
    std::string role_ns = rk == "Role" ? ns : "";
    if (rbac_may("bind", rk == "Role" ? "roles" : "clusterroles", role_ns, rn)) return std::nullopt;
    bool found = false;
    wanted = perms_of_role(authz.engine(), cluster, rk, ns, rn, &found);
    if (!found) return ApiError::not_found({"rbac.authorization.k8s.io", rk == "Role" ? "roles" : "clusterroles"}, rn);
    if (holds_all) return std::nullopt;
  }
  std::vector<Perm> missing;
  for (const auto& p : wanted)
    if (!holds(authz, req.user, cluster, ns, p)) missing.push_back(p);
  if (missing.empty()) return std::nullopt;
  return ApiError::forbidden(gr, name,
                             "user " + Json(req.user.name).dump() + " (groups=" + q(req.user.groups) +
                                 ") is attempting to grant RBAC permissions not currently held:\n" + describe(missing));
}

}  // namespace pmesh::server
