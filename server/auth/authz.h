// Authorization: each request is one question to the authorization model
// of the organization it is in (Platform Mesh's core model, in the
// organization's OpenFGA store; docs/security.md has the table).
//
// The relations the policies derive say where a request's workspace
// belongs: `workspace_account(path, account)` (the Account whose workspace
// it is, or the nearest above; root:orgs is an account of its own) and
// `account_store(account, store)`. The question is then `relation` of
// `user:<name>` to that account object:
//
//   get, update, patch, delete of a named object    the verb
//   list, watch, create in a collection             list_/watch_/create_<group>_<resource>: on the
//                                                   namespace (core_namespace:<cluster id>/<ns>) for
//                                                   a bound namespaced resource, else on the account
//                                                   (get, get, update for kinds the model has no such relation for)
//   an organization (an Account in root:orgs)       the verb on that organization's own account
//
// Members of `system:masters` may do anything; what RBAC grants in a
// workspace (Roles and bindings, stdlib/rbac.rules) is allowed there, in
// any workspace; otherwise nobody may do anything in root or (except
// organizations) in root:orgs. A workspace where the user
// may not `get` answers NotFound, as if it did not exist. A ServiceAccount
// is asked about as `model_user` in its own workspace, and is nobody in
// any other. Minting a ServiceAccount's token (serviceaccounts/token) is
// `manage_iam_roles` on the account.
//
// Thread safety: reads the engine (and adds to it the index of the model's
// tuples by user that orgs_user_may_see reads, an index no rule needs);
// call on the engine's thread.
#pragma once

#include <functional>
#include <string>

#include "engine/engine.h"
#include "server/api/request_info.h"
#include "server/auth/authn.h"

namespace pmesh::server {

struct Decision {
  bool allowed = false;
  int code = 403;  // 403 Forbidden, or 404 when the workspace must stay unseen
  std::string message;  // why not, as kube's authorizer words it
};

class Authorizer {
 public:
  // Asks `store`'s model whether `user` has `relation` to `object`; false
  // also when the model has no such relation. `defined` says whether it does.
  using Ask = std::function<bool(const std::string& store, const std::string& user, const std::string& relation,
                                 const std::string& object, bool* defined)>;
  Authorizer(engine::Engine& engine, Ask ask) : engine_(engine), ask_(std::move(ask)) {}

  // `verb`: get, list, watch, create, update, patch, delete.
  Decision decide(const UserInfo& user, const std::string& verb, const RequestInfo& info) const;
  // Whether `user` has `relation` to the account that `workspace` belongs to.
  bool can(const UserInfo& user, const std::string& relation, const std::string& workspace) const;
  // Platform Mesh's binding question: may the export `export_name` in
  // workspace `export_path` be bound in workspace `consumer`? The consumer
  // store's `bind` of the export (`apis_kcp_io_apiexport:<cluster id>/<name>`)
  // on the consumer's account, for an export some APIExportPolicy names;
  // true for any other (kcp's own bind permission decides those).
  bool may_bind(const std::string& consumer, const std::string& export_path, const std::string& export_name) const;
  // Whether a changed tuple may change what decide() answers `user` in
  // workspace `cluster` (its watches ask again on those, watch_hub.h): an
  // RBAC binding or role's rule in that workspace, which name the user by
  // subject, group or none at all; or a tuple of the model naming the user
  // as the model knows them, or everyone, in the store that decides there
  // (the model's relations are maintained, so a change of the user's access
  // through a role or a parent changes one of those too). decide() reads no
  // other tuple that names a user, so what tenants write in other stores
  // wakes no watch here. Any of the model's tuples naming the user counts
  // once the workspace's store is not the one it was (the workspace gone).
  std::function<bool(const engine::TupleView&)> access_depends_on(const UserInfo& user, std::string cluster) const;
  // The organization whose visibility to `user` (sees_org) a changed tuple
  // may change, "" for none: the one whose store holds a tuple of the model
  // naming the user or everyone.
  std::function<std::string(const engine::TupleView&)> orgs_seen_depend_on(const UserInfo& user) const;
  // Whether `user` may see organization `org` (in root:orgs lists).
  bool sees_org(const UserInfo& user, const std::string& org) const { return can(user, "get", "root:orgs:" + org); }
  // The organizations `user` may see, and perhaps more, sorted: those
  // whose stores hold a tuple naming the user as the model knows them or
  // everyone. A model grants a relation only through such a tuple (a
  // userset's and a parent's end in one, and the model's relations are
  // within one store), and sees_org asks nothing else, so an organization
  // not named here is one sees_org says no to. What a list or a watch of
  // organizations decides then follows the tuples naming the user, not how
  // many organizations there are.
  std::vector<std::string> orgs_user_may_see(const UserInfo& user) const;
  // The index orgs_user_may_see reads (the model's tuples by user), added
  // to `engine`'s state if it is not there yet (a server's first list of
  // organizations by a user who is no administrator does it); its number.
  static int index_tuples_by_user(engine::Engine& engine);

