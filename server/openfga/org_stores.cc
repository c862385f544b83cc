// Organizations' stores as the platform keeps them until the core model
// serves them (issue "Authorization is a model", deliverable 4): the store
// is the organization's name; it sees the tuples of that organization's
// accounts, with relations derived by policies/authz.rules; writes take
// `member` and `bind` tuples from owners.
#include "server/openfga/openfga_api.h"

#include <nlohmann/json.hpp>

#include "engine/json_path.h"
#include "server/api/body.h"
#include "server/api/status.h"

namespace pmesh::server {

using engine::string_field;

using nlohmann::json;

namespace {

// The model's relation names as the policies' relations.
std::string relation_of(const std::string& r) {
  static const char* verbs[] = {"get", "list", "watch", "create", "update", "patch", "delete", "bind"};
  for (const char* v : verbs)
    if (r == v) return std::string("can_") + v;
  if (r == "member") return "members";
  if (r == "owner") return "owners";
  return r;
}

HttpResponse error(int code, const std::string& fga_code, const std::string& message) {
  return json_response(code, json{{"code", fga_code}, {"message", message}});
}

HttpResponse ok(const json& body) { return json_response(200, body); }

// Relations owners may grant through `write`: membership, and the right to
// bind the account's APIExports.
bool grantable(const std::string& relation) { return relation == "member" || relation == "bind"; }

// The account object a model string names: the account itself
// ("core_platform-mesh_io_account:<origin>/<name>") or one of its roles
// ("role:core_platform-mesh_io_account/<origin>/<name>/owner[#assignee]");
// "" for anything else.
std::string account_in(const std::string& s) {
  const std::string acct = "core_platform-mesh_io_account", role = "role:" + acct + "/";
  if (s.compare(0, acct.size() + 1, acct + ":") == 0) return s;
  if (s.compare(0, role.size(), role) != 0) return "";
  std::string rest = s.substr(role.size());
  size_t slash = rest.find('/');
  size_t end = slash == std::string::npos ? std::string::npos : rest.find('/', slash + 1);
  return end == std::string::npos ? "" : acct + ":" + rest.substr(0, end);
}

}  // namespace

HttpResponse org_store(engine::Engine& engine_, const Authorizer& authz_, const OpenFgaApi::Committed& committed_,
                       const HttpRequest& req, const UserInfo& user, const std::string& store, const std::string& op) {
  // One store per organization, named after it, as the security-operator
  // arranges them: each sees the tuples of its organization's accounts. A
  // store answers only those who may read its organization; to anyone else
  // it reads exactly like a store that does not exist.
  bool admin = user.in_group("system:masters");
  const json* org = store.empty() ? nullptr : engine_.get({"Account", "root:orgs", "", store});
  if (!org || (!admin && !authz_.sees_org(user, store))) return error(404, "store_id_not_found", "store not found");
  if (op.empty() && (req.method == "GET" || req.method == "HEAD")) {
    std::string created = string_field((*org)["metadata"], "creationTimestamp");
    return ok({{"id", store}, {"name", store}, {"created_at", created}, {"updated_at", created}});
  }
  if (op.empty() || req.method != "POST") return error(404, "undefined_endpoint", "unknown endpoint");
  // authz.rules says which organization each account belongs to.
  auto in_store = [&](const std::string& object) {
    std::string acct = account_in(object);
    return !acct.empty() && engine_.has_tuple("account_org", {acct, store});
  };
  json body = parse_json(req.body).value_or(json());
  if (!body.is_object()) return error(400, "validation_error", "the body must be a JSON object");
  auto key_of = [](const json& k) {
    return std::make_tuple(string_field(k, "user"), string_field(k, "relation"), string_field(k, "object"));
  };
  if (op == "check") {
    auto [u, r, o] = key_of(body.contains("tuple_key") ? body["tuple_key"] : json());
    if (u.empty() || r.empty() || o.empty()) return error(400, "validation_error", "tuple_key needs user, relation and object");
    return ok({{"allowed", in_store(o) && engine_.has_tuple(relation_of(r), {u, o})}, {"resolution", ""}});
  }
  if (op == "list-objects") {
    std::string type = string_field(body, "type"), rel = relation_of(string_field(body, "relation")), u = string_field(body, "user");
    json objects = json::array();
    engine_.state().scan_tuples(rel, [&](const std::string& fact) {
      auto [name, args] = engine::parse_tuple_fact(fact);
      const engine::TupleEntry* t = engine_.state().tuple(fact);
      if (t && t->exists() && args.size() == 2 && args[0] == u && args[1].compare(0, type.size() + 1, type + ":") == 0 &&
          in_store(args[1]))
        objects.push_back(args[1]);
      return true;
    });
    return ok({{"objects", objects}});
  }
  if (op == "read") {
    auto [u, r, o] = key_of(body.contains("tuple_key") ? body["tuple_key"] : json());
    json tuples = json::array();
    for (const auto& [fact, t] : engine_.state().tuples()) {
      if (!t.exists()) continue;
      auto [rel, args] = engine::parse_tuple_fact(fact);
      if (args.size() != 2 || (!r.empty() && rel != r) || (!u.empty() && args[0] != u) || (!o.empty() && args[1] != o) ||
          !in_store(args[1]))
        continue;
      tuples.push_back({{"key", {{"user", args[0]}, {"relation", rel}, {"object", args[1]}}}});
    }
    return ok({{"tuples", tuples}, {"continuation_token", ""}});
  }
  if (op == "write") {
    std::vector<engine::Op> ops;
    for (const char* part : {"writes", "deletes"}) {
      json keys = body.contains(part) && body[part].is_object() && body[part].contains("tuple_keys") ? body[part]["tuple_keys"] : json::array();
      if (!keys.is_array()) return error(400, "validation_error", "tuple_keys must be a list");
      for (const auto& k : keys) {
        auto [u, r, o] = key_of(k);
        if (!grantable(r) || u.empty() || o.empty())
          return error(400, "validation_error", "only member and bind tuples (user, object) can be written");
        if (!in_store(o)) return error(400, "validation_error", o + " is not an account of organization " + store);
        if (!admin && !engine_.has_tuple("owners", {user_object(user.name), o}))
          return error(403, "forbidden", "only owners of " + o + " may change its members");
        ops.push_back(std::string(part) == "writes" ? engine::Op::add_tuple(r, {u, o}) : engine::Op::remove_tuple(r, {u, o}));
      }
    }
    engine::Result r = engine_.apply(ops);
    if (!r.ok) return error(400, "validation_error", r.message);
    return committed_(r, ok(json::object()));
  }
  return error(404, "undefined_endpoint", "unknown endpoint " + op);
}

}  // namespace pmesh::server
