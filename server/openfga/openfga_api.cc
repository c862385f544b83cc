#include "server/openfga/openfga_api.h"

#include <chrono>
#include <set>

#include "fga/query.h"
#include "server/api/body.h"
#include "server/api/status.h"
#include "server/openfga/platform_model.h"
#include "server/auth/authz.h"
#include "stdlib/text.h"

namespace pmesh::server {

using engine::Op;
using fga::FgaError;
using nlohmann::json;

namespace {

// OpenFGA's limits (its server defaults).
constexpr int kMaxPageSize = 100, kDefaultPageSize = 50;
constexpr size_t kMaxTuplesPerWrite = 100, kMaxContextualTuples = 100, kMaxChecksPerBatch = 50;
constexpr size_t kMaxListResults = 1000, kMaxAssertions = 100, kMaxStoresPerUser = 100, kMaxModelBytes = 256 * 1024;

HttpResponse fga_error(int status, const std::string& code, const std::string& message) {
  return json_response(status, json{{"code", code}, {"message", message}});
}

HttpResponse from(const FgaError& e) {
  int status = e.code == "store_id_not_found" || e.code == "undefined_endpoint" ? 404
               : e.code == "internal_error"                                       ? 500
               : e.code == "forbidden"                                            ? 403
                                                                                  : 400;
  return fga_error(status, e.code, e.what());
}

[[noreturn]] void invalid(const std::string& message) { throw FgaError("validation_error", message); }

// Continuation tokens: opaque to clients, the last key a page held.
std::string token_of(const std::string& key) { return hex_encode(key); }

std::string key_of_token(const std::string& token) {
  auto nibble = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  if (token.size() % 2 || token.size() > 4096) throw FgaError("invalid_continuation_token", "Invalid continuation token");
  std::string out;
  for (size_t i = 0; i < token.size(); i += 2) {
    int hi = nibble(token[i]), lo = nibble(token[i + 1]);
    if (hi < 0 || lo < 0) throw FgaError("invalid_continuation_token", "Invalid continuation token");
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

int page_size(const json* v) {
  if (!v || v->is_null()) return kDefaultPageSize;
  long long n = 0;
  if (v->is_number_integer()) n = v->get<long long>();
  else if (v->is_string()) {
    try {
      size_t used = 0;
      n = std::stoll(v->get<std::string>(), &used);
      if (used != v->get<std::string>().size()) n = 0;
    } catch (const std::exception&) {
      n = 0;
    }
  }
  if (n < 1 || n > kMaxPageSize) invalid("invalid page_size: must be between 1 and " + std::to_string(kMaxPageSize));
  return static_cast<int>(n);
}

// A query parameter ("" when absent).
std::string param(const HttpRequest& req, const char* key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? "" : it->second;
}

// A GET's page: its size, and the key after which it starts ("" for the first).
std::pair<int, std::string> page_of(const HttpRequest& req) {
  std::string size = param(req, "page_size"), token = param(req, "continuation_token");
  json j = size.empty() ? json() : json(size);
  return {page_size(size.empty() ? nullptr : &j), token.empty() ? "" : key_of_token(token)};
}

const json* member(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

std::string text(const json& o, const char* key) {
  const json* v = member(o, key);
  if (!v) return "";
  if (!v->is_string()) invalid(std::string(key) + " must be a string");
  return v->get<std::string>();
}

struct TupleKey {
  std::string user, relation, object;
  std::vector<std::string> as_args() const { return {object, relation, user}; }
  json to_json() const { return {{"user", user}, {"relation", relation}, {"object", object}}; }
};

TupleKey tuple_key(const json& k) {
  if (!k.is_object()) invalid("tuple_key must be an object");
  if (member(k, "condition")) invalid("conditions are not supported: pmesh evaluates no CEL");
  return {text(k, "user"), text(k, "relation"), text(k, "object")};
}

// `contextual_tuples` as check takes them ({"tuple_keys": [...]}) or as
// list-users does (a list).
std::vector<std::vector<std::string>> contextual(const json& body) {
  const json* c = member(body, "contextual_tuples");
  if (!c) return {};
  const json* keys = c->is_array() ? c : member(*c, "tuple_keys");
  if (!keys) return {};
  if (!keys->is_array()) invalid("contextual_tuples.tuple_keys must be a list");
  if (keys->size() > kMaxContextualTuples)
    invalid("contextual_tuples: at most " + std::to_string(kMaxContextualTuples) + " tuples");
  std::vector<std::vector<std::string>> out;
  for (const auto& k : *keys) out.push_back(tuple_key(k).as_args());
  return out;
}

json store_json(const FgaStore::StoreInfo& s) {
  return {{"id", s.id}, {"name", s.name}, {"created_at", s.created_at}, {"updated_at", s.created_at}};
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

bool is_ulid(const std::string& s) {
  return s.size() == 26 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U');
         });
}

}  // namespace

OpenFgaApi::OpenFgaApi(engine::Engine& engine, Committed committed)
    : engine_(engine), committed_(std::move(committed)), store_(engine) {
  store_.set_platform_model(platform_model_files(*engine.program().program));
}

std::string OpenFgaApi::account_of_object(const std::string& object) {
  const std::string acct = "core_platform-mesh_io_account", role = "role:" + acct + "/";
  if (object.compare(0, acct.size() + 1, acct + ":") == 0) return object;
  if (object.compare(0, role.size(), role) != 0) return "";
  std::string rest = object.substr(role.size());
  size_t slash = rest.find('/'), end = slash == std::string::npos ? slash : rest.find('/', slash + 1);
  if (end == std::string::npos || rest.find('/', end + 1) != std::string::npos) return "";
  return acct + ":" + rest.substr(0, end);
}

bool OpenFgaApi::may(const UserInfo& user, const std::string& store, const std::string& relation, std::string account) {
  if (account.empty())
    engine_.state().scan_tuples_with("store_account", {store}, [&](const engine::FactKey& f) {
      account = engine::parse_tuple_fact(f).second[1];
      return false;
    });
  if (account.empty()) return false;
  bool allowed = false;
  try {
    store_.with_model(store, "", {}, [&](engine::Engine& e, const fga::ModelView& v) {
      allowed = fga::check(e, v, user_object(user.name), relation, account);
    });
  } catch (const FgaError&) {
    return false;
  }
  return allowed;
}

std::optional<HttpResponse> OpenFgaApi::platform_write_refused(const HttpRequest& req, const UserInfo& user, const std::string& store,
                                                               const std::vector<std::string>& path) {
  bool read = req.method == "GET" ||
              (req.method == "POST" && path.size() == 3 && path[2] != "write" && path[2] != "authorization-models");
  if (read) return std::nullopt;
  auto forbidden = [](const std::string& why) { return fga_error(403, "forbidden", why); };
  // The platform keeps the store and its model; users grant roles.
  if (path.size() != 3 || path[2] != "write") return forbidden("an organization's store and model are the platform's");
  json body = parse_json(req.body).value_or(json());
  // The IAM service's grants: `user:X assignee role:<account>/<role>` and
  // `role:<account>/<role>#assignee <role> <account>`; whoever may manage
  // the account's IAM roles may write and delete them.
  const std::string acct = "core_platform-mesh_io_account", role = "role:" + acct + "/";
  for (const char* part : {"writes", "deletes"}) {
    const json* p = member(body, part);
    const json* keys = p ? member(*p, "tuple_keys") : nullptr;
    if (!keys || !keys->is_array()) continue;
    for (const auto& k : *keys) {
      TupleKey t = tuple_key(k);
      // Only the two shapes of a grant: a role's assignee, and a role's
      // assignees holding the relation the role is named after on the
      // role's own account. Parents, binding rights and the like are the
      // platform's.
      std::string account;
      auto is_role = [&](const std::string& r) { return r.compare(0, role.size(), role) == 0; };
      if (t.relation == "assignee" && is_role(t.object)) {
        account = account_of_object(t.object);
      } else if (t.user.size() > 9 && t.user.compare(t.user.size() - 9, 9, "#assignee") == 0) {
        std::string r = t.user.substr(0, t.user.size() - 9);
        std::string of = is_role(r) ? account_of_object(r) : "";
        if (!of.empty() && of == t.object && r.substr(r.rfind('/') + 1) == t.relation) account = of;
      }
      if (account.empty()) return forbidden("only role assignments may be written to an organization's store");
      if (!may(user, store, "manage_iam_roles", account))
        return forbidden("User \"" + user.name + "\" may not manage the IAM roles of " + account);
    }
  }
  return std::nullopt;
}

HttpResponse OpenFgaApi::commit(const std::vector<Op>& ops, HttpResponse answer) {
  engine::Result r = engine_.apply(ops);
  if (!r.ok) return fga_error(r.reason == "InternalError" ? 500 : 400, r.reason == "InternalError" ? "internal_error" : "validation_error", r.message);
  return committed_(r, std::move(answer));
}

std::optional<HttpResponse> OpenFgaApi::handle(const HttpRequest& req, const UserInfo& user) {
  if (req.path != "/stores" && req.path.compare(0, 8, "/stores/") != 0) return std::nullopt;
  try {
    std::vector<std::string> path = split_path(req.path);
    if (path.size() == 1) return stores(req, user);
    std::string id = path[1];
    if (!is_ulid(id)) {
      // An organization's store, by the organization's name.
      std::string named = store_.platform_store_named(id);
      if (!named.empty()) id = path[1] = named;
    }
    std::optional<FgaStore::StoreInfo> s = store_.store(id);
    bool admin = user.privileged();
    // A store the user may not use reads exactly like one that does not exist.
    if (!s || (!admin && s->creator != user.name && !(store_.is_platform(id) && may(user, id, "get_iam_users", ""))))
      return fga_error(404, "store_id_not_found", "Store ID not found");
    if (!admin && store_.is_platform(id)) {
      if (std::optional<HttpResponse> refused = platform_write_refused(req, user, id, path)) return *refused;
    }
    return in_store(req, user, *s, path);
  } catch (const FgaError& e) {
    return from(e);
  }
}

HttpResponse OpenFgaApi::stores(const HttpRequest& req, const UserInfo& user) {
  bool admin = user.privileged();
  std::vector<FgaStore::StoreInfo> mine;
  for (auto& s : store_.stores())
    if (admin || s.creator == user.name) mine.push_back(std::move(s));
  if (req.method == "POST") {
    json body = parse_json(req.body).value_or(json());
    if (!body.is_object()) invalid("the body must be a JSON object");
    std::string name = text(body, "name");
    bool ok = name.size() >= 3 && name.size() <= 64 &&
              std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == ' '; });
    if (!ok) invalid("invalid CreateStoreRequest.Name: value does not match regex pattern \"^[\\\\w\\\\d\\\\s-]{3,64}$\"");
    if (!admin && mine.size() >= kMaxStoresPerUser)
      throw FgaError("exceeded_entity_limit", "The number of stores exceeds the allowed limit of " + std::to_string(kMaxStoresPerUser));
    FgaStore::StoreInfo s{new_ulid(), name, fga_timestamp(), user.name};
    return commit(store_.create_store(s), json_response(201, store_json(s)));
  }
  if (req.method != "GET") return fga_error(404, "undefined_endpoint", "unknown endpoint");
  auto [size, after] = page_of(req);
  std::string name = param(req, "name");
  json out = json::array();
  std::string last;
  bool more = false;
  for (const auto& s : mine) {
    if (!after.empty() && s.id <= after) continue;
    if (!name.empty() && s.name != name) continue;
    if (static_cast<int>(out.size()) == size) {
      more = true;
      break;
    }
    out.push_back(store_json(s));
    last = s.id;
  }
  return json_response(200, json{{"stores", out}, {"continuation_token", more ? token_of(last) : ""}});
}

HttpResponse OpenFgaApi::in_store(const HttpRequest& req, const UserInfo& user, const FgaStore::StoreInfo& s,
                                  const std::vector<std::string>& path) {
  if (path.size() == 2) {
    if (req.method == "GET") return json_response(200, store_json(s));
    if (req.method == "DELETE") {
      HttpResponse r = commit(store_.delete_store(s.id), HttpResponse{204, "application/json", "", {}, nullptr});
      store_.deactivate(s.id);
      return r;
    }
    return fga_error(404, "undefined_endpoint", "unknown endpoint");
  }
  const std::string& op = path[2];
  Sees sees = [](const std::string&) { return true; };
  if (!user.privileged() && store_.is_platform(s.id))
    sees = [this, user, id = s.id, memo = std::make_shared<std::map<std::string, bool>>()](const std::string& object) {
      std::string account = account_of_object(object);
      if (account.empty()) return true;
      auto it = memo->find(account);
      if (it == memo->end()) it = memo->emplace(account, may(user, id, "get_iam_users", account)).first;
      return it->second;
    };
  if (op == "authorization-models") return models(req, s.id, path);
  if (op == "changes" && path.size() == 3 && req.method == "GET") return changes(req, s.id, sees);
  if (op == "assertions" && path.size() == 4) return assertions(req, s.id, path[3]);
  if (path.size() != 3 || req.method != "POST") return fga_error(404, "undefined_endpoint", "unknown endpoint");
  json body = parse_json(req.body).value_or(json());
  if (!body.is_object()) invalid("the body must be a JSON object");
  if (op == "write") return write(s.id, body);
  if (op == "read") return read(s.id, body, sees);
  if (op == "check" || op == "batch-check" || op == "expand" || op == "list-objects" || op == "streamed-list-objects" ||
      op == "list-users")
    return query(op, s.id, body, sees);
  return fga_error(404, "undefined_endpoint", "unknown endpoint");
}

HttpResponse OpenFgaApi::models(const HttpRequest& req, const std::string& store, const std::vector<std::string>& path) {
  if (path.size() == 3 && req.method == "POST") {
    // OpenFGA's default bound on a model (its rules are compiled on the
    // engine's thread).
    if (req.body.size() > kMaxModelBytes)
      invalid("model exceeds size limit: " + std::to_string(req.body.size()) + " bytes vs " + std::to_string(kMaxModelBytes) + " bytes");
    json body = parse_json(req.body).value_or(json());
    fga::Model model = fga::from_json(body);
    std::string id = new_ulid();
    std::vector<Op> ops;
    try {
      ops = store_.write_model(store, id, model);
    } catch (const FgaError& e) {
      throw FgaError(e.code == "validation_error" ? e.code : "invalid_authorization_model", e.what());
    }
    HttpResponse r = commit(ops, json_response(201, json{{"authorization_model_id", id}}));
    if (r.status < 300 || r.later) {
      engine::Result loaded = store_.activate(store);
      if (!loaded.ok) return fga_error(500, "internal_error", "the model was stored but could not be loaded: " + loaded.message);
    }
    return r;
  }
  if (req.method != "GET") return fga_error(404, "undefined_endpoint", "unknown endpoint");
  if (path.size() == 4) {
    std::optional<json> m = store_.model_json(store, path[3]);
    if (!m) throw FgaError("authorization_model_not_found", "Authorization Model '" + path[3] + "' not found");
    return json_response(200, json{{"authorization_model", *m}});
  }
  if (path.size() != 3) return fga_error(404, "undefined_endpoint", "unknown endpoint");
  auto [size, after] = page_of(req);
  json out = json::array();
  std::string last;
  bool more = false;
  for (const auto& id : store_.models(store)) {  // newest first
    if (!after.empty() && id >= after) continue;
    if (static_cast<int>(out.size()) == size) {
      more = true;
      break;
    }
    out.push_back(*store_.model_json(store, id));
    last = id;
  }
  return json_response(200, json{{"authorization_models", out}, {"continuation_token", more ? token_of(last) : ""}});
}

HttpResponse OpenFgaApi::write(const std::string& store, const json& body) {
  auto keys = [&](const char* part, std::string* policy) {
    std::vector<TupleKey> out;
    const json* p = member(body, part);
    if (!p) return out;
    *policy = text(*p, part == std::string("writes") ? "on_duplicate" : "on_missing");
    const json* k = member(*p, "tuple_keys");
    if (!k || !k->is_array()) invalid(std::string(part) + ".tuple_keys must be a list");
    for (const auto& t : *k) out.push_back(tuple_key(t));
    return out;
  };
  std::string on_duplicate, on_missing;
  std::vector<TupleKey> writes = keys("writes", &on_duplicate), deletes = keys("deletes", &on_missing);
  if (writes.empty() && deletes.empty())
    throw FgaError("invalid_write_input", "Invalid input. Make sure you provide at least one write, or at least one delete");
  if (writes.size() + deletes.size() > kMaxTuplesPerWrite)
    throw FgaError("exceeded_entity_limit", "The number of write operations exceeds the allowed limit of " + std::to_string(kMaxTuplesPerWrite));
  for (const auto& p : {on_duplicate, on_missing})
    if (!p.empty() && p != "error" && p != "ignore") invalid("on_duplicate and on_missing are \"error\" or \"ignore\"");
  auto m = store_.model(store, text(body, "authorization_model_id"));
  std::set<std::vector<std::string>> seen;
  std::string at = fga_timestamp();
  std::vector<Op> ops;
  auto written = [&](const TupleKey& k) {
    const engine::TupleEntry* t = engine_.state().tuple(engine::tuple_fact("fga_tuple", std::vector<std::string>{store, k.object, k.relation, k.user}));
    return t && t->base();
  };
  auto tuple_text = [](const TupleKey& k) {
    return "user: '" + k.user + "', relation: '" + k.relation + "', object: '" + k.object + "'";
  };
  auto change = [&](const char* op, const TupleKey& k) {
    ops.push_back(Op::add_tuple("fga_change", {store, new_ulid(), op, k.object, k.relation, k.user, at}));
  };
  for (const auto* list : {&writes, &deletes})
    for (const auto& k : *list) {
      if (!seen.insert(k.as_args()).second)
        throw FgaError("cannot_allow_duplicate_tuples_in_one_request", "duplicate tuple in write: " + tuple_text(k));
      if (list == &writes) {
        fga::validate_tuple(m->model, k.user, k.relation, k.object);
        if (written(k)) {
          if (on_duplicate == "ignore") continue;
          throw FgaError("write_failed_due_to_invalid_input", "cannot write a tuple which already exists: " + tuple_text(k) +
                                                                   ": tuple to be written already existed or the tuple to be deleted did not exist");
        }
        ops.push_back(Op::add_tuple("fga_tuple", std::vector<std::string>{store, k.object, k.relation, k.user}));
        ops.push_back(Op::add_tuple("fga_written", {store, k.object, k.relation, k.user, at}));
        change("TUPLE_OPERATION_WRITE", k);
      } else {
        if (!written(k)) {
          if (on_missing == "ignore") continue;
          throw FgaError("write_failed_due_to_invalid_input", "cannot delete a tuple which does not exist: " + tuple_text(k) +
                                                                   ": tuple to be written already existed or the tuple to be deleted did not exist");
        }
        ops.push_back(Op::remove_tuple("fga_tuple", std::vector<std::string>{store, k.object, k.relation, k.user}));
        engine_.state().scan_tuples_with("fga_written", {store, k.object, k.relation, k.user}, [&](const engine::FactKey& f) {
          ops.push_back(Op::remove_tuple("fga_written", engine::parse_tuple_fact(f).second));
          return true;
        });
        change("TUPLE_OPERATION_DELETE", k);
      }
    }
  if (ops.empty()) return json_response(200, json::object());
  return commit(ops, json_response(200, json::object()));
}

HttpResponse OpenFgaApi::read(const std::string& store, const json& body, const Sees& sees) {
  TupleKey k = member(body, "tuple_key") ? tuple_key(body["tuple_key"]) : TupleKey{};
  if ((!k.user.empty() || !k.relation.empty()) && k.object.empty())
    invalid("the 'tuple_key.object' field is required when 'user' or 'relation' is set");
  // "type:" reads every object of a type.
  std::string type_only = !k.object.empty() && k.object.back() == ':' ? k.object : "";
  if (!type_only.empty() && k.user.empty()) invalid("the 'tuple_key.user' field is required when the object has no id");
  int size = page_size(member(body, "page_size"));
  std::string after = text(body, "continuation_token");
  if (!after.empty()) after = key_of_token(after);
  std::vector<std::string> range = {store};
  if (!k.object.empty() && type_only.empty()) range.push_back(k.object);
  json tuples = json::array();
  std::string last;
  bool more = false;
  engine_.state().scan_tuples_with("fga_tuple", range, [&](const engine::FactKey& f) {
    if (!after.empty() && f.str() <= after) return true;
    const engine::TupleEntry* t = engine_.state().tuple(f);
    auto a = engine::parse_tuple_fact(f).second;
    if (!t || !t->exists() || a.size() != 4) return true;
    if ((!type_only.empty() && a[1].compare(0, type_only.size(), type_only) != 0) || (!k.relation.empty() && a[2] != k.relation) ||
        (!k.user.empty() && a[3] != k.user) || !sees(a[1]))
      return true;
    if (static_cast<int>(tuples.size()) == size) {
      more = true;
      return false;
    }
    std::string at;
    engine_.state().scan_tuples_with("fga_written", {store, a[1], a[2], a[3]}, [&](const engine::FactKey& w) {
      at = engine::parse_tuple_fact(w).second.back();
      return false;
    });
    tuples.push_back({{"key", TupleKey{a[3], a[2], a[1]}.to_json()}, {"timestamp", at}});
    last = f;
    return true;
  });
  return json_response(200, json{{"tuples", tuples}, {"continuation_token", more ? token_of(last) : ""}});
}

HttpResponse OpenFgaApi::changes(const HttpRequest& req, const std::string& store, const Sees& sees) {
  auto [size, after] = page_of(req);
  std::string type = param(req, "type"), start = param(req, "start_time");
  json out = json::array();
  std::string last = after;
  // A log relation: read from the data directory, from the token's id on.
  engine_.scan_log("fga_change", {store}, after, [&](std::string_view f) {
    auto a = engine::parse_tuple_fact(f).second;  // store, id, operation, object, rel, user, at
    if (a.size() != 7 || (!after.empty() && a[1] <= after)) return true;
    if (static_cast<int>(out.size()) == size) return false;
    last = a[1];
    if ((!type.empty() && a[3].compare(0, type.size() + 1, type + ":") != 0) || (!start.empty() && a[6] < start) || !sees(a[3]))
      return true;
    out.push_back({{"tuple_key", TupleKey{a[5], a[4], a[3]}.to_json()}, {"operation", a[2]}, {"timestamp", a[6]}});
    return true;
  });
  return json_response(200, json{{"changes", out}, {"continuation_token", last.empty() ? "" : token_of(last)}});
}

HttpResponse OpenFgaApi::query(const std::string& op, const std::string& store, const json& body, const Sees& sees) {
  auto hidden = [&](const std::string& object) {
    return FgaError("forbidden", "the relations of " + object + " are not the reader's to see");
  };
  std::string model = text(body, "authorization_model_id");
  if (member(body, "context")) invalid("context is not supported: pmesh evaluates no CEL");
  if (op == "batch-check") {
    const json* checks = member(body, "checks");
    if (!checks || !checks->is_array() || checks->empty() || checks->size() > kMaxChecksPerBatch)
      invalid("checks must hold 1 to " + std::to_string(kMaxChecksPerBatch) + " checks");
    json result = json::object();
    for (const auto& c : *checks) {
      std::string id = text(c, "correlation_id");
      if (id.empty() || result.contains(id)) invalid("each check needs a correlation_id of its own");
      try {
        TupleKey k = tuple_key(member(c, "tuple_key") ? c["tuple_key"] : json());
        if (!sees(k.object)) throw hidden(k.object);
        bool allowed = false;
        store_.with_model(store, model, contextual(c), [&](engine::Engine& e, const fga::ModelView& v) {
          allowed = fga::check(e, v, k.user, k.relation, k.object);
        });
        result[id] = {{"allowed", allowed}};
      } catch (const FgaError& e) {
        result[id] = {{"error", {{"input_error", e.code}, {"message", e.what()}}}};
      }
    }
    return json_response(200, json{{"result", result}});
  }
  json out;
  std::string ndjson;
  auto ctx = contextual(body);
  store_.with_model(store, model, ctx, [&](engine::Engine& e, const fga::ModelView& v) {
    if (op == "check") {
      TupleKey k = tuple_key(member(body, "tuple_key") ? body["tuple_key"] : json());
      if (!sees(k.object)) throw hidden(k.object);
      out = {{"allowed", fga::check(e, v, k.user, k.relation, k.object)}, {"resolution", ""}};
    } else if (op == "expand") {
      TupleKey k = tuple_key(member(body, "tuple_key") ? body["tuple_key"] : json());
      if (k.object.empty() || k.relation.empty())
        throw FgaError("invalid_expand_input", "Invalid input. Make sure you provide an object and a relation");
      if (!sees(k.object)) throw hidden(k.object);
      out = {{"tree", fga::expand(e, v, k.object, k.relation)}};
    } else if (op == "list-objects" || op == "streamed-list-objects") {
      auto objects = fga::list_objects(e, v, text(body, "type"), text(body, "relation"), text(body, "user"));
      objects.erase(std::remove_if(objects.begin(), objects.end(), [&](const std::string& o) { return !sees(o); }), objects.end());
      if (objects.size() > kMaxListResults) objects.resize(kMaxListResults);
      out = {{"objects", objects}};
      for (const auto& o : objects) ndjson += json{{"result", {{"object", o}}}}.dump() + "\n";
    } else {  // list-users
      const json* obj = member(body, "object");
      if (!obj || !obj->is_object()) invalid("object must be {type, id}");
      std::vector<fga::UserFilter> filters;
      if (const json* f = member(body, "user_filters"); f && f->is_array())
        for (const auto& x : *f) filters.push_back({text(x, "type"), text(x, "relation")});
      if (!sees(text(*obj, "type") + ":" + text(*obj, "id"))) throw hidden(text(*obj, "type") + ":" + text(*obj, "id"));
      json users = fga::list_users(e, v, text(*obj, "type") + ":" + text(*obj, "id"), text(body, "relation"), filters);
      if (users.size() > kMaxListResults) users.erase(users.begin() + kMaxListResults, users.end());
      out = {{"users", users}};
    }
  });
  if (op == "streamed-list-objects") return HttpResponse{200, "application/json", ndjson, {}, nullptr};
  return json_response(200, out);
}

HttpResponse OpenFgaApi::assertions(const HttpRequest& req, const std::string& store, const std::string& model) {
  if (!store_.model_json(store, model)) throw FgaError("authorization_model_not_found", "Authorization Model '" + model + "' not found");
  std::vector<Op> ops;
  engine_.state().scan_tuples_with("fga_assertions", {store, model}, [&](const engine::FactKey& f) {
    ops.push_back(Op::remove_tuple("fga_assertions", engine::parse_tuple_fact(f).second));
    return true;
  });
  if (req.method == "GET") {
    json list = json::array();
    for (const auto& op : ops) list = json::parse(op.args[2]);
    return json_response(200, json{{"authorization_model_id", model}, {"assertions", list}});
  }
  if (req.method != "PUT") return fga_error(404, "undefined_endpoint", "unknown endpoint");
  json body = parse_json(req.body).value_or(json());
  const json* list = member(body, "assertions");
  if (!list || !list->is_array()) invalid("assertions must be a list");
  if (list->size() > kMaxAssertions)
    throw FgaError("assertions_too_many_items", "at most " + std::to_string(kMaxAssertions) + " assertions");
  auto m = store_.model(store, model);
  json kept = json::array();
  for (const auto& a : *list) {
    TupleKey k = tuple_key(member(a, "tuple_key") ? a["tuple_key"] : json());
    const json* want = member(a, "expectation");
    if (!want || !want->is_boolean()) invalid("each assertion needs a boolean expectation");
    fga::validate_question(m->model, k.user, k.relation, k.object);
    json entry = {{"tuple_key", k.to_json()}, {"expectation", *want}};
    if (member(a, "contextual_tuples")) {
      json ctx = json::array();
      for (const auto& t : contextual(a)) ctx.push_back(TupleKey{t[2], t[1], t[0]}.to_json());
      entry["contextual_tuples"] = ctx;
    }
    kept.push_back(entry);
  }
  ops.push_back(Op::add_tuple("fga_assertions", {store, model, kept.dump()}));
  return commit(ops, HttpResponse{204, "application/json", "", {}, nullptr});
}

}  // namespace pmesh::server