  const engine::Engine& engine() const { return engine_; }

  // Kubernetes RBAC in a workspace (stdlib/rbac.rules): whether its grants
  // allow `user` `verb` on what `info` names, and whether they grant `user`
  // anything there at all.
  bool rbac_allows(const UserInfo& user, const std::string& verb, const RequestInfo& info) const;
  bool rbac_visible(const UserInfo& user, const std::string& cluster) const;
  // Calls `fn` with each right RBAC grants `user` in `cluster`, as (cluster,
  // subject, ns, verb, group, resource, name): the join of rbac_binding and
  // rbac_role_perm; in namespace scope `ns` ("*" for the workspace's; ""
  // for any), until it returns false.
  void rbac_grants(const UserInfo& user, const std::string& cluster, const std::string& ns,
                   const std::function<bool(const std::vector<std::string>&)>& fn) const;
  // The same for the grants that apply in namespace `ns`: the workspace's
  // and, with `ns` not empty, the namespace's.
  void rbac_grants_applying(const UserInfo& user, const std::string& cluster, const std::string& ns,
                            const std::function<bool(const std::vector<std::string>&)>& fn) const;

 private:
  // decide() before the required groups: the model, RBAC, kcp's rules.
  Decision decide_access(const UserInfo& user, const std::string& verb, const RequestInfo& info) const;
  // kcp's required-groups authorizer: a workspace whose LogicalCluster says
  // `authorization.kcp.io/required-groups` is closed to users outside them
  // (ServiceAccounts and logical-cluster admins pass); nullopt: no opinion.
  std::optional<Decision> required_groups_deny(const UserInfo& user, const std::string& cluster) const;
  // The account object and store a workspace belongs to; false if none.
  bool where(const std::string& workspace, std::string* account, std::string* store) const;
  // The store alone ("" if none).
  std::string store_of(const std::string& workspace) const;
  // The subjects RBAC bindings may name `user` by ("User:<name>", "Group:<g>", "ServiceAccount:<ns>:<name>").
  // None for a ServiceAccount outside its own workspace.
  std::vector<std::string> rbac_subjects(const UserInfo& user, const std::string& cluster) const;
  // The relation that decides `verb` in a collection of `info`'s kind.
  std::string relation_for(const std::string& verb, const RequestInfo& info, const std::string& store,
                           const std::string& account, const std::string& subject, bool* allowed) const;

  engine::Engine& engine_;
  Ask ask_;
};

// kube's words for a denial, before its reason: `User "u" cannot get
// resource "r" in API group "g" at the cluster scope` (or in the namespace).
std::string cannot(const UserInfo& user, const std::string& verb, const RequestInfo& info);

// "user:<name>", with colons as dots, as the security-operator writes users.
std::string user_object(const std::string& name);
// Who `user` is in the model: user_object of the name, or for a
// ServiceAccount of its kcp-wide name
// (`system:kcp:serviceaccount:<workspace>:<ns>:<name>`), since its short
// name is the same in every workspace.
std::string model_user(const UserInfo& user);

// The relation that decides `verb` (create, list, watch) on a collection of
// `group`/`plural`, named as the security-operator names it: dots of the
// group as underscores, "core" for the core group, the group cut from the
// front to keep the longest of the three within OpenFGA's 50 characters.
std::string collection_relation(const std::string& verb, const std::string& group, const std::string& plural);
// The type the security-operator generates for a bound resource,
// `<group>_<singular>`, the group cut and spelled as collection_relation's.
std::string bound_type(const std::string& group, const std::string& plural, const std::string& singular);

}  // namespace pmesh::server
